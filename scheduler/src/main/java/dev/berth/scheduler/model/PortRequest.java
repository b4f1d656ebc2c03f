package dev.berth.scheduler.model;

import java.util.Objects;

/**
 * A port a task group wants on its host.
 *
 * @param label  its name within the group ("http"), unique there
 * @param fixed  a fixed host port (1..65535): at most one replica per host can have it; 0 for a
 *               dynamic port the scheduler picks from the cluster's dynamic range
 * @param to     the container port it maps to; 0 means the same as the host port
 */
public record PortRequest(String label, int fixed, int to) {

  public PortRequest {
    Objects.requireNonNull(label, "label");
    if (fixed < 0 || fixed > 65535) {
      throw new IllegalArgumentException("port " + fixed + " out of range (1..65535)");
    }
    if (to < 0 || to > 65535) {
      throw new IllegalArgumentException("port " + to + " out of range (1..65535)");
    }
  }

  public boolean dynamic() {
    return fixed == 0;
  }
}
