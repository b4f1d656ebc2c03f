package dev.berth.agent.task;

import dev.berth.agent.BerthException;
import dev.berth.agent.DaemonThreads;
import dev.berth.agent.cluster.ServersUnavailableException;
import dev.berth.agent.image.Healthcheck;
import dev.berth.agent.jobs.JobCodec;
import dev.berth.agent.jobs.JobStore;
import dev.berth.agent.runtime.ContainerRuntime;
import dev.berth.agent.runtime.ContainerState;
import dev.berth.agent.runtime.ContainerView;
import dev.berth.agent.runtime.CreateRequest;
import dev.berth.agent.runtime.MountSpec;
import dev.berth.agent.runtime.net.PortMapping;
import dev.berth.proto.v1.AllocationState;
import dev.berth.proto.v1.StoredAllocation;
import dev.berth.proto.v1.StoredCredential;
import dev.berth.proto.v1.StoredJob;
import dev.berth.proto.v1.StoredPort;
import dev.berth.scheduler.model.HealthCheck;
import dev.berth.scheduler.model.Job;
import dev.berth.scheduler.model.JobType;
import dev.berth.scheduler.model.RestartRules;
import dev.berth.scheduler.model.TaskGroup;
import dev.berth.scheduler.model.VolumeMount;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * This node's side of the scheduler: it watches the node's allocations in the replicated store,
 * runs a container for each one that should run (pulling its image first, with the job's
 * credentials), stops and removes those the scheduler asked to stop or that no longer belong to
 * it (a newer generation replaced them, the job is gone), and reports their states back in one
 * write per round — the batched status the store is meant for.
 *
 * <p>An allocation's container is labelled with its allocation ({@value #LABEL_ALLOC}), job,
 * group and index, so a restarted agent finds them again. Its container is restarted on the node
 * by its group's {@code restart} rules ({@link RestartRules}; absent, the job type's defaults:
 * services {@value #SERVICE_RESTARTS} restarts within {@link #SERVICE_RESTART_INTERVAL}, batch 3
 * within 24 h): services with restart policy {@code always}, batch replicas {@code on-failure},
 * each restart after a backoff whose base is the rules' {@code delay} (else the node's). Once the
 * attempts within the interval are used up, mode {@code fail} reports the allocation failed (a
 * crash loop is given up on this node, and the scheduler places it again under the job's
 * reschedule policy, elsewhere when it can), mode {@code delay} stops the container until the
 * interval has passed since the first of those restarts and then starts it again here with its
 * attempts anew. An allocation whose container ended for good is reported complete (batch,
 * exit 0) or failed, and so is one whose group's health check turned it unhealthy. One that ran (and passed its health check) for its job's {@code min_healthy_time} is
 * reported healthy, which rolling updates and drains wait for.
 *
 * <p><b>Disconnected.</b> A node that cannot read its allocations (the servers do not answer:
 * a partition) reports nothing, since it cannot, and keeps its containers running, except that
 * it stops those of groups with {@code stop_after_disconnect} once it has been without the servers
 * for that long: the scheduler has placed them elsewhere by then, and a partition should not
 * leave two copies running. Once it reads again it reports them lost. A copy of an allocation the
 * scheduler marked lost (its node was judged down and the replica runs elsewhere) is killed at
 * once, without the stop timeout: it is a duplicate.
 *
 * <p>A start that cannot read its job, or get its registry credential handed out, because the
 * servers do not answer (a Raft leader's death, a lost quorum) is not the allocation's failure:
 * the scheduler would only place it again, on a node where the same would happen. The allocation
 * stays pending, says why, and its start is tried again after 250 ms, doubling up to 5 s.
 *
 * <p>One thread polls every {@code interval}; starts and stops run on a small pool so a slow pull
 * does not hold the others back; a watchdog thread checks every {@code interval} how long the
 * node has been without the servers.
 */
public final class AllocationRunner implements AutoCloseable {
  public static final String LABEL_ALLOC = "berth.alloc";
  public static final String LABEL_JOB = "berth.job";
  public static final String LABEL_GROUP = "berth.group";
  public static final String LABEL_INDEX = "berth.index";
  public static final String LABEL_GENERATION = "berth.generation";
  /** Restarts of a service's container on this node before it is reported failed: Nomad's default attempts. */
  static final int SERVICE_RESTARTS = RestartRules.SERVICE_DEFAULT.attempts();
  /** The window those restarts are counted over: Nomad's default interval. */
  static final Duration SERVICE_RESTART_INTERVAL = RestartRules.SERVICE_DEFAULT.interval();
  private static final int WORKERS = 4;
  /**
   * Stops run apart from starts and mostly wait (a container that ignores SIGTERM is killed after
   * the stop timeout): up to this many at once, so stopping a job of 100 replicas takes about one
   * stop timeout, not 25 (measured: 92 s for 33 containers an agent with the 4 start workers).
   */
  private static final int STOPPERS = 32;
  private static final int STOP_TIMEOUT_SECONDS = 10;
  private static final Logger LOG = Logger.getLogger(AllocationRunner.class.getName());

  /** Makes an image present on this node. */
  public interface Images {
    /**
     * Pulls {@code reference} unless it is present.
     *
     * @param allocation the allocation it is for: what a server hands its credential out for
     * @param credentials the job's registry credentials, sealed (may be empty)
     */
    void ensure(String reference, String allocation, List<StoredCredential> credentials);
  }

  private final String node;
  private final JobStore jobs;
  private final ContainerRuntime runtime;
  private final Supervisor supervisor;
  private final Images images;
  private final BooleanSupplier ready;
  private final Clock clock;
  private final Duration interval;
  private final ExecutorService workers;
  private final java.util.concurrent.ThreadPoolExecutor stoppers;
  /** Allocations with a start or stop under way. */
  private final Set<String> busy = ConcurrentHashMap.newKeySet();
  /** Allocations whose start failed, with why: reported failed, never retried here. */
  private final Map<String, String> failed = new ConcurrentHashMap<>();
  private final Map<String, Job> jobCache = new ConcurrentHashMap<>();
  /** Since when (nanos) each running allocation has been running and passing its check. */
  private final Map<String, Long> okSince = new ConcurrentHashMap<>();
  /** Per allocation: its restarts on this node, counted against its group's restart rules. */
  private final Map<String, RestartWindow> restarts = new ConcurrentHashMap<>();
  /** Allocations whose restarts wait out their interval (restart mode delay): until when (nanos) and why. */
  private final Map<String, Paused> paused = new ConcurrentHashMap<>();

  private record Paused(long untilNanos, String why) {}

  /** Allocations whose start could not read their job from the servers: when to try again (nanos). */
  private final Map<String, Deferred> deferred = new ConcurrentHashMap<>();

  private record Deferred(long untilNanos, Backoff backoff, String why) {}

  /** The waits before a start deferred for the servers is tried again: 250 ms, doubling up to 5 s. */
  static final Backoff.Settings DEFER = new Backoff.Settings(Duration.ofMillis(250), Duration.ofSeconds(5),
      Duration.ZERO);
  /** Allocations stopped for stop_after_disconnect, with what to report once the servers answer. */
  private final Map<String, String> disconnectStopped = new ConcurrentHashMap<>();
  /** The allocations to stop after a disconnect, as of the last read. */
  private volatile List<Guard> guarded = List.of();
  /** When the last read of this node's allocations succeeded (nanos). */
  private volatile long lastContactNanos = System.nanoTime();
  private final ScheduledExecutorService watchdog =
      Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("berth-alloc-watchdog"));
  private final Object signal = new Object();
  private volatile boolean closed;
  private Thread thread;

  /** An allocation whose group has stop_after_disconnect. */
  private record Guard(String allocation, String name, Duration after) {}

  public AllocationRunner(String node, JobStore jobs, ContainerRuntime runtime, Supervisor supervisor, Images images,
      BooleanSupplier ready, Clock clock, Duration interval) {
    this.node = node;
    this.jobs = jobs;
    this.runtime = runtime;
    this.supervisor = supervisor;
    this.images = images;
    this.ready = ready;
    this.clock = clock;
    this.interval = interval;
    this.workers = Executors.newFixedThreadPool(WORKERS, DaemonThreads.numbered("berth-alloc"));
    this.stoppers = new java.util.concurrent.ThreadPoolExecutor(STOPPERS, STOPPERS, 30, TimeUnit.SECONDS,
        new java.util.concurrent.LinkedBlockingQueue<>(), DaemonThreads.numbered("berth-alloc-stop"));
    this.stoppers.allowCoreThreadTimeOut(true);
  }

  public synchronized void start() {
    // A health check that turns is acted on at once, not at the next poll.
    supervisor.addHealthListener((id, before, after) -> wake());
    thread = new Thread(this::run, "berth-alloc-runner");
    thread.setDaemon(true);
    thread.start();
    watchdog.scheduleWithFixedDelay(this::checkDisconnected, interval.toMillis(), interval.toMillis(),
        TimeUnit.MILLISECONDS);
  }

  private void run() {
    boolean failing = false;
    while (!closed) {
      if (ready.getAsBoolean()) {
        try {
          sync();
          if (failing) {
            LOG.info("the servers answer again: this node's allocations are read and reported");
            failing = false;
          }
        } catch (BerthException e) {
          if (!failing && e.kind() == BerthException.Kind.UNAVAILABLE) {
            LOG.warning("cannot read this node's allocations (" + e.getMessage() + "); its containers keep running"
                + (guarded.isEmpty() ? "" : ", those with stop_after_disconnect until that has passed"));
            failing = true;
          }
          LOG.log(Level.FINE, "reading this node's allocations: " + e.getMessage(), e);
        } catch (RuntimeException e) {
          LOG.log(Level.WARNING, "running this node's allocations", e);
        }
      }
      synchronized (signal) {
        if (!closed) {
          try {
            signal.wait(interval.toMillis());
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
          }
        }
      }
    }
  }

  /** A new state for an allocation, as this node sees it. */
  private record Report(AllocationState state, String containerId, String message, boolean healthy) {
    Report(AllocationState state, String containerId, String message) {
      this(state, containerId, message, false);
    }
  }

  /** One round: act on every allocation of this node, then report what changed. Package-private for tests. */
  void sync() {
    JobStore.NodeAllocations mine = jobs.nodeAllocations(node);
    lastContactNanos = System.nanoTime();
    Map<String, ContainerView> byAlloc = containersByAllocation();
    Map<String, Report> reports = new HashMap<>();
    Set<String> known = new java.util.HashSet<>();
    List<Guard> guards = new ArrayList<>();
    for (StoredAllocation a : mine.allocations()) {
      known.add(a.getId());
      ContainerView c = byAlloc.get(a.getId());
      boolean over = a.getDesiredStop() || JobCodec.terminal(a);
      String disconnected = disconnectStopped.get(a.getId());
      if (disconnected != null) {
        if (JobCodec.terminal(a)) {
          disconnectStopped.remove(a.getId());
        } else if (!a.getDesiredStop()) {
          // Stopped while this node was cut off: lost, for the scheduler to place it again.
          if (c != null) {
            stopAndRemove(a.getId(), c, 0);
          }
          reports.put(a.getId(), new Report(AllocationState.ALLOCATION_LOST, a.getContainerId(), disconnected));
          continue;
        }
      }
      if (over) {
        if (c != null) {
          // A lost allocation's replica runs elsewhere by now: this copy is a duplicate, no grace.
          stopAndRemove(a.getId(), c, a.getState() == AllocationState.ALLOCATION_LOST_VALUE ? 0 : STOP_TIMEOUT_SECONDS);
        } else if (!JobCodec.terminal(a) && !busy.contains(a.getId())) {
          reports.put(a.getId(), new Report(AllocationState.ALLOCATION_STOPPED, a.getContainerId(),
              "stopped: " + (a.getDesiredReason().isEmpty() ? "asked to" : a.getDesiredReason())));
        }
        continue;
      }
      Optional<TaskGroup> group = group(a);
      group.filter(g -> g.stopAfterDisconnect() != null)
          .ifPresent(g -> guards.add(new Guard(a.getId(), describe(a), g.stopAfterDisconnect())));
      if (busy.contains(a.getId())) {
        continue;
      }
      String why = failed.get(a.getId());
      if (why != null) {
        reports.put(a.getId(), new Report(AllocationState.ALLOCATION_FAILED, a.getContainerId(), why));
        continue;
      }
      Paused p = paused.get(a.getId());
      if (p != null && c != null) {
        if (System.nanoTime() - p.untilNanos() >= 0) {
          resume(a, c);
        } else {
          reports.put(a.getId(), new Report(AllocationState.ALLOCATION_PENDING, c.id(), p.why(), a.getHealthy()));
        }
        continue;
      }
      if (c == null) {
        if (a.getState() == AllocationState.ALLOCATION_RUNNING_VALUE && !a.getContainerId().isEmpty()) {
          reports.put(a.getId(), new Report(AllocationState.ALLOCATION_FAILED, a.getContainerId(),
              "its container " + a.getContainerId().substring(0, Math.min(12, a.getContainerId().length()))
                  + " was removed"));
        } else {
          Deferred d = deferred.get(a.getId());
          if (d != null && System.nanoTime() - d.untilNanos() < 0) {
            reports.put(a.getId(), new Report(AllocationState.ALLOCATION_PENDING, a.getContainerId(), d.why()));
          } else {
            start(a);
          }
        }
        continue;
      }
      reports.put(a.getId(), observe(a, c, group.orElse(null)));
    }
    guarded = List.copyOf(guards);
    // Containers of allocations this node no longer holds: replaced, or their job is gone.
    for (Map.Entry<String, ContainerView> e : byAlloc.entrySet()) {
      if (!known.contains(e.getKey())) {
        stopAndRemove(e.getKey(), e.getValue(), STOP_TIMEOUT_SECONDS);
      }
    }
    disconnectStopped.keySet().retainAll(known);
    okSince.keySet().retainAll(known);
    restarts.keySet().retainAll(known);
    paused.keySet().retainAll(known);
    deferred.keySet().retainAll(known);
    report(mine, reports);
  }

  private Map<String, ContainerView> containersByAllocation() {
    Map<String, ContainerView> byAlloc = new HashMap<>();
    for (ContainerView c : runtime.list(true)) {
      String alloc = c.config().labels().get(LABEL_ALLOC);
      if (alloc != null) {
        byAlloc.put(alloc, c);
      }
    }
    return byAlloc;
  }

  /**
   * What an allocation's container says about it: running (and whether healthy: it ran, and
   * passed its group's check, for the job's min_healthy_time; once healthy it stays so), failed
   * when its check turned it unhealthy or a service restarted too often, complete or failed when
   * it ended for good.
   */
  private Report observe(StoredAllocation a, ContainerView c, TaskGroup g) {
    ContainerState s = c.state();
    long now = System.nanoTime();
    boolean batch = job(a).map(j -> j.type() == JobType.BATCH).orElse(false);
    if (s.status() != ContainerState.Status.REMOVING) {
      RestartRules rules = rules(job(a).map(Job::type).orElse(JobType.SERVICE), g);
      RestartWindow.Verdict v = restarts.computeIfAbsent(a.getId(), k -> new RestartWindow(rules))
          .observe(s.restartCount(), now);
      // The last exit is known while the container is down; once restarted, its state is the new run's.
      String within = "restarted " + v.restarts() + " times within " + human(rules.interval())
          + (s.status() == ContainerState.Status.EXITED ? " (last: " + exitText(s) + ")" : "");
      if (v.failed()) {
        return new Report(AllocationState.ALLOCATION_FAILED, c.id(), within + ": given up on this node");
      }
      if (v.paused()) {
        String why = within + ": restarts wait "
            + human(Duration.ofMillis(Math.max(1, (v.pauseUntilNanos() - now) / 1_000_000))) + " (restart mode delay)";
        pause(a, c, new Paused(v.pauseUntilNanos(), why));
        return new Report(AllocationState.ALLOCATION_PENDING, c.id(), why, a.getHealthy());
      }
    }
    return switch (s.status()) {
      case RUNNING -> {
        Optional<HealthState> h = g != null && g.health() != null ? supervisor.health(c.id()) : Optional.empty();
        if (h.isPresent() && h.get().status() == HealthState.Status.UNHEALTHY) {
          okSince.remove(a.getId());
          List<HealthResult> log = h.get().log();
          String last = log.isEmpty() ? "" : log.get(log.size() - 1).output().strip();
          yield new Report(AllocationState.ALLOCATION_FAILED, c.id(), "unhealthy: " + h.get().failingStreak()
              + " health checks in a row failed" + (last.isEmpty() ? "" : " (last: "
              + last.substring(0, Math.min(200, last.length())) + ")"));
        }
        boolean ok = g == null || g.health() == null || h.map(x -> x.status() == HealthState.Status.HEALTHY).orElse(false);
        boolean healthy = a.getHealthy();
        if (ok) {
          long since = okSince.computeIfAbsent(a.getId(), k -> now);
          Duration min = job(a).map(j -> j.update().minHealthyTime()).orElse(Duration.ZERO);
          healthy |= now - since >= min.toNanos();
        } else {
          okSince.remove(a.getId());
        }
        yield new Report(AllocationState.ALLOCATION_RUNNING, c.id(), "", healthy);
      }
      case CREATED -> new Report(AllocationState.ALLOCATION_PENDING, c.id(), "created", a.getHealthy());
      case REMOVING -> new Report(AllocationState.ALLOCATION_STOPPED, c.id(), "removed", a.getHealthy());
      case EXITED -> {
        okSince.remove(a.getId());
        if (supervisor.restartPending(c)) {
          yield new Report(AllocationState.ALLOCATION_RUNNING, c.id(),
              "restarting after exit code " + s.exitCode() + " (" + s.restartCount() + " restarts)", a.getHealthy());
        }
        yield new Report(batch && s.exitCode() == 0 && !s.exitUnknown() && !s.oomKilled()
            ? AllocationState.ALLOCATION_COMPLETE : AllocationState.ALLOCATION_FAILED, c.id(), exitText(s),
            a.getHealthy());
      }
    };
  }

  /** The group's restart rules, or the job type's defaults. */
  static RestartRules rules(JobType type, TaskGroup g) {
    return g != null && g.restart() != null ? g.restart() : RestartRules.defaultFor(type);
  }

  /** Stops a container whose restarts wait out their interval (restart mode delay). */
  private void pause(StoredAllocation a, ContainerView c, Paused p) {
    if (paused.putIfAbsent(a.getId(), p) != null || !busy.add(a.getId())) {
      return;
    }
    LOG.info("allocation " + describe(a) + ": " + p.why());
    stoppers.execute(() -> {
      try {
        // Also when it looks down and no restart is pending: the runtime may have recorded an
        // exit that the supervisor has not heard yet, and would then schedule a restart. A stop
        // of an exited container only marks it stopped, under the lock that orders it with that
        // exit, so no restart by its policy follows either way.
        runtime.stop(c.id(), STOP_TIMEOUT_SECONDS);
      } catch (BerthException e) {
        LOG.warning("stopping allocation " + describe(a) + " until its restarts may go on: " + e.getMessage());
      } finally {
        busy.remove(a.getId());
        wake();
      }
    });
  }

  /** The interval was waited out: the container starts again, with its attempts anew. */
  private void resume(StoredAllocation a, ContainerView c) {
    if (!busy.add(a.getId())) {
      return;
    }
    workers.execute(() -> {
      try {
        RestartWindow w = restarts.get(a.getId());
        if (w != null) {
          w.reset();
        }
        runtime.start(c.id());
        paused.remove(a.getId());
        LOG.info("allocation " + describe(a) + ": its restart interval passed; started again");
      } catch (RuntimeException e) {
        String why = e.getMessage() == null ? e.toString() : e.getMessage();
        paused.remove(a.getId());
        failed.put(a.getId(), "failed to start again after its restart delay: " + why);
      } finally {
        busy.remove(a.getId());
        wake();
      }
    });
  }

  private static String exitText(ContainerState s) {
    return s.exitUnknown() ? "its launcher died: exit status unknown"
        : s.oomKilled() ? "killed: out of memory" : "exited with code " + s.exitCode();
  }

  /**
   * Runs every {@code interval} on the watchdog thread: once the node has been without the servers
   * (no successful read of its allocations) for a group's stop_after_disconnect, stops that group's
   * containers here. Reports nothing: it cannot; the next successful round does.
   */
  private void checkDisconnected() {
    try {
      List<Guard> guards = guarded;
      if (guards.isEmpty() || closed) {
        return;
      }
      long away = System.nanoTime() - lastContactNanos;
      Map<String, ContainerView> byAlloc = null;
      for (Guard g : guards) {
        if (away < g.after().toNanos() || disconnectStopped.containsKey(g.allocation())) {
          continue;
        }
        if (byAlloc == null) {
          byAlloc = containersByAllocation();
        }
        String why = "stopped after " + human(g.after()) + " without the servers (stop_after_disconnect)";
        disconnectStopped.put(g.allocation(), why);
        LOG.warning("allocation " + g.name() + ": " + why);
        ContainerView c = byAlloc.get(g.allocation());
        if (c != null) {
          stopAndRemove(g.allocation(), c, STOP_TIMEOUT_SECONDS);
        }
      }
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "checking how long this node has been without the servers", e);
    }
  }

  /** Writes the reports that change something, in one compare-and-set (retried on contention). */
  private void report(JobStore.NodeAllocations read, Map<String, Report> reports) {
    boolean any = false;
    for (StoredAllocation a : read.allocations()) {
      Report r = reports.get(a.getId());
      if (r != null && differs(a, r)) {
        any = true;
        break;
      }
    }
    if (!any) {
      return;
    }
    long now = clock.millis();
    jobs.updateNode(node, list -> {
      List<StoredAllocation> out = new ArrayList<>(list.size());
      for (StoredAllocation a : list) {
        Report r = reports.get(a.getId());
        // The scheduler may have asked for a stop meanwhile: a run report does not undo that.
        boolean stale = r != null && a.getDesiredStop() && r.state() != AllocationState.ALLOCATION_STOPPED
            && JobCodec.terminal(a);
        out.add(r == null || stale || !differs(a, r) ? a
            : a.toBuilder().setState(r.state().getNumber()).setContainerId(r.containerId()).setMessage(r.message())
                .setHealthy(a.getHealthy() || r.healthy()).setUpdatedAtMillis(now).build());
      }
      return out;
    });
  }

  private static boolean differs(StoredAllocation a, Report r) {
    return a.getState() != r.state().getNumber() || !a.getContainerId().equals(r.containerId())
        || !a.getMessage().equals(r.message()) || a.getHealthy() != r.healthy();
  }

  private void start(StoredAllocation a) {
    busy.add(a.getId());
    workers.execute(() -> {
      try {
        Optional<StoredJob> stored;
        Job job;
        try {
          stored = jobs.job(a.getJob());
          job = job(a).orElseThrow(() -> BerthException.notFound("job " + a.getJob() + " is gone"));
        } catch (BerthException e) {
          if (e.kind() != BerthException.Kind.UNAVAILABLE) {
            throw e;
          }
          defer(a, "read its job", e);
          return;
        }
        TaskGroup g = job.groups().stream().filter(x -> x.name().equals(a.getGroup())).findFirst()
            .orElseThrow(() -> BerthException.notFound("job " + a.getJob() + " has no task group " + a.getGroup()));
        try {
          images.ensure(g.image(), a.getId(), stored.map(StoredJob::getCredentialsList).orElse(List.of()));
        } catch (ServersUnavailableException e) {
          defer(a, "hand out its registry credential", e); // the registry's own errors fail it below
          return;
        }
        deferred.remove(a.getId());
        ContainerView c = runtime.create(request(a, job, g));
        try {
          runtime.start(c.id());
        } catch (RuntimeException e) {
          removeQuietly(c.id());
          throw e;
        }
        LOG.info("allocation " + a.getJob() + "." + a.getGroup() + "[" + a.getIndex() + "] (" + shortId(a.getId())
            + ") running as " + c.config().name());
      } catch (RuntimeException e) {
        String why = e.getMessage() == null ? e.toString() : e.getMessage();
        LOG.warning("allocation " + a.getJob() + "." + a.getGroup() + "[" + a.getIndex() + "] failed to start: " + why);
        failed.put(a.getId(), "failed to start: " + why);
      } finally {
        busy.remove(a.getId());
        wake();
      }
    });
  }

  /** The servers did not answer what the start asked of them: pending, and tried again later. */
  private void defer(StoredAllocation a, String what, BerthException e) {
    Deferred before = deferred.get(a.getId());
    Backoff backoff = before != null ? before.backoff() : new Backoff(DEFER, clock);
    Duration wait = backoff.next();
    String why = "waiting for the cluster's servers to " + what + " (" + e.getMessage() + "); trying again in "
        + human(wait);
    deferred.put(a.getId(), new Deferred(System.nanoTime() + wait.toNanos(), backoff, why));
    if (before == null) {
      LOG.warning("allocation " + describe(a) + " not started yet: " + why);
    }
  }

  private void stopAndRemove(String alloc, ContainerView c, int timeoutSeconds) {
    if (!busy.add(alloc)) {
      return;
    }
    stoppers.execute(() -> {
      try {
        if (c.state().running() || supervisor.restarting(c.id())) {
          runtime.stop(c.id(), timeoutSeconds);
        }
        runtime.remove(c.id(), true, true);
        failed.remove(alloc);
        LOG.info("allocation " + shortId(alloc) + ": container " + c.config().name() + " stopped and removed");
      } catch (BerthException e) {
        if (e.kind() != BerthException.Kind.NOT_FOUND) {
          LOG.warning("stopping allocation " + shortId(alloc) + ": " + e.getMessage());
        }
      } finally {
        busy.remove(alloc);
        wake();
      }
    });
  }

  private void removeQuietly(String id) {
    try {
      runtime.remove(id, true, true);
    } catch (RuntimeException e) {
      LOG.log(Level.FINE, "removing the container of a failed start", e);
    }
  }

  /** The container an allocation runs: the group's spec, its resources, its ports, its labels. */
  CreateRequest request(StoredAllocation a, Job job, TaskGroup g) {
    Map<String, String> labels = new HashMap<>();
    labels.put(LABEL_ALLOC, a.getId());
    labels.put(LABEL_JOB, a.getJob());
    labels.put(LABEL_GROUP, a.getGroup());
    labels.put(LABEL_INDEX, Integer.toString(a.getIndex()));
    labels.put(LABEL_GENERATION, Long.toString(a.getGeneration()));
    List<String> env = new ArrayList<>();
    new java.util.TreeMap<>(g.env()).forEach((k, v) -> env.add(k + "=" + v));
    List<PortMapping> ports = new ArrayList<>();
    for (StoredPort p : a.getPortsList()) {
      ports.add(new PortMapping(PortMapping.Protocol.TCP, "", p.getHost(), p.getTo()));
    }
    List<MountSpec> mounts = new ArrayList<>();
    for (VolumeMount v : g.volumes()) {
      mounts.add(new MountSpec(MountSpec.Type.VOLUME, v.name(), v.path(), v.readOnly(), 0, 0, false, false));
    }
    String cpus = a.getCpuMillis() > 0 ? java.math.BigDecimal.valueOf(a.getCpuMillis(), 3).toPlainString() : "";
    String memory = a.getMemoryBytes() > 0 ? Long.toString(a.getMemoryBytes()) : "";
    RestartRules rules = rules(job.type(), g);
    if (rules.delay() != null) {
      labels.put(Supervisor.LABEL_RESTART_DELAY, Long.toString(rules.delay().toMillis()));
    }
    String policy;
    int retries = 0;
    if (rules.attempts() == 0 && rules.mode() == RestartRules.Mode.FAIL) {
      policy = "no"; // no restart here: its first exit is the allocation's failure
    } else if (job.type() == JobType.BATCH) {
      // A batch run that succeeded is done. In fail mode the runtime stops after the attempts by
      // itself; in delay mode this runner pauses the restarts once the attempts are used up.
      policy = "on-failure";
      retries = rules.mode() == RestartRules.Mode.FAIL ? rules.attempts() : 0;
    } else {
      policy = "always";
    }
    return new CreateRequest(g.image(), containerName(a), List.of(), false, g.command(), env, "", "", "", memory, cpus,
        a.getPids(), false, false, false, List.of(), labels, "", 0, "", 0, mounts, "", ports, false, List.of(),
        policy, retries, healthcheck(g.health()));
  }

  /** The group's health check as the runtime runs it; null (the image's, if any) when the group has none. */
  static Healthcheck healthcheck(HealthCheck h) {
    if (h == null) {
      return null;
    }
    List<String> test = new ArrayList<>();
    if (h.shell()) {
      test.add("CMD-SHELL");
    } else {
      test.add("CMD");
    }
    test.addAll(h.command());
    return new Healthcheck(test, h.interval(), h.timeout(), h.startPeriod(), h.retries());
  }

  /** The allocation's task group in its job as cached; empty when the job or group is gone. */
  private Optional<TaskGroup> group(StoredAllocation a) {
    return job(a).flatMap(j -> j.groups().stream().filter(x -> x.name().equals(a.getGroup())).findFirst());
  }

  /** "30s", "1500ms", "2m": as a job file gives it. */
  static String human(Duration d) {
    long ms = d.toMillis();
    return ms % 60_000 == 0 ? ms / 60_000 + "m" : ms % 1000 == 0 ? ms / 1000 + "s" : ms + "ms";
  }

  private static String describe(StoredAllocation a) {
    return a.getJob() + "." + a.getGroup() + "[" + a.getIndex() + "] (" + shortId(a.getId()) + ")";
  }

  /** {@code web.web.0.3f2a9c1b}: as Swarm names tasks, unique per allocation. */
  static String containerName(StoredAllocation a) {
    String prefix = a.getGroup().equals(a.getJob()) ? a.getJob() : a.getJob() + "." + a.getGroup();
    return prefix + "." + a.getIndex() + "." + shortId(a.getId());
  }

  private Optional<Job> job(StoredAllocation a) {
    String key = a.getJob() + "@" + a.getJobVersion();
    Job cached = jobCache.get(key);
    if (cached != null) {
      return Optional.of(cached);
    }
    Optional<Job> j = jobs.job(a.getJob()).map(JobCodec::job);
    j.ifPresent(x -> {
      if (jobCache.size() > 256) {
        jobCache.clear();
      }
      jobCache.put(key, x);
    });
    return j;
  }

  /** Eight hex digits of the allocation id's digest: short, and safe in a container name. */
  static String shortId(String id) {
    try {
      byte[] d = java.security.MessageDigest.getInstance("SHA-256")
          .digest(id.getBytes(java.nio.charset.StandardCharsets.UTF_8));
      return java.util.HexFormat.of().formatHex(d, 0, 4);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every JDK", e);
    }
  }

  /** Runs a round soon (the node's allocations changed, a start or stop finished). */
  public void wake() {
    synchronized (signal) {
      signal.notifyAll();
    }
  }

  @Override
  public void close() {
    closed = true;
    wake();
    watchdog.shutdownNow();
    workers.shutdownNow();
    stoppers.shutdownNow();
    try {
      workers.awaitTermination(5, TimeUnit.SECONDS);
      stoppers.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
