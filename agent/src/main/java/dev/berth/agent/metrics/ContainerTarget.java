package dev.berth.agent.metrics;

import java.time.Instant;

/**
 * One container as the metrics see it: what labels it and where its statistics are. Built
 * from the runtime's views by the composition root; tests build them by hand.
 *
 * @param id the full container id
 * @param name its name
 * @param image the image reference as given at create
 * @param job the Berth job it runs for (its {@code berth.job} label), empty when none
 * @param cgroupPath its cgroup, relative to each hierarchy's root
 * @param running whether it runs now (only running containers have a cgroup to read)
 * @param pid host pid of its init while running, else 0
 * @param startedAt when its current (or last) run started; null if it never ran
 * @param oomKilled whether its last run ended in an OOM kill
 * @param cpuQuotaMicros its CFS quota, 0 when unlimited
 * @param cpuPeriodMicros its CFS period, 0 for the kernel's default
 * @param memoryLimitBytes the memory limit it was created with, 0 when unlimited
 * @param pidsLimit the pids limit it was created with, 0 when unlimited
 * @param restartCount restarts by its restart policy since the user last started it (the
 *     runtime's count, Docker's RestartCount)
 */
public record ContainerTarget(String id, String name, String image, String job, String cgroupPath, boolean running,
    int pid, Instant startedAt, boolean oomKilled, long cpuQuotaMicros, long cpuPeriodMicros, long memoryLimitBytes, long pidsLimit,
    int restartCount) {
  /** The container label that names the job of a container the cluster placed. */
  public static final String JOB_LABEL = "berth.job";
}
