package dev.berth.agent.image;

import java.util.List;

/**
 * What {@code docker import} is told besides the tar: the name to tag the image with and the
 * config it gets. Nulls become empty; an empty list or string means "not set".
 *
 * @param reference name[:tag] for the image, or empty for an untagged image
 * @param env KEY=VALUE entries
 */
public record ImportRequest(
    String reference, List<String> cmd, List<String> entrypoint, List<String> env, String workingDir, String user,
    List<String> exposedPorts) {
  public ImportRequest {
    reference = reference == null ? "" : reference;
    cmd = cmd == null ? List.of() : List.copyOf(cmd);
    entrypoint = entrypoint == null ? List.of() : List.copyOf(entrypoint);
    env = env == null ? List.of() : List.copyOf(env);
    workingDir = workingDir == null ? "" : workingDir;
    user = user == null ? "" : user;
    exposedPorts = exposedPorts == null ? List.of() : List.copyOf(exposedPorts);
  }

  /** An import tagged {@code reference}, with an empty config. */
  public static ImportRequest of(String reference) {
    return new ImportRequest(reference, null, null, null, null, null, null);
  }
}
