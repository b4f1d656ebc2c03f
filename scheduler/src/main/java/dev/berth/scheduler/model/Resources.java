package dev.berth.scheduler.model;

/**
 * An amount of the three resources the scheduler reasons about: CPU in millicores (1000 = one
 * core), memory in bytes, and a number of processes (the pids cgroup limit). Used both for what
 * a node has and for what an allocation asks for. All three are non-negative.
 */
public record Resources(long cpuMillis, long memoryBytes, long pids) {

  public static final Resources ZERO = new Resources(0, 0, 0);

  public Resources {
    if (cpuMillis < 0 || memoryBytes < 0 || pids < 0) {
      throw new IllegalArgumentException(
          "resources must not be negative: cpu " + cpuMillis + "m, memory " + memoryBytes
              + ", pids " + pids);
    }
  }

  public Resources plus(Resources other) {
    return new Resources(cpuMillis + other.cpuMillis, memoryBytes + other.memoryBytes,
        pids + other.pids);
  }

  /** The difference, floored at zero in each dimension (free capacity is never negative). */
  public Resources minusFloored(Resources other) {
    return new Resources(Math.max(0, cpuMillis - other.cpuMillis),
        Math.max(0, memoryBytes - other.memoryBytes), Math.max(0, pids - other.pids));
  }

  /** Whether {@code request} fits in this amount in every dimension. */
  public boolean fits(Resources request) {
    return request.cpuMillis <= cpuMillis && request.memoryBytes <= memoryBytes
        && request.pids <= pids;
  }

  /** "512 MiB", "1.5 GiB", "200 B": memory for humans, as explanations show it. */
  public static String formatBytes(long bytes) {
    if (bytes < 1024) {
      return bytes + " B";
    }
    String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = bytes;
    int u = -1;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return (v == Math.rint(v) ? String.valueOf((long) v) : String.format("%.1f", v)) + " "
        + units[u];
  }

  /** "500m" or "2" cores: CPU for humans. */
  public static String formatCpu(long millis) {
    return millis % 1000 == 0 ? (millis / 1000) + " cores" : millis + "m";
  }

  @Override
  public String toString() {
    return "cpu " + formatCpu(cpuMillis) + ", memory " + formatBytes(memoryBytes) + ", pids "
        + pids;
  }
}
