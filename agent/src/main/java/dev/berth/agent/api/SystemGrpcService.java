package dev.berth.agent.api;

import dev.berth.agent.BerthException;
import dev.berth.agent.image.ImageStore;
import dev.berth.agent.metrics.ContainerSample;
import dev.berth.agent.metrics.ContainerSampler;
import dev.berth.agent.metrics.DiskUsage;
import dev.berth.agent.metrics.ProcessTable;
import dev.berth.agent.metrics.RuntimeTargets;
import dev.berth.agent.runtime.ContainerRuntime;
import dev.berth.agent.runtime.ContainerView;
import dev.berth.agent.runtime.VolumeStore;
import dev.berth.agent.runtime.cgroup.Cgroups;
import dev.berth.proto.v1.ContainerProcess;
import dev.berth.proto.v1.ContainerStats;
import dev.berth.proto.v1.ContainerStatsRequest;
import dev.berth.proto.v1.ContainerStatsResponse;
import dev.berth.proto.v1.ContainerTopRequest;
import dev.berth.proto.v1.ContainerTopResponse;
import dev.berth.proto.v1.DiskUsageCategory;
import dev.berth.proto.v1.DiskUsageRequest;
import dev.berth.proto.v1.DiskUsageResponse;
import dev.berth.proto.v1.InfoRequest;
import dev.berth.proto.v1.InfoResponse;
import dev.berth.proto.v1.SystemServiceGrpc;
import io.grpc.stub.StreamObserver;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Facts about this agent, as `berth info` shows them, and the live views: stats, top, df. */
public final class SystemGrpcService extends SystemServiceGrpc.SystemServiceImplBase {
  private final ContainerRuntime runtime;
  private final ImageStore images;
  private final Cgroups cgroups;
  private final String version;
  private final String nodeName;
  private final Path dataDir;
  private final String prefix;
  private final VolumeStore volumes;
  private final ContainerSampler sampler;
  private final ProcessTable processes;
  private final ContainerForwarder forwarder;

  /** Info only: the live views answer FAILED_PRECONDITION (for callers without volumes or /proc). */
  public SystemGrpcService(ContainerRuntime runtime, ImageStore images, Cgroups cgroups, String version,
      String nodeName, Path dataDir, String prefix) {
    this(runtime, images, cgroups, version, nodeName, dataDir, prefix, null, null, null);
  }

  public SystemGrpcService(ContainerRuntime runtime, ImageStore images, Cgroups cgroups, String version,
      String nodeName, Path dataDir, String prefix, VolumeStore volumes, ContainerSampler sampler, ProcessTable processes) {
    this(runtime, images, cgroups, version, nodeName, dataDir, prefix, volumes, sampler, processes, null);
  }

  private SystemGrpcService(ContainerRuntime runtime, ImageStore images, Cgroups cgroups, String version,
      String nodeName, Path dataDir, String prefix, VolumeStore volumes, ContainerSampler sampler, ProcessTable processes,
      ContainerForwarder forwarder) {
    this.runtime = runtime;
    this.images = images;
    this.cgroups = cgroups;
    this.version = version;
    this.nodeName = nodeName;
    this.dataDir = dataDir;
    this.prefix = prefix;
    this.volumes = volumes;
    this.sampler = sampler;
    this.processes = processes;
    this.forwarder = forwarder;
  }

  /**
   * This service, with stats and top of a container of another node sent to that node's agent.
   * Serve it with the {@link ForwardedCallInterceptor}.
   */
  public SystemGrpcService forwarding(ContainerForwarder f) {
    return new SystemGrpcService(runtime, images, cgroups, version, nodeName, dataDir, prefix, volumes, sampler, processes, f);
  }

  /** The live views as the agent wires them: /proc and the host's /etc/passwd. */
  public static SystemGrpcService withLiveViews(ContainerRuntime runtime, ImageStore images, Cgroups cgroups,
      String version, String nodeName, Path dataDir, String prefix, VolumeStore volumes) {
    return new SystemGrpcService(runtime, images, cgroups, version, nodeName, dataDir, prefix, volumes,
        new ContainerSampler(cgroups, Path.of("/proc"), Clock.systemUTC()),
        new ProcessTable(Path.of("/proc"), Path.of("/etc/passwd")));
  }

  private static long hostMemory() {
    return ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
        ? os.getTotalMemorySize() : 0;
  }

  @Override
  public void info(InfoRequest req, StreamObserver<InfoResponse> out) {
    out.onNext(InfoResponse.newBuilder()
        .setVersion(version).setNodeName(nodeName).setDataDir(dataDir.toString())
        .setCgroupVersion(cgroups.version()).setContainers(runtime.count()).setContainersRunning(runtime.running())
        .setImages(images.list().size()).setKernelVersion(System.getProperty("os.version"))
        .setCpus(Runtime.getRuntime().availableProcessors()).setMemoryBytes(hostMemory()).setPrefix(prefix)
        .build());
    out.onCompleted();
  }

  @Override
  public void containerStats(ContainerStatsRequest req, StreamObserver<ContainerStatsResponse> out) {
    Optional<ContainerForwarder.Remote> to = statsElsewhere(req.getIdsList());
    if (to.isPresent()) {
      forwarder.system(to.get()).containerStats(req, forwarder.relay(to.get(), out));
      return;
    }
    requireLiveViews();
    List<ContainerView> views;
    if (req.getIdsCount() == 0) {
      views = runtime.list(req.getAll());
    } else {
      // Each named once, in the order named, even when two refs name the same container.
      Map<String, ContainerView> named = new LinkedHashMap<>();
      for (String ref : req.getIdsList()) {
        ContainerView v = runtime.inspect(ref);
        named.putIfAbsent(v.id(), v);
      }
      views = new ArrayList<>(named.values());
    }
    ContainerStatsResponse.Builder b = ContainerStatsResponse.newBuilder()
        .setHostCpus(Runtime.getRuntime().availableProcessors()).setHostMemoryBytes(hostMemory());
    for (ContainerView v : views) {
      ContainerSample s = sampler.sample(RuntimeTargets.of(v));
      var c = s.cgroup();
      b.addStats(ContainerStats.newBuilder().setId(v.id()).setName(v.config().name()).setRunning(v.state().running())
          .setReadUnixNanos(s.readAtNanos()).setCpuUsageNanos(c.cpuUsageNanos())
          .setMemoryUsageBytes(c.memoryUsageBytes()).setMemoryWorkingSetBytes(c.memoryWorkingSetBytes())
          .setMemoryLimitBytes(c.memoryLimitBytes()).setPids(c.pids()).setPidsLimit(c.pidsLimit())
          .setNetRxBytes(s.rxBytes()).setNetTxBytes(s.txBytes()).setOomKills(c.oomKills()).setProcesses(c.processes()));
    }
    out.onNext(b.build());
    out.onCompleted();
  }

  @Override
  public void containerTop(ContainerTopRequest req, StreamObserver<ContainerTopResponse> out) {
    Optional<ContainerForwarder.Remote> to = forwarder == null ? Optional.empty() : forwarder.ownerElsewhere(runtime, req.getId());
    if (to.isPresent()) {
      forwarder.system(to.get()).containerTop(req, forwarder.relay(to.get(), out));
      return;
    }
    requireLiveViews();
    ContainerView v = runtime.inspect(req.getId());
    if (!v.state().running()) {
      throw BerthException.failedPrecondition("Container " + v.config().name() + " is not running");
    }
    ContainerTopResponse.Builder b = ContainerTopResponse.newBuilder().setId(v.id());
    for (ProcessTable.Process p : processes.read(cgroups.pids(v.cgroupPath()))) {
      b.addProcesses(ContainerProcess.newBuilder().setPid(p.pid()).setPpid(p.ppid()).setUid(p.uid()).setUser(p.user())
          .setCpuMillis(p.cpuMillis()).setStartedUnixSeconds(p.startedUnixSeconds()).setState(p.state())
          .setCommand(p.command()));
    }
    out.onNext(b.build());
    out.onCompleted();
  }

  @Override
  public void diskUsage(DiskUsageRequest req, StreamObserver<DiskUsageResponse> out) {
    requireLiveViews();
    DiskUsageResponse.Builder b = DiskUsageResponse.newBuilder();
    for (DiskUsage.Category c : DiskUsage.of(images, runtime, volumes)) {
      b.addCategories(DiskUsageCategory.newBuilder().setType(c.type()).setTotal(c.total()).setActive(c.active())
          .setSizeBytes(c.sizeBytes()).setReclaimableBytes(c.reclaimableBytes()));
    }
    out.onNext(b.build());
    out.onCompleted();
  }

  /**
   * The node to send a stats request to: the one node every container named lives on, when that
   * is not this one. Empty when they are all here, or when one is nowhere (this node's answer
   * then names it). Containers of several nodes in one request are refused, naming where each
   * is: one answer has one host's cpus and memory.
   */
  private Optional<ContainerForwarder.Remote> statsElsewhere(List<String> refs) {
    if (forwarder == null || refs.isEmpty()) {
      return Optional.empty();
    }
    Map<String, String> where = new LinkedHashMap<>();
    ContainerForwarder.Remote one = null;
    for (String ref : refs) {
      if (ContainerForwarder.isHere(runtime, ref)) {
        where.put(ref, nodeName + " (this node)");
        continue;
      }
      Optional<ContainerForwarder.Remote> r = forwarder.locate(ref);
      if (r.isEmpty()) {
        return Optional.empty();
      }
      where.put(ref, r.get().node());
      one = r.get();
    }
    if (one == null) {
      return Optional.empty();
    }
    if (new java.util.HashSet<>(where.values()).size() > 1) {
      StringBuilder b = new StringBuilder();
      where.forEach((ref, n) -> b.append(b.length() == 0 ? "" : ", ").append(ref).append(" on node ").append(n));
      throw BerthException.failedPrecondition("the containers are on different nodes (" + b
          + "); ask for the statistics of each node's containers separately");
    }
    return Optional.of(one);
  }

  private void requireLiveViews() {
    if (sampler == null) {
      throw BerthException.failedPrecondition("this agent serves no container statistics");
    }
  }
}
