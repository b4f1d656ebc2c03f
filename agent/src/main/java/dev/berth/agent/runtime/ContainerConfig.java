package dev.berth.agent.runtime;

import dev.berth.agent.image.Healthcheck;
import dev.berth.agent.runtime.net.PortMapping;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * Everything decided about a container when it was created, after the image's config was
 * applied. Immutable; persisted in the container's directory.
 *
 * @param healthcheck the user's health check laid over the image's ({@link Healthcheck#over});
 *     null when neither has one, and in state files older than health checks
 */
public record ContainerConfig(
    String id,
    String name,
    String image,
    String imageId,
    List<String> lowerDirs,
    List<String> args,
    List<String> env,
    String workingDir,
    String user,
    String hostname,
    long memoryBytes,
    long cpuQuotaMicros,
    long cpuPeriodMicros,
    long pidsLimit,
    boolean seccomp,
    boolean noNewPrivileges,
    int stopSignal,
    int stopTimeoutSeconds,
    long logMaxSize,
    int logMaxFiles,
    Instant created,
    CreateRequest request,
    Map<String, String> labels,
    List<MountSpec> mounts,
    String networkId,
    String network,
    List<PortMapping> ports,
    Healthcheck healthcheck) {

  public ContainerConfig {
    lowerDirs = List.copyOf(lowerDirs);
    args = List.copyOf(args);
    env = List.copyOf(env);
    // The image's labels under the user's, as Docker merges them; absent in older state files.
    labels = labels == null ? Map.copyOf(request.labels()) : Map.copyOf(labels);
    // As resolved at create: anonymous volumes carry their generated names.
    mounts = mounts == null ? List.of() : List.copyOf(mounts);
    // The network as resolved at create (none in older state files, which only knew none and host)
    // and the published ports with their host ports chosen.
    network = network == null || network.isBlank() ? request.networkMode().isBlank() ? "none" : request.networkMode()
        : network;
    networkId = networkId == null ? "" : networkId;
    ports = ports == null ? List.of() : List.copyOf(ports);
  }

  public List<Path> lowerPaths() {
    return lowerDirs.stream().map(Path::of).toList();
  }
}
