package dev.berth.agent.runtime.cgroup;

/**
 * A snapshot of one cgroup's usage, as {@link Cgroups#stats} reads it. Values the kernel does
 * not provide (a controller not enabled, a file of a newer kernel) are 0.
 *
 * @param memoryUsageBytes memory currently charged (page cache included)
 * @param memoryLimitBytes the memory limit; 0 = unlimited
 * @param memoryMaxUsageBytes the peak of memory usage (v1 max_usage_in_bytes, v2 memory.peak)
 * @param oomKills processes the OOM killer killed in it
 * @param cpuUsageNanos CPU time consumed
 * @param cpuPeriods CFS periods elapsed while it had runnable tasks
 * @param cpuThrottledPeriods periods in which it was throttled
 * @param cpuThrottledNanos total time it was throttled
 * @param pids tasks in it now (processes and threads)
 * @param pidsLimit the pids limit; 0 = unlimited
 * @param memoryCacheBytes page cache charged to it (v1 memory.stat total_cache, v2 file)
 * @param memoryRssBytes anonymous memory (v1 total_rss, v2 anon)
 * @param memoryInactiveFileBytes page cache the kernel may reclaim first (v1 total_inactive_file,
 *     v2 inactive_file): what the working set leaves out
 * @param cpuUserNanos CPU time in user mode (v1 cpuacct.stat, in USER_HZ ticks, so 10 ms steps)
 * @param cpuSystemNanos CPU time in kernel mode
 * @param processes processes in it now (the lines of its cgroup.procs; threads not counted)
 */
public record CgroupStats(long memoryUsageBytes, long memoryLimitBytes, long memoryMaxUsageBytes, long oomKills,
    long cpuUsageNanos, long cpuPeriods, long cpuThrottledPeriods, long cpuThrottledNanos, long pids, long pidsLimit,
    long memoryCacheBytes, long memoryRssBytes, long memoryInactiveFileBytes, long cpuUserNanos, long cpuSystemNanos,
    long processes) {

  /** A snapshot without the memory.stat, cpu split and process figures (all 0). */
  public CgroupStats(long memoryUsageBytes, long memoryLimitBytes, long memoryMaxUsageBytes, long oomKills,
      long cpuUsageNanos, long cpuPeriods, long cpuThrottledPeriods, long cpuThrottledNanos, long pids, long pidsLimit) {
    this(memoryUsageBytes, memoryLimitBytes, memoryMaxUsageBytes, oomKills, cpuUsageNanos, cpuPeriods, cpuThrottledPeriods,
        cpuThrottledNanos, pids, pidsLimit, 0, 0, 0, 0, 0, 0);
  }

  /** This reading with the figures that {@link Cgroups#stats} adds to {@link Cgroups#usage}'s. */
  CgroupStats withLimitsAndPeaks(long memoryLimitBytes, long memoryMaxUsageBytes, long pidsLimit, long processes) {
    return new CgroupStats(memoryUsageBytes, memoryLimitBytes, memoryMaxUsageBytes, oomKills, cpuUsageNanos, cpuPeriods,
        cpuThrottledPeriods, cpuThrottledNanos, pids, pidsLimit, memoryCacheBytes, memoryRssBytes, memoryInactiveFileBytes,
        cpuUserNanos, cpuSystemNanos, processes);
  }

  /**
   * Usage less the inactive page cache, never below 0: what the kernel cannot easily reclaim,
   * and what the OOM killer looks at (cAdvisor's and the kubelet's "working set", and what
   * {@code docker stats} shows as usage).
   */
  public long memoryWorkingSetBytes() {
    return Math.max(0, memoryUsageBytes - memoryInactiveFileBytes);
  }
}
