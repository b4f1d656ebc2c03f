package dev.berth.agent.image;

import java.util.List;
import java.util.Map;

/**
 * The part of an OCI image config that a container starts from. Nulls become empty: an
 * empty list, map or string means "not set by the image".
 *
 * @param env KEY=VALUE entries
 * @param exposedPorts e.g. {@code 80/tcp}
 * @param volumes container paths
 * @param healthcheck the image's health check; null when it has none
 */
public record ImageConfig(
    List<String> entrypoint,
    List<String> cmd,
    List<String> env,
    String workingDir,
    String user,
    Map<String, String> labels,
    String stopSignal,
    List<String> exposedPorts,
    List<String> volumes,
    Healthcheck healthcheck) {
  /** Nothing set. */
  public static final ImageConfig EMPTY = new ImageConfig(null, null, null, null, null, null, null, null, null);

  /** A config without a health check. */
  public ImageConfig(List<String> entrypoint, List<String> cmd, List<String> env, String workingDir, String user,
      Map<String, String> labels, String stopSignal, List<String> exposedPorts, List<String> volumes) {
    this(entrypoint, cmd, env, workingDir, user, labels, stopSignal, exposedPorts, volumes, null);
  }

  public ImageConfig {
    entrypoint = entrypoint == null ? List.of() : List.copyOf(entrypoint);
    cmd = cmd == null ? List.of() : List.copyOf(cmd);
    env = env == null ? List.of() : List.copyOf(env);
    workingDir = workingDir == null ? "" : workingDir;
    user = user == null ? "" : user;
    labels = labels == null ? Map.of() : Map.copyOf(labels);
    stopSignal = stopSignal == null ? "" : stopSignal;
    exposedPorts = exposedPorts == null ? List.of() : List.copyOf(exposedPorts);
    volumes = volumes == null ? List.of() : List.copyOf(volumes);
  }
}
