package dev.berth.agent.api;

import dev.berth.agent.image.ImageStore;
import dev.berth.agent.runtime.ContainerRuntime;
import dev.berth.agent.runtime.cgroup.Cgroups;
import dev.berth.proto.v1.InfoRequest;
import dev.berth.proto.v1.InfoResponse;
import dev.berth.proto.v1.SystemServiceGrpc;
import io.grpc.stub.StreamObserver;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;

/** Facts about this agent, as `berth info` shows them. */
public final class SystemGrpcService extends SystemServiceGrpc.SystemServiceImplBase {
  private final ContainerRuntime runtime;
  private final ImageStore images;
  private final Cgroups cgroups;
  private final String version;
  private final String nodeName;
  private final Path dataDir;
  private final String prefix;

  public SystemGrpcService(ContainerRuntime runtime, ImageStore images, Cgroups cgroups, String version,
      String nodeName, Path dataDir, String prefix) {
    this.runtime = runtime;
    this.images = images;
    this.cgroups = cgroups;
    this.version = version;
    this.nodeName = nodeName;
    this.dataDir = dataDir;
    this.prefix = prefix;
  }

  @Override
  public void info(InfoRequest req, StreamObserver<InfoResponse> out) {
    long memory = ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
        ? os.getTotalMemorySize() : 0;
    out.onNext(InfoResponse.newBuilder()
        .setVersion(version).setNodeName(nodeName).setDataDir(dataDir.toString())
        .setCgroupVersion(cgroups.version()).setContainers(runtime.count()).setContainersRunning(runtime.running())
        .setImages(images.list().size()).setKernelVersion(System.getProperty("os.version"))
        .setCpus(Runtime.getRuntime().availableProcessors()).setMemoryBytes(memory).setPrefix(prefix)
        .build());
    out.onCompleted();
  }
}
