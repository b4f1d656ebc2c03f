package dev.berth.agent.metrics;

import dev.berth.agent.runtime.cgroup.CgroupStats;
import dev.berth.agent.runtime.cgroup.Cgroups;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.logging.Logger;

/**
 * Reads the statistics of running containers: their cgroup (through {@link Cgroups#stats}) and
 * the network counters of their init's namespace ({@link NetDev}). About a dozen small file
 * reads per container, all of them from the kernel's memory.
 *
 * <p>Thread-safe and stateless. A container that stops while it is read yields zeros (its
 * files are gone), never an error; one that cannot be read for another reason is left out
 * and logged, so that one broken cgroup does not blank a whole scrape.
 */
public final class ContainerSampler {
  private static final Logger LOG = Logger.getLogger(ContainerSampler.class.getName());
  private final Cgroups cgroups;
  private final Path procRoot;
  private final Clock clock;

  public ContainerSampler(Cgroups cgroups, Path procRoot, Clock clock) {
    this.cgroups = cgroups;
    this.procRoot = procRoot;
    this.clock = clock;
  }

  /** One container's reading, processes counted; zeros for a container that does not run. */
  public ContainerSample sample(ContainerTarget t) {
    return sample(t, true);
  }

  private ContainerSample sample(ContainerTarget t, boolean processes) {
    Instant now = clock.instant();
    long at = now.getEpochSecond() * 1_000_000_000L + now.getNano();
    if (!t.running()) {
      return new ContainerSample(t, new CgroupStats(0, 0, 0, 0, 0, 0, 0, 0, 0, 0), List.of(), at);
    }
    return new ContainerSample(t, processes ? cgroups.stats(t.cgroupPath()) : cgroups.usage(t.cgroupPath()),
        NetDev.read(procRoot, t.pid()), at);
  }

  /**
   * The readings of the running ones among {@code targets}, in their order, for a scrape:
   * processes not counted (see {@link Cgroups#usage}).
   */
  public List<ContainerSample> sampleRunning(List<ContainerTarget> targets) {
    List<ContainerTarget> running = targets.stream().filter(ContainerTarget::running).toList();
    if (running.size() < PARALLEL_FROM) {
      return running.stream().map(this::sampleOrNull).filter(java.util.Objects::nonNull).toList();
    }
    // The reads are system calls, about 10 µs each: spread over the CPUs, in a pool of our own.
    try {
      return POOL.submit(() -> running.parallelStream().map(this::sampleOrNull).filter(java.util.Objects::nonNull)
          .toList()).get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return List.of();
    } catch (java.util.concurrent.ExecutionException e) {
      throw new IllegalStateException(e.getCause());
    }
  }

  /** Below this many containers one thread reads them all. */
  private static final int PARALLEL_FROM = 64;
  /** Its threads are daemons and idle ones end after a minute: nothing to shut down. */
  private static final java.util.concurrent.ForkJoinPool POOL =
      new java.util.concurrent.ForkJoinPool(Math.min(4, Runtime.getRuntime().availableProcessors()));

  private ContainerSample sampleOrNull(ContainerTarget t) {
    try {
      return sample(t, false);
    } catch (RuntimeException e) {
      LOG.warning("cannot read the statistics of container " + t.id() + ": " + e.getMessage());
      return null;
    }
  }
}
