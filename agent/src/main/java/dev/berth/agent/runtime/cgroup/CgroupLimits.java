package dev.berth.agent.runtime.cgroup;

import dev.berth.agent.BerthException;

/**
 * The limits of one cgroup. For each value, 0 means unlimited; for {@code cpuPeriodMicros}, 0
 * means the kernel's default period (100 ms). Only negative values are rejected here; whether
 * a value is in range is for the kernel to decide when it is written (see {@link Cgroups#create}).
 *
 * @param memoryBytes memory limit, swap included (no swap beyond it)
 * @param cpuQuotaMicros CPU time the cgroup may use per period
 * @param cpuPeriodMicros the CFS period
 * @param pidsMax most tasks (processes and threads) at once
 */
public record CgroupLimits(long memoryBytes, long cpuQuotaMicros, long cpuPeriodMicros, long pidsMax) {
  /** No limit at all. */
  public static final CgroupLimits NONE = new CgroupLimits(0, 0, 0, 0);

  /** The CFS period the kernel uses by default, in microseconds. */
  public static final long DEFAULT_CPU_PERIOD_MICROS = 100_000;

  public CgroupLimits {
    if (memoryBytes < 0 || cpuQuotaMicros < 0 || cpuPeriodMicros < 0 || pidsMax < 0) {
      throw BerthException.invalid("cgroup limits cannot be negative: memory " + memoryBytes + ", cpu quota " + cpuQuotaMicros
          + ", cpu period " + cpuPeriodMicros + ", pids " + pidsMax);
    }
  }

  /** The period to write: the given one, or the kernel's default. */
  public long effectiveCpuPeriodMicros() {
    return cpuPeriodMicros == 0 ? DEFAULT_CPU_PERIOD_MICROS : cpuPeriodMicros;
  }
}
