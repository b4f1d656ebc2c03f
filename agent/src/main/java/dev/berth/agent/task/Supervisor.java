package dev.berth.agent.task;

import dev.berth.agent.BerthException;
import dev.berth.agent.DaemonThreads;
import dev.berth.agent.image.Healthcheck;
import dev.berth.agent.runtime.ContainerEvents;
import dev.berth.agent.runtime.ContainerRuntime;
import dev.berth.agent.runtime.ContainerState;
import dev.berth.agent.runtime.ContainerView;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Restarts this host's containers by their restart policy, with {@link Backoff}, and runs their
 * health checks; the runtime tells it about every run through {@link ContainerEvents}.
 *
 * <p>Lifecycle: built before the runtime (whose recovery already reports to it), then
 * {@link #bind bound} to it; work that needs the runtime waits for that. {@link #close()} stops
 * restarting and checking; the containers run on.
 *
 * <p>Threading: one timer thread says when, a pool of work threads does it (a restart, a probe
 * that may take its whole timeout). Each container's bookkeeping is guarded by its own lock,
 * never held while calling the runtime or a listener.
 */
public final class Supervisor implements Supervision, ContainerEvents, AutoCloseable {
  private static final Logger LOG = Logger.getLogger(Supervisor.class.getName());

  private final Backoff.Settings backoff;
  private final Clock clock;
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("berth-task-timer"));
  private final ExecutorService work = Executors.newCachedThreadPool(DaemonThreads.named("berth-task"));
  private final CompletableFuture<ContainerRuntime> runtime = new CompletableFuture<>();
  private final Map<String, Task> tasks = new ConcurrentHashMap<>();
  private final List<HealthListener> listeners = new CopyOnWriteArrayList<>();
  private volatile boolean closed;

  /** One container's bookkeeping; fields guarded by the object's lock. */
  private static final class Task {
    final String id;
    final Backoff backoff;
    /** Counts runs and exits: a probe or restart of an earlier one finds it changed and does nothing. */
    long run;
    /** The user stopped this run. */
    boolean cancelled;
    volatile ScheduledFuture<?> restart;
    ScheduledFuture<?> probe;
    Healthcheck check;
    Instant startedAt;
    /** When the last exit this supervisor was told of ended (its restart, if any, is its own business since). */
    Instant handledExit;
    volatile HealthState health;

    Task(String id, Backoff backoff) {
      this.id = id;
      this.backoff = backoff;
    }

    void cancelRestart() {
      ScheduledFuture<?> r = restart;
      if (r != null) {
        r.cancel(false);
        restart = null;
      }
    }

    void cancelProbe() {
      if (probe != null) {
        probe.cancel(false);
        probe = null;
      }
    }
  }

  public Supervisor(Backoff.Settings backoff, Clock clock) {
    this.backoff = backoff;
    this.clock = clock;
  }

  /** Gives it the runtime to act on; once. */
  public void bind(ContainerRuntime r) {
    runtime.complete(r);
  }

  // ---------------------------------------------------------------- read-only side

  @Override
  public Optional<HealthState> health(String containerId) {
    Task t = tasks.get(containerId);
    return t == null ? Optional.empty() : Optional.ofNullable(t.health);
  }

  @Override
  public boolean restarting(String containerId) {
    Task t = tasks.get(containerId);
    return t != null && t.restart != null;
  }

  @Override
  public boolean restartPending(ContainerView v) {
    Task t = tasks.get(v.id());
    if (t != null && t.restart != null) {
      return true;
    }
    ContainerState s = v.state();
    if (closed || s.status() != ContainerState.Status.EXITED || s.finishedAt() == null) {
      return false;
    }
    if (t != null) {
      synchronized (t) {
        if (t.restart != null) {
          return true;
        }
        if (s.finishedAt().equals(t.handledExit) || t.cancelled) {
          return false;
        }
      }
    }
    return policy(v).restartsAfter(exit(v, false));
  }

  @Override
  public void addHealthListener(HealthListener l) {
    listeners.add(l);
  }

  // ---------------------------------------------------------------- events

  @Override
  public void started(ContainerView v, Start cause) {
    Task t = task(v);
    HealthState before;
    HealthState after;
    synchronized (t) {
      t.cancelRestart();
      t.cancelled = false;
      if (cause == Start.USER) {
        t.backoff.reset();
      }
      before = t.health;
      beginRun(t, v);
      after = t.health;
    }
    tell(t.id, before, after);
  }

  @Override
  public void adopted(ContainerView v) {
    Task t = task(v);
    if (v.state().running()) {
      HealthState after;
      synchronized (t) {
        beginRun(t, v);
        after = t.health;
      }
      tell(t.id, null, after);
    } else if (v.state().status() == ContainerState.Status.EXITED) {
      synchronized (t) {
        t.handledExit = v.state().finishedAt();
        if (policy(v).restartsAtAgentStart(exit(v, false))) {
          LOG.info("container " + v.config().name() + " was not running when the agent started: starting it by its "
              + "restart policy " + policy(v));
          scheduleRestart(t, v.state(), Duration.ZERO);
        }
      }
    }
  }

  @Override
  public void exited(ContainerView v) {
    Task t = task(v);
    synchronized (t) {
      t.run++;
      t.cancelProbe();
      t.handledExit = v.state().finishedAt();
      if (!closed && policy(v).restartsAfter(exit(v, t.cancelled))) {
        scheduleRestart(t, v.state(), t.backoff.next());
      }
    }
  }

  @Override
  public void stopping(String id) {
    Task t = task(id);
    synchronized (t) {
      t.cancelled = true;
      t.cancelRestart();
    }
  }

  @Override
  public void removed(String id) {
    Task t = tasks.remove(id);
    if (t != null) {
      synchronized (t) {
        t.run++;
        t.cancelled = true;
        t.cancelRestart();
        t.cancelProbe();
      }
    }
  }

  private Task task(String id) {
    return tasks.computeIfAbsent(id, k -> new Task(k, new Backoff(backoff, clock)));
  }

  /** As {@link #task(String)}; a new one's backoff as the container's labels ask. */
  private Task task(ContainerView v) {
    return tasks.computeIfAbsent(v.id(), k -> new Task(k, new Backoff(settings(backoff, v.config().labels()), clock)));
  }

  /**
   * The label that sets a container's restart backoff base, in milliseconds, over the node's: how
   * a job's {@code restart.delay} reaches the restarts of its allocations' containers.
   */
  public static final String LABEL_RESTART_DELAY = "berth.restart.delay";

  /**
   * The node's backoff settings with the base a container's {@value #LABEL_RESTART_DELAY} label
   * gives (the cap raised to it if need be); the node's for a container without one, or with a
   * label that is no positive number of milliseconds.
   */
  static Backoff.Settings settings(Backoff.Settings node, Map<String, String> labels) {
    String delay = labels == null ? null : labels.get(LABEL_RESTART_DELAY);
    if (delay == null) {
      return node;
    }
    long ms;
    try {
      ms = Long.parseLong(delay);
    } catch (NumberFormatException e) {
      return node;
    }
    if (ms <= 0) {
      return node;
    }
    Duration base = Duration.ofMillis(ms);
    return new Backoff.Settings(base, node.cap().compareTo(base) < 0 ? base : node.cap(), node.resetAfter());
  }

  private static RestartPolicy policy(ContainerView v) {
    try {
      return RestartPolicy.of(v.config().request().restartPolicy(), v.config().request().restartMaxRetries());
    } catch (BerthException e) {
      return RestartPolicy.NO; // checked at create; a hand-edited state file restarts nothing
    }
  }

  private static RestartPolicy.Exit exit(ContainerView v, boolean cancelled) {
    ContainerState s = v.state();
    return new RestartPolicy.Exit(s.exitCode(), s.exitUnknown(), s.restartCount(), s.stoppedByUser(), cancelled);
  }

  /** A run began: its backoff clock and its health checks start. Caller holds {@code t}. */
  private void beginRun(Task t, ContainerView v) {
    t.run++;
    t.cancelProbe();
    t.startedAt = v.state().startedAt() != null ? v.state().startedAt() : clock.instant();
    t.backoff.started(t.startedAt);
    Healthcheck h = v.config().healthcheck();
    t.check = h != null && h.enabled() ? h : null;
    t.health = t.check == null ? null : HealthState.starting();
    if (t.check != null) {
      scheduleProbe(t, t.run, HealthState.interval(t.check));
    }
  }

  // ---------------------------------------------------------------- restarts

  /** Caller holds {@code t}. */
  private void scheduleRestart(Task t, ContainerState decidedOn, Duration delay) {
    if (closed) {
      return;
    }
    t.cancelRestart();
    try {
      t.restart = timer.schedule(() -> submit(() -> restart(t, decidedOn)), delay.toNanos(), TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      // closing
    }
  }

  private void restart(Task t, ContainerState decidedOn) {
    synchronized (t) {
      if (t.restart == null || t.cancelled || closed) {
        return;
      }
    }
    ContainerRuntime rt = runtime.join();
    try {
      if (rt.restart(t.id, decidedOn).isEmpty()) {
        clearRestart(t);
      }
      // else: started() cleared it
    } catch (BerthException e) {
      clearRestart(t);
      if (e.kind() == BerthException.Kind.NOT_FOUND) {
        removed(t.id);
        return;
      }
      if (!(e instanceof ContainerRuntime.StartFailed)) {
        LOG.log(Level.WARNING, "restarting container " + t.id + " failed", e);
      }
      // The failed start counts as a run that ended: the policy decides again, with more backoff.
      try {
        exited(rt.inspect(t.id));
      } catch (BerthException gone) {
        removed(t.id);
      }
    } catch (RuntimeException e) {
      clearRestart(t);
      LOG.log(Level.WARNING, "restarting container " + t.id + " failed", e);
    }
  }

  private static void clearRestart(Task t) {
    synchronized (t) {
      t.restart = null;
    }
  }

  // ---------------------------------------------------------------- health checks

  /** Caller holds {@code t}. */
  private void scheduleProbe(Task t, long run, Duration after) {
    if (closed) {
      return;
    }
    try {
      t.probe = timer.schedule(() -> submit(() -> probe(t, run)), after.toNanos(), TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      // closing
    }
  }

  private void probe(Task t, long run) {
    Healthcheck h;
    synchronized (t) {
      if (t.run != run || t.check == null) {
        return;
      }
      h = t.check;
    }
    ContainerRuntime rt = runtime.join();
    Instant start = clock.instant();
    ContainerRuntime.ProbeResult r;
    try {
      r = rt.probe(t.id, h.command(), HealthState.timeout(h));
    } catch (RuntimeException e) {
      // Not running any more (its exit is on the way, and makes this run stale), or the shim
      // did not answer: a failed check either way.
      r = new ContainerRuntime.ProbeResult(-1, String.valueOf(e.getMessage()), false);
    }
    HealthResult result = new HealthResult(start, clock.instant(), r.exitCode(), r.output());
    HealthState before;
    HealthState after;
    synchronized (t) {
      if (t.run != run) {
        return;
      }
      before = t.health;
      after = before.next(result, Duration.between(t.startedAt, start), HealthState.retries(h), HealthState.startPeriod(h));
      t.health = after;
      // Docker counts the interval from the end of the last check.
      scheduleProbe(t, run, HealthState.interval(h));
    }
    tell(t.id, before, after);
  }

  private void tell(String id, HealthState before, HealthState after) {
    if (after == null || (before != null && before.status() == after.status())) {
      return;
    }
    LOG.fine(() -> "container " + id + " is " + after.status().word());
    for (HealthListener l : listeners) {
      try {
        l.healthChanged(id, before, after);
      } catch (RuntimeException e) {
        LOG.log(Level.WARNING, "a health listener failed", e);
      }
    }
  }

  private void submit(Runnable r) {
    try {
      work.execute(r);
    } catch (RejectedExecutionException e) {
      // closing
    }
  }

  @Override
  public void close() {
    closed = true;
    timer.shutdownNow();
    work.shutdownNow();
  }
}
