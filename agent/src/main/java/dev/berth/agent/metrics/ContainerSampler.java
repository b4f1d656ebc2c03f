package dev.berth.agent.metrics;

import dev.berth.agent.runtime.ContainerEvents;
import dev.berth.agent.runtime.ContainerView;
import dev.berth.agent.runtime.cgroup.CgroupStats;
import dev.berth.agent.runtime.cgroup.CgroupUsageFiles;
import dev.berth.agent.runtime.cgroup.Cgroups;
import dev.berth.agent.runtime.cgroup.DescriptorBudget;
import dev.berth.agent.runtime.cgroup.StatFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;

/**
 * Reads the statistics of running containers: their cgroup (through {@link Cgroups#stats} and
 * {@link Cgroups#usage}) and the network counters of their init's namespace ({@link NetDev}).
 * About eight small file reads per container, all of them from the kernel's memory.
 *
 * <p>For scrapes ({@link #sampleRunning}), a sampler built with a {@link DescriptorBudget} keeps
 * each running container's files open from one scrape to the next ({@link
 * Cgroups#usageFiles}, {@link StatFile}): a positional read per file instead of an open, a read
 * and a close. They are closed when the container exits or is removed ({@link #events()}, or
 * at the latest at the next scrape, which no longer lists it as running), when its cgroup goes
 * away, and when its run is another one (another pid or start time: a descriptor on {@code
 * /proc/PID/net/dev} holds the namespace it was opened in, not the pid's next one). Beyond the
 * budget files are opened and closed at each reading.
 *
 * <p>Thread-safe. A container that stops while it is read yields zeros (its files are gone),
 * never an error; one that cannot be read for another reason is left out and logged, so that
 * one broken cgroup does not blank a whole scrape.
 */
public final class ContainerSampler implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(ContainerSampler.class.getName());
  private final Cgroups cgroups;
  private final Path procRoot;
  private final Clock clock;
  private final DescriptorBudget budget;
  private final boolean procFs;
  /** The kept files of running containers, by container id. */
  private final ConcurrentHashMap<String, Kept> kept = new ConcurrentHashMap<>();
  private volatile boolean closed;

  /** A sampler that keeps nothing open: each reading opens its files anew. */
  public ContainerSampler(Cgroups cgroups, Path procRoot, Clock clock) {
    this(cgroups, procRoot, clock, DescriptorBudget.NONE);
  }

  /** A sampler whose scrapes keep the running containers' files open, within {@code budget}. */
  public ContainerSampler(Cgroups cgroups, Path procRoot, Clock clock, DescriptorBudget budget) {
    this.cgroups = cgroups;
    this.procRoot = procRoot;
    this.clock = clock;
    this.budget = budget;
    this.procFs = budget.max() > 0 && isProcFs(procRoot);
  }

  private static boolean isProcFs(Path procRoot) {
    try {
      return Files.getFileStore(procRoot).type().equals("proc");
    } catch (IOException e) {
      return false; // then each reading checks that the file it holds is still the one named
    }
  }

  /** One container's reading, processes counted; zeros for a container that does not run. Keeps nothing open. */
  public ContainerSample sample(ContainerTarget t) {
    long at = now();
    if (!t.running()) {
      return new ContainerSample(t, new CgroupStats(0, 0, 0, 0, 0, 0, 0, 0, 0, 0), List.of(), at);
    }
    return new ContainerSample(t, cgroups.stats(t.cgroupPath()), NetDev.read(procRoot, t.pid()), at);
  }

  private long now() {
    Instant now = clock.instant();
    return now.getEpochSecond() * 1_000_000_000L + now.getNano();
  }

  /**
   * The readings of the running ones among {@code targets}, in their order, for a scrape:
   * processes not counted (see {@link Cgroups#usage}). {@code targets} is taken to be every
   * container there is: the files kept for any other are closed.
   */
  public List<ContainerSample> sampleRunning(List<ContainerTarget> targets) {
    List<ContainerTarget> running = targets.stream().filter(ContainerTarget::running).toList();
    if (budget.max() > 0 || !kept.isEmpty()) {
      Set<String> ids = new HashSet<>();
      running.forEach(t -> ids.add(t.id()));
      kept.keySet().stream().filter(id -> !ids.contains(id)).toList().forEach(this::forget);
    }
    if (running.size() < PARALLEL_FROM) {
      return running.stream().map(this::sampleOrNull).filter(Objects::nonNull).toList();
    }
    // The reads are system calls, a few µs each: spread over the CPUs, in a pool of our own.
    try {
      return POOL.submit(() -> running.parallelStream().map(this::sampleOrNull).filter(Objects::nonNull)
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
      long at = now();
      if (budget.max() == 0 || closed) {
        return new ContainerSample(t, cgroups.usage(t.cgroupPath()), NetDev.read(procRoot, t.pid()), at);
      }
      Kept k = keptFor(t);
      return new ContainerSample(t, k.cgroup.read(), k.netDev == null ? List.of() : NetDev.read(k.netDev), at);
    } catch (RuntimeException e) {
      LOG.warning("cannot read the statistics of container " + t.id() + ": " + e.getMessage());
      return null;
    }
  }

  /** The kept files of {@code t}'s current run; those of an earlier run are closed. */
  private Kept keptFor(ContainerTarget t) {
    Kept k = kept.get(t.id());
    if (k != null && k.of(t)) {
      return k;
    }
    Kept fresh = new Kept(t.cgroupPath(), t.pid(), t.startedAt(), cgroups.usageFiles(t.cgroupPath(), budget),
        t.pid() > 0 ? NetDev.file(procRoot, t.pid(), budget, procFs) : null);
    Kept old = kept.put(t.id(), fresh);
    if (old != null) {
      old.close();
    }
    if (closed) {
      forget(t.id()); // closed meanwhile: keep nothing
    }
    return fresh;
  }

  /** Closes the files kept for the container {@code id}, if any. */
  public void forget(String id) {
    Kept k = kept.remove(id);
    if (k != null) {
      k.close();
    }
  }

  /** How many descriptors this sampler holds now. */
  public int openFiles() {
    return kept.values().stream().mapToInt(Kept::openFiles).sum();
  }

  /**
   * What the runtime tells this sampler: a container that exited or was removed has its files
   * closed at once, so that neither its dying cgroup nor its network namespace outlives it
   * until the next scrape.
   */
  public ContainerEvents events() {
    return new ContainerEvents() {
      @Override
      public void exited(ContainerView v) {
        forget(v.id());
      }

      @Override
      public void removed(String id) {
        forget(id);
      }
    };
  }

  /** Closes every file kept. Readings after this one keep nothing open. */
  @Override
  public void close() {
    closed = true;
    List.copyOf(kept.keySet()).forEach(this::forget);
  }

  /** The files kept for one run of one container. */
  private record Kept(String cgroupPath, int pid, Instant startedAt, CgroupUsageFiles cgroup, StatFile netDev) {
    boolean of(ContainerTarget t) {
      return pid == t.pid() && cgroupPath.equals(t.cgroupPath()) && Objects.equals(startedAt, t.startedAt());
    }

    int openFiles() {
      return cgroup.openFiles() + (netDev != null && netDev.isOpen() ? 1 : 0);
    }

    void close() {
      cgroup.close();
      if (netDev != null) {
        netDev.close();
      }
    }
  }
}
