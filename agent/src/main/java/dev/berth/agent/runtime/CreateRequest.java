package dev.berth.agent.runtime;

import dev.berth.agent.image.Healthcheck;
import dev.berth.agent.runtime.net.PortMapping;
import java.util.List;
import java.util.Map;

/**
 * What a user asks for when creating a container; the image's config fills what is left empty.
 *
 * @param restartPolicy no, on-failure, always or unless-stopped (checked by {@code task.RestartPolicy}); empty: no
 * @param restartMaxRetries on-failure's limit; 0: none
 * @param healthcheck the user's health check, laid over the image's; null: the image's
 */
public record CreateRequest(
    String image,
    String name,
    List<String> entrypoint,
    boolean entrypointSet,
    List<String> cmd,
    List<String> env,
    String workingDir,
    String user,
    String hostname,
    String memory,
    String cpus,
    long pidsLimit,
    boolean tty,
    boolean openStdin,
    boolean autoRemove,
    List<String> securityOpt,
    Map<String, String> labels,
    String logMaxSize,
    int logMaxFile,
    String stopSignal,
    int stopTimeout,
    List<MountSpec> mounts,
    String networkMode,
    List<PortMapping> ports,
    boolean publishAll,
    List<String> networkAliases,
    String restartPolicy,
    int restartMaxRetries,
    Healthcheck healthcheck) {

  public CreateRequest {
    mounts = mounts == null ? List.of() : List.copyOf(mounts);
    networkMode = networkMode == null ? "" : networkMode;
    // Absent in the state files of containers created before ports existed.
    ports = ports == null ? List.of() : List.copyOf(ports);
    networkAliases = networkAliases == null ? List.of() : List.copyOf(networkAliases);
    // Absent in the state files of containers created before restart policies.
    restartPolicy = restartPolicy == null ? "" : restartPolicy;
    entrypoint = List.copyOf(entrypoint);
    cmd = List.copyOf(cmd);
    env = List.copyOf(env);
    securityOpt = List.copyOf(securityOpt);
    labels = Map.copyOf(labels);
  }

  /** A request for {@code image} running {@code cmd}, everything else defaulted. */
  public static CreateRequest of(String image, List<String> cmd) {
    return new CreateRequest(image, "", List.of(), false, cmd, List.of(), "", "", "", "", "", 0, false, false,
        false, List.of(), Map.of(), "", 0, "", 0, List.of(), "", List.of(), false, List.of(), "", 0, null);
  }
}
