package dev.berth.agent.runtime.cgroup;

/**
 * A snapshot of one cgroup's usage, as {@link Cgroups#stats} reads it. Values the kernel does
 * not provide (a controller not enabled, a file of a newer kernel) are 0.
 *
 * @param memoryUsageBytes memory currently charged
 * @param memoryLimitBytes the memory limit; 0 = unlimited
 * @param memoryMaxUsageBytes the peak of memory usage (v1 max_usage_in_bytes, v2 memory.peak)
 * @param oomKills processes the OOM killer killed in it
 * @param cpuUsageNanos CPU time consumed
 * @param cpuPeriods CFS periods elapsed while it had runnable tasks
 * @param cpuThrottledPeriods periods in which it was throttled
 * @param cpuThrottledNanos total time it was throttled
 * @param pids tasks in it now
 * @param pidsLimit the pids limit; 0 = unlimited
 */
public record CgroupStats(long memoryUsageBytes, long memoryLimitBytes, long memoryMaxUsageBytes, long oomKills,
    long cpuUsageNanos, long cpuPeriods, long cpuThrottledPeriods, long cpuThrottledNanos, long pids, long pidsLimit) {}
