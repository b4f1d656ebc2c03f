package dev.berth.agent.jobs;

import dev.berth.agent.BerthException;
import dev.berth.agent.cluster.LeaderElections;
import dev.berth.proto.v1.AllocationState;
import dev.berth.proto.v1.StoredAllocation;
import dev.berth.proto.v1.StoredJob;
import dev.berth.proto.v1.StoredJobVersion;
import dev.berth.scheduler.ApplyResult;
import dev.berth.scheduler.Plan;
import dev.berth.scheduler.PlanApplier;
import dev.berth.scheduler.Scheduler;
import dev.berth.scheduler.model.Allocation;
import dev.berth.scheduler.model.AllocationStatus;
import dev.berth.scheduler.model.ClusterSnapshot;
import dev.berth.scheduler.model.Evaluation;
import dev.berth.scheduler.model.Job;
import dev.berth.scheduler.model.JobType;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The scheduler's loop, run by the one server that leads the topic {@value #TOPIC}: it takes the
 * jobs' pending evaluations (highest priority first, oldest first) and, every
 * {@code reconcileInterval}, evaluates every job again, so whatever changed — a node joined, went
 * down or drains, an allocation failed, capacity appeared for a blocked job — is acted on without
 * a trigger of its own, and a new leader finishes what the old one left.
 *
 * <p>An evaluation: read the cluster ({@link ClusterView}), compute a plan with the placement
 * engine, and commit it node by node, each node's allocations in one compare-and-set that
 * re-checks what the plan relied on ({@link PlanApplier}); what no longer fits is refused and the
 * job evaluated again, never forced. Allocations on nodes the servers judge down are marked lost
 * first, so the engine places them again (same index, next generation).
 *
 * <p>What moves when is {@link Replacements}' call: drains and rolling updates at
 * {@code update.max_parallel} per task group, failed allocations placed again under the job's
 * reschedule policy. The loop also keeps each job's rollout: a version all of whose replicas
 * became healthy is recorded as stable; one whose rollout fails is halted, or with
 * {@code auto_revert} replaced by a new version with the stable one's file.
 *
 * <p>It acts only on a view that holds a majority of the servers alive ({@link ClusterView.Read#quorum}):
 * a server cut off from the others cannot commit anyway (every read and write is a Raft
 * operation), and one whose liveness view is stale, right after a partition heals, must not mark
 * the nodes it has not heard from lost.
 *
 * <p>Leadership is checked again before each job of a round and before each node's write of a
 * plan: a leader that hears it was replaced (it was evicted while paused or cut off, and the
 * servers judged its node down) stops at once, leaving the rest to the new leader, which
 * evaluates every job as soon as it takes over. The writes are compare-and-set checked anyway,
 * so two leaders for a moment never overcommit a node; stopping keeps them from taking turns.
 *
 * <p>One thread; {@link #wake()} from any thread.
 */
public final class SchedulingLoop implements AutoCloseable {
  public static final String TOPIC = "scheduler";
  /** How long finished allocations that a newer generation replaced are kept for {@code job status}. */
  public static final Duration RETENTION = Duration.ofMinutes(10);
  /** How often pending evaluations are looked for when nothing wakes the loop. */
  static final Duration POLL = Duration.ofMillis(200);
  private static final int COMMIT_ATTEMPTS = 8;
  private static final Logger LOG = Logger.getLogger(SchedulingLoop.class.getName());

  /** Hears what the loop does; for metrics. Called on the loop's thread; must not block. */
  public interface Listener {
    Listener NONE = new Listener() {};

    /** One evaluation ran: how long it took, what it placed and stopped, and how many replicas wait. */
    default void evaluated(String job, long nanos, int placed, int stopped, int unplaced) {}

    /** Allocations were marked lost because their node is down. */
    default void lost(String node, int allocations) {}

    /** Whether this agent leads the scheduling now. */
    default void leading(boolean leader) {}

    /** A draining node has nothing left on it: its drain ended, it stays ineligible. */
    default void drained(String node) {}

    /**
     * A job version's rollout changed state: {@code successful} (it is now the stable version),
     * {@code failed} (halted), or {@code reverted} (to the stable version, as a new version).
     */
    default void rollout(String job, long version, String state, String message) {}

    /** What a round left: every job, and every node's allocations after the round's writes. */
    default void observed(List<StoredJob> jobs, Map<String, JobStore.NodeAllocations> allocations) {}
  }

  private final JobStore jobs;
  private final ClusterView view;
  private final LeaderElections elections;
  private final Scheduler scheduler;
  private final Clock clock;
  private final Duration reconcileInterval;
  private final Listener listener;
  private final Object signal = new Object();
  private boolean woken;
  /** A node was judged down since the last full round: the next round is a full one. */
  private volatile boolean nodeDown;
  private volatile boolean closed;
  private volatile boolean leading;
  private LeaderElections.Candidacy candidacy;
  private Thread thread;
  /** Parsed jobs by name and version: the loop's thread only. */
  private final Map<String, Job> parsed = new HashMap<>();
  private boolean noQuorumLogged;
  /** When this agent last took over the leadership (nanoTime), until its first round is done; 0 otherwise. */
  private long tookOverNanos;
  /** {@link #othersLeft} of the read it was computed from: every job of a round asks. */
  private ClusterView.Read othersLeftOf;
  private Set<String> othersLeft = Set.of();

  public SchedulingLoop(JobStore jobs, ClusterView view, LeaderElections elections, Scheduler scheduler, Clock clock,
      Duration reconcileInterval, Listener listener) {
    this.jobs = jobs;
    this.view = view;
    this.elections = elections;
    this.scheduler = scheduler;
    this.clock = clock;
    this.reconcileInterval = reconcileInterval;
    this.listener = listener;
  }

  public synchronized void start() {
    if (thread != null) {
      throw new IllegalStateException("started already");
    }
    thread = new Thread(this::run, "berth-scheduler");
    thread.setDaemon(true);
    thread.start();
  }

  /** Look for pending evaluations now (a job was submitted through this agent). */
  public void wake() {
    synchronized (signal) {
      woken = true;
      signal.notifyAll();
    }
  }

  /**
   * The servers judge {@code node} down: its allocations are to be placed elsewhere now, not at
   * the next reconcile tick (up to {@code reconcileInterval} later: from the verdict to the
   * allocations marked lost took 0.63 s at the median, 1.0 s at worst, in bench/failover.sh's
   * member phase). From any thread; does not block.
   */
  public void nodeDown(String node) {
    nodeDown = true;
    wake();
  }

  /** Whether this agent runs the scheduling now. */
  public boolean isLeader() {
    return leading;
  }

  private void run() {
    long nextFull = 0;
    while (!closed) {
      try {
        if (candidacy == null) {
          candidacy = elections.run(TOPIC);
          candidacy.onChange(l -> wake());
        }
        boolean lead = candidacy.isLeader();
        if (lead != leading) {
          leading = lead;
          listener.leading(lead);
          LOG.info(lead ? "leading the scheduler" : "no longer leading the scheduler");
          // A new leader evaluates every job at once: whatever its predecessor left undone.
          nextFull = 0;
          tookOverNanos = lead ? System.nanoTime() : 0;
        }
        if (lead) {
          long now = System.nanoTime();
          boolean full = now - nextFull >= 0 || nodeDown;
          if (full) {
            nodeDown = false;
            nextFull = now + reconcileInterval.toNanos();
          }
          round(full);
          if (tookOverNanos != 0) {
            LOG.info("first round as the scheduler's leader done "
                + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - tookOverNanos) + " ms after taking over");
            tookOverNanos = 0;
          }
        }
      } catch (LostLeadership e) {
        LOG.info("lost the scheduler's leadership: stopped " + e.getMessage() + "; the new leader evaluates it again");
      } catch (BerthException e) {
        // The cluster is starting, or no quorum answered: nothing can be placed until it does.
        LOG.log(Level.FINE, "scheduling round: " + e.getMessage(), e);
      } catch (RuntimeException e) {
        LOG.log(Level.WARNING, "scheduling round failed", e);
      }
      pause(leading ? POLL : reconcileInterval);
    }
  }

  private void pause(Duration d) {
    synchronized (signal) {
      if (!woken && !closed) {
        try {
          signal.wait(d.toMillis());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          closed = true;
        }
      }
      woken = false;
    }
  }

  /**
   * One round: mark what down nodes held as lost, then run the pending evaluations, and on a
   * full round evaluate every job and collect what is no longer needed. Package-private for
   * tests, which drive rounds themselves.
   */
  void round(boolean full) {
    List<JobStore.EvaluationEntry> evaluations = jobs.evaluations();
    boolean pending = evaluations.stream().anyMatch(e -> e.evaluation().getStatus().equals(Evaluations.PENDING));
    if (!full && !pending) {
      return;
    }
    ClusterView.Read read = view.read();
    if (!read.quorum()) {
      if (!noQuorumLogged) {
        LOG.warning("this server's view holds no majority of the servers alive: placing nothing and marking nothing"
            + " lost until it does");
        noQuorumLogged = true;
      }
      return;
    }
    noQuorumLogged = false;
    if (markLost(read)) {
      read = view.read();
    }
    Map<String, StoredJob> byName = new LinkedHashMap<>();
    jobs.jobs().forEach(j -> byName.put(j.getName(), j));
    Map<String, JobStore.EvaluationEntry> evalByJob = new HashMap<>();
    evaluations.forEach(e -> evalByJob.put(e.evaluation().getJob(), e));
    Set<String> order = new LinkedHashSet<>();
    evaluations.stream()
        .filter(e -> e.evaluation().getStatus().equals(Evaluations.PENDING))
        .sorted(Comparator.comparingInt((JobStore.EvaluationEntry e) -> -e.evaluation().getPriority())
            .thenComparingLong(e -> e.evaluation().getCreatedAtMillis()))
        .forEach(e -> order.add(e.evaluation().getJob()));
    if (full) {
      order.addAll(byName.keySet());
    }
    for (String name : order) {
      checkLeading("before job " + name);
      StoredJob job = byName.get(name);
      JobStore.EvaluationEntry eval = evalByJob.get(name);
      if (job == null) {
        if (eval != null) {
          jobs.forgetEvaluation(name);
        }
        continue;
      }
      if (evaluate(job, eval, read)) {
        read = view.read();
      }
    }
    listener.observed(List.copyOf(byName.values()), read.allocations());
    if (full) {
      drainsDone(read);
      collect(read, byName);
    }
  }

  /** Ends the drain of every draining node that holds nothing any more. */
  private void drainsDone(ClusterView.Read read) {
    for (String node : read.drains().keySet()) {
      JobStore.NodeAllocations held = read.allocations().get(node);
      if (held == null || held.allocations().stream().allMatch(JobCodec::terminal)) {
        view.drained(node);
        LOG.info("node " + node + " is drained: nothing left on it; it stays ineligible until activated");
        listener.drained(node);
      }
    }
  }

  /** The job a stored one means, parsed once per version. */
  private Job parsed(StoredJob stored) {
    String key = stored.getName() + "@" + stored.getVersion();
    Job j = parsed.get(key);
    if (j == null) {
      j = JobCodec.job(stored);
      if (parsed.size() > 1024) {
        parsed.clear();
      }
      parsed.put(key, j);
    }
    return j;
  }

  /**
   * Draining nodes that still hold a live allocation of a service or batch job (a job the loop
   * cannot read counts as one): a system job's allocations stay there until those have moved.
   */
  private Set<String> othersLeft(ClusterView.Read read) {
    if (read == othersLeftOf) {
      return othersLeft;
    }
    Set<String> out = new HashSet<>();
    Map<String, Boolean> system = new HashMap<>();
    for (String node : read.drains().keySet()) {
      JobStore.NodeAllocations held = read.allocations().get(node);
      if (held == null) {
        continue;
      }
      for (StoredAllocation a : held.allocations()) {
        if (!Replacements.live(a)) {
          continue;
        }
        boolean sys = system.computeIfAbsent(a.getJob(), name -> {
          try {
            return jobs.job(name).map(j -> parsed(j).type() == JobType.SYSTEM).orElse(false);
          } catch (RuntimeException e) {
            return false;
          }
        });
        if (!sys) {
          out.add(node);
          break;
        }
      }
    }
    othersLeftOf = read;
    othersLeft = out;
    return out;
  }

  /** Marks the live allocations of down nodes lost, asking their nodes to stop them should they come back. */
  private boolean markLost(ClusterView.Read read) {
    boolean changed = false;
    long now = clock.millis();
    for (String node : read.down()) {
      JobStore.NodeAllocations held = read.allocations().get(node);
      if (held == null || held.allocations().stream().allMatch(JobCodec::terminal)) {
        continue;
      }
      int[] count = new int[1];
      jobs.updateNode(node, list -> {
        count[0] = 0;
        List<StoredAllocation> out = new ArrayList<>(list.size());
        for (StoredAllocation a : list) {
          if (JobCodec.terminal(a)) {
            out.add(a);
          } else {
            count[0]++;
            out.add(a.toBuilder().setState(AllocationState.ALLOCATION_LOST_VALUE).setDesiredStop(true)
                .setDesiredReason("node " + node + " is down").setMessage("lost: node " + node + " is down")
                .setUpdatedAtMillis(now).build());
          }
        }
        return out;
      });
      if (count[0] > 0) {
        LOG.info("node " + node + " is down: " + count[0] + " allocation(s) lost, to be placed elsewhere");
        listener.lost(node, count[0]);
        changed = true;
      }
    }
    return changed;
  }

  /**
   * Evaluates one job against {@code read} and commits the plan. Returns whether anything was
   * written to the allocations (the caller reads the cluster again before the next job).
   */
  boolean evaluate(StoredJob stored, JobStore.EvaluationEntry eval, ClusterView.Read read) {
    long t0 = System.nanoTime();
    boolean isPending = eval != null && eval.evaluation().getStatus().equals(Evaluations.PENDING);
    Job job;
    try {
      job = parsed(stored);
    } catch (RuntimeException e) {
      record(stored, eval, Evaluations.COMPLETE, "the stored job file does not parse: " + e.getMessage());
      return false;
    }
    long now = clock.millis();
    List<StoredAllocation> mine = new ArrayList<>();
    read.allocations().values().forEach(n -> n.allocations().stream()
        .filter(a -> a.getJob().equals(job.name())).forEach(mine::add));
    Replacements.Decision decision = Replacements.decide(job, stored.getVersion(),
        Deployments.FAILED.equals(stored.getDeployment()), mine, read.drains(),
        read.drains().isEmpty() ? Set.of() : othersLeft(read), now);
    String id = isPending ? eval.evaluation().getId() : java.util.UUID.randomUUID().toString();
    String taken = id + "-";
    if (isPending && mine.stream().anyMatch(a -> a.getId().startsWith(taken))) {
      // A former leader died (or was replaced) in the middle of this evaluation's commit: the ids
      // its placements took (the evaluation's and an ordinal) would be refused as existing, and
      // the rest placed only by one more evaluation. This attempt's placements get ids of their own.
      id = java.util.UUID.randomUUID().toString();
    }
    Evaluation.Trigger trigger = isPending ? trigger(eval.evaluation().getTrigger()) : Evaluation.Trigger.PENDING_RETRY;
    List<String> notes = new ArrayList<>(decision.notes());
    Set<String> startFirst = new LinkedHashSet<>(decision.startFirst());
    Plan plan = scheduler.schedule(engineView(read.snapshot(), decision, startFirst), Evaluation.of(id, job, trigger));
    // A start-first replica with no room for its new copy beside the old one (a fixed host port the
    // old copy holds, a full cluster) is replaced stop-first: its old copy goes, then the new one
    // is placed where the old one was if need be.
    Set<String> fallback = new LinkedHashSet<>();
    for (String old : startFirst) {
      Allocation a = read.snapshot().allocation(old);
      if (a != null && plan.groups().stream().anyMatch(g -> g.taskGroup().equals(a.taskGroup())
          && g.unplaced().indices().contains(a.index()))) {
        fallback.add(old);
        notes.add(a.taskGroup() + "[" + a.index() + "]: no node has room for its new copy while the old one runs on "
            + a.node() + fixedPorts(a) + "; replaced stop-first");
      }
    }
    if (!fallback.isEmpty()) {
      startFirst.removeAll(fallback);
      plan = scheduler.schedule(engineView(read.snapshot(), decision, startFirst), Evaluation.of(id, job, trigger));
    }
    Map<String, String> reasons = new HashMap<>(decision.replace());
    reasons.putAll(decision.retire());
    int refused = 0;
    boolean wrote = false;
    if (!plan.placements().isEmpty() || !plan.stops().isEmpty()) {
      Commit c = commit(plan, stored, job, read, reasons);
      refused = c.refused;
      wrote = c.wrote;
    }
    rollout(stored, job, decision.rollout(), refused == 0 && plan.complete());
    int unplaced = plan.groups().stream().mapToInt(g -> g.unplaced().indices().size()).sum();
    listener.evaluated(stored.getName(), System.nanoTime() - t0, plan.placements().size() - refused,
        plan.stops().size(), unplaced);
    if (refused > 0) {
      // What the plan relied on changed meanwhile: evaluate again, against the new state.
      jobs.trigger(stored.getName(), Evaluation.Trigger.PENDING_RETRY.name(), job.priority(), stored.getVersion(),
          clock.millis());
      return wrote;
    }
    String summary = summary(plan);
    if (!notes.isEmpty()) {
      summary = summary + "; " + String.join("; ", notes);
    }
    record(stored, eval, plan.complete() ? Evaluations.COMPLETE : Evaluations.BLOCKED, summary);
    return wrote;
  }

  /**
   * The cluster as the placement engine is to see it for one job's evaluation. The engine knows
   * one live allocation per replica index (the newest generation; any older live one it stops as
   * superseded), so the copies a start-first update runs beside each other are shown to it as
   * follows: an old copy whose replacement is to be placed now ({@code startFirst}) appears
   * stopped, so that the engine places the next generation without stopping it; an old copy that
   * is {@linkplain Replacements.Decision#keep kept} while its replacement is not yet healthy does
   * not appear as the job's. Both still hold their resources and host ports on their node, as an
   * allocation of no job, so that nothing is placed into room they hold. The commit checks the
   * plan against the allocations as stored, as always.
   */
  static ClusterSnapshot engineView(ClusterSnapshot snapshot, Replacements.Decision decision, Set<String> startFirst) {
    Set<String> replace = new LinkedHashSet<>(decision.replace().keySet());
    replace.removeAll(startFirst);
    if (startFirst.isEmpty() && decision.keep().isEmpty()) {
      return snapshot.withDecisions(replace, decision.held());
    }
    List<Allocation> shown = new ArrayList<>(snapshot.allocations().size() + startFirst.size());
    for (Allocation a : snapshot.allocations()) {
      boolean first = startFirst.contains(a.id());
      if ((first || decision.keep().contains(a.id())) && a.status().holdsResources()) {
        shown.add(new Allocation(a.id() + "\u0000held", "\u0000held by " + a.job(), a.taskGroup(), a.index(), a.node(),
            a.resources(), a.ports(), a.generation(), a.status()));
        if (first) {
          shown.add(a.withStatus(AllocationStatus.STOPPED));
        }
      } else {
        shown.add(a);
      }
    }
    return snapshot.withAllocations(snapshot.index(), shown).withDecisions(replace, decision.held());
  }

  private static String fixedPorts(Allocation a) {
    List<String> fixed = a.ports().stream().filter(p -> !p.dynamic()).map(p -> Integer.toString(p.host())).toList();
    return fixed.isEmpty() ? "" : " (its fixed host port" + (fixed.size() > 1 ? "s " : " ") + String.join(", ", fixed)
        + " there)";
  }

  /**
   * Keeps the job's rollout: records a completed one's version as stable; halts a failed one, or
   * with {@code auto_revert} registers the stable version's file as a new version.
   */
  private void rollout(StoredJob stored, Job job, Replacements.Rollout r, boolean placedAll) {
    String state = stored.getDeployment();
    boolean tracked = state.equals(Deployments.RUNNING);
    if (r.failure() != null && tracked) {
      fail(stored, job, r.failure());
    } else if (r.complete() && placedAll && (tracked || state.isEmpty())) {
      long version = stored.getVersion();
      jobs.updateJob(stored.getName(), cur -> cur == null || cur.getVersion() != version ? cur
          // The message stays: after a revert it says what was reverted.
          : cur.toBuilder().setDeployment(Deployments.SUCCESSFUL)
              .setStable(StoredJobVersion.newBuilder().setVersion(cur.getVersion()).setSource(cur.getSource())
                  .setText(cur.getText()).putAllCounts(cur.getCountsMap()))
              .build());
      if (tracked) {
        LOG.info("job " + stored.getName() + " version " + version + ": every replica healthy; it is the stable version");
        listener.rollout(stored.getName(), version, Deployments.SUCCESSFUL, "");
      }
    }
  }

  private void fail(StoredJob stored, Job job, String why) {
    long version = stored.getVersion();
    long now = clock.millis();
    boolean[] reverted = new boolean[1];
    StoredJob after = jobs.updateJob(stored.getName(), cur -> {
      reverted[0] = false;
      if (cur == null || cur.getVersion() != version || !cur.getDeployment().equals(Deployments.RUNNING)) {
        return cur;
      }
      StoredJobVersion stable = cur.hasStable() ? cur.getStable() : null;
      boolean same = stable != null && stable.getText().equals(cur.getText())
          && stable.getCountsMap().equals(cur.getCountsMap());
      if (job.update().autoRevert() && stable != null && !same && !cur.getStopped()) {
        reverted[0] = true;
        List<StoredJobVersion> history = new ArrayList<>(cur.getHistoryList());
        for (int i = 0; i < history.size(); i++) {
          if (history.get(i).getVersion() == version) {
            history.set(i, history.get(i).toBuilder().setDeployment(Deployments.FAILED).setDeploymentMessage(why).build());
          }
        }
        return cur.toBuilder().clearHistory().addAllHistory(history).setText(stable.getText()).setSource(stable.getSource()).clearCounts()
            .putAllCounts(stable.getCountsMap()).setVersion(version + 1).setSubmittedAtMillis(now)
            .setDeployment(Deployments.RUNNING)
            .setDeploymentMessage("version " + version + " failed (" + why + "); reverted to version "
                + stable.getVersion())
            .build();
      }
      return cur.toBuilder().setDeployment(Deployments.FAILED).setDeploymentMessage(why).build();
    }).orElse(null);
    if (after == null) {
      return;
    }
    if (reverted[0]) {
      LOG.warning("job " + stored.getName() + ": " + after.getDeploymentMessage());
      jobs.trigger(stored.getName(), Evaluation.Trigger.JOB_REGISTER.name(), job.priority(), after.getVersion(), now);
      listener.rollout(stored.getName(), version, Deployments.REVERTED, after.getDeploymentMessage());
    } else if (after.getDeployment().equals(Deployments.FAILED) && after.getVersion() == version) {
      LOG.warning("job " + stored.getName() + " version " + version + ": rollout failed, halted: " + why);
      listener.rollout(stored.getName(), version, Deployments.FAILED, why);
    }
  }

  private record Commit(int refused, boolean wrote) {}

  /**
   * Commits a plan node by node; each node's part is re-checked against its allocations as they
   * are now. {@code reasons} names why the loop asked for a replacement (a drain, a rolling
   * update), over the engine's "replaced".
   */
  private Commit commit(Plan plan, StoredJob stored, Job job, ClusterView.Read read, Map<String, String> reasons) {
    Map<String, String> specs = new HashMap<>();
    job.groups().forEach(g -> specs.put(g.name(), JobCodec.spec(g)));
    boolean system = job.type() == JobType.SYSTEM;
    Map<String, StoredAllocation> previous = latestByReplica(read, job.name(), system);
    Set<String> nodes = new LinkedHashSet<>(plan.placementsByNode().keySet());
    plan.stops().forEach(s -> nodes.add(s.allocation().node()));
    int refused = 0;
    boolean wrote = false;
    long now = clock.millis();
    for (String node : nodes) {
      checkLeading("in the middle of job " + stored.getName() + "'s plan, before node " + node);
      Plan part = restrict(plan, node);
      for (int attempt = 0; ; attempt++) {
        JobStore.NodeAllocations cur = attempt == 0
            ? read.allocations().getOrDefault(node, new JobStore.NodeAllocations(node, List.of(), 0))
            : jobs.nodeAllocations(node);
        ApplyResult r = PlanApplier.apply(withNode(read.snapshot(), node, cur.allocations()), part);
        Map<String, String> stops = new HashMap<>();
        r.stopped().forEach(s -> stops.put(s.allocation().id(), reasons.getOrDefault(s.allocation().id(), s.reason())));
        List<StoredAllocation> next = new ArrayList<>(cur.allocations().size() + r.placed().size());
        for (StoredAllocation a : cur.allocations()) {
          String why = stops.get(a.getId());
          next.add(why == null || a.getDesiredStop() ? a
              : a.toBuilder().setDesiredStop(true).setDesiredReason(why).setUpdatedAtMillis(now).build());
        }
        for (Allocation a : r.placed()) {
          StoredAllocation placed = JobCodec.placed(a, stored.getVersion(), specs.getOrDefault(a.taskGroup(), ""), now);
          next.add(jobs.tagged(withHistory(placed, previous.get(replicaKey(a.taskGroup(), a.index(), a.node(), system)),
              now), job));
        }
        if (next.equals(cur.allocations()) || jobs.replace(cur, next)) {
          refused += r.refused().size();
          wrote |= !next.equals(cur.allocations());
          r.refused().forEach(x -> LOG.fine("placement refused on " + node + ": " + x.reason()));
          break;
        }
        if (attempt + 1 >= COMMIT_ATTEMPTS) {
          refused += part.placements().size();
          break;
        }
      }
    }
    return new Commit(refused, wrote);
  }

  /**
   * Thrown out of a round when this agent hears it no longer leads: what is left of the round is
   * the new leader's. Tests that drive rounds without an election always lead.
   */
  private static final class LostLeadership extends RuntimeException {
    LostLeadership(String where) {
      super(where, null, false, false);
    }
  }

  private void checkLeading(String where) {
    LeaderElections.Candidacy c = candidacy;
    if (c != null && !c.isLeader()) {
      throw new LostLeadership(where);
    }
  }

  /** How many reschedule times an allocation carries: enough for any attempts/interval a file sets sensibly. */
  static final int HISTORY = 32;

  /**
   * The latest allocation of each replica of a job, which a placement of that replica takes over
   * from: by index (the highest generation), or for a system job by node (the highest index).
   */
  private static Map<String, StoredAllocation> latestByReplica(ClusterView.Read read, String job, boolean system) {
    Map<String, StoredAllocation> out = new HashMap<>();
    for (JobStore.NodeAllocations n : read.allocations().values()) {
      for (StoredAllocation a : n.allocations()) {
        if (a.getJob().equals(job)) {
          out.merge(replicaKey(a.getGroup(), a.getIndex(), a.getNode(), system), a, (x, y) -> (system
              ? y.getIndex() > x.getIndex() : y.getGeneration() > x.getGeneration()) ? y : x);
        }
      }
    }
    return out;
  }

  private static String replicaKey(String group, int index, String node, boolean system) {
    return group + "\u0000" + (system ? node : Integer.toString(index));
  }

  /**
   * A new allocation with its replica's reschedule history: the predecessor's, plus now when the
   * predecessor failed (this placement is a reschedule).
   */
  static StoredAllocation withHistory(StoredAllocation placed, StoredAllocation previous, long now) {
    if (previous == null) {
      return placed;
    }
    List<Long> times = new ArrayList<>(previous.getRescheduleTimesMillisList());
    if (Replacements.failed(previous)) {
      times.add(now);
    }
    if (times.size() > HISTORY) {
      times = times.subList(times.size() - HISTORY, times.size());
    }
    return placed.toBuilder().addAllRescheduleTimesMillis(times).setPreviousAllocation(previous.getId())
        .setPreviousNode(previous.getNode()).build();
  }

  private static Plan restrict(Plan plan, String node) {
    List<Plan.GroupPlan> groups = new ArrayList<>();
    for (Plan.GroupPlan g : plan.groups()) {
      groups.add(new Plan.GroupPlan(g.taskGroup(),
          g.placements().stream().filter(a -> a.node().equals(node)).toList(),
          g.stops().stream().filter(s -> s.allocation().node().equals(node)).toList(),
          Plan.Unplaced.NONE, List.of(), 0));
    }
    return new Plan(plan.evaluationId(), plan.job(), plan.snapshotIndex(), groups);
  }

  private static ClusterSnapshot withNode(ClusterSnapshot snapshot, String node, List<StoredAllocation> now) {
    List<Allocation> all = new ArrayList<>(snapshot.allocations().size() + now.size());
    for (Allocation a : snapshot.allocations()) {
      if (!a.node().equals(node)) {
        all.add(a);
      }
    }
    now.forEach(a -> all.add(JobCodec.allocation(a)));
    return new ClusterSnapshot(snapshot.index() + 1, snapshot.nodes(), all, snapshot.replace());
  }

  /** Records the outcome: a pending evaluation is finished; otherwise only a changed outcome is written. */
  private void record(StoredJob job, JobStore.EvaluationEntry eval, String status, String summary) {
    if (eval != null && eval.evaluation().getStatus().equals(Evaluations.PENDING)) {
      jobs.finish(eval, status, summary);
      return;
    }
    if (eval != null && eval.evaluation().getStatus().equals(status) && eval.evaluation().getSummary().equals(summary)) {
      return;
    }
    jobs.note(job.getName(), status, summary, job.getVersion(), clock.millis());
  }

  static String summary(Plan plan) {
    if (plan.complete()) {
      return "all replicas placed";
    }
    List<String> parts = new ArrayList<>();
    for (Plan.GroupPlan g : plan.groups()) {
      if (!g.unplaced().indices().isEmpty()) {
        parts.add(g.taskGroup() + ": " + g.unplaced().summary());
      }
    }
    return String.join("; ", parts);
  }

  private static Evaluation.Trigger trigger(String name) {
    try {
      return Evaluation.Trigger.valueOf(name);
    } catch (IllegalArgumentException e) {
      return Evaluation.Trigger.PENDING_RETRY;
    }
  }

  /**
   * Forgets what is no longer needed: purged jobs whose allocations have all ended, allocations of
   * jobs that are gone, and ended allocations that a newer generation replaced more than
   * {@link #RETENTION} ago.
   */
  private void collect(ClusterView.Read read, Map<String, StoredJob> jobsByName) {
    long cutoff = clock.millis() - RETENTION.toMillis();
    Map<String, Long> latest = new HashMap<>();
    Set<String> live = new HashSet<>();
    for (JobStore.NodeAllocations n : read.allocations().values()) {
      for (StoredAllocation a : n.allocations()) {
        latest.merge(replica(a), a.getGeneration(), Math::max);
        if (!JobCodec.terminal(a)) {
          live.add(a.getJob());
        }
      }
    }
    for (StoredJob j : jobsByName.values()) {
      if (j.getStopped() && j.getPurge() && !live.contains(j.getName())) {
        jobs.updateJob(j.getName(), cur -> cur != null && cur.getPurge() && cur.getStopped() ? null : cur);
        jobs.forgetEvaluation(j.getName());
        LOG.info("job " + j.getName() + " purged");
      }
    }
    for (JobStore.NodeAllocations n : read.allocations().values()) {
      boolean any = n.allocations().stream().anyMatch(a -> collectable(a, jobsByName, latest, cutoff));
      if (any) {
        jobs.updateNode(n.node(), list -> list.stream().filter(a -> !collectable(a, jobsByName, latest, cutoff)).toList());
      }
    }
  }

  private static boolean collectable(StoredAllocation a, Map<String, StoredJob> jobs, Map<String, Long> latest,
      long cutoff) {
    if (!JobCodec.terminal(a)) {
      return false;
    }
    StoredJob j = jobs.get(a.getJob());
    if (j == null || (j.getStopped() && j.getPurge())) {
      return true;
    }
    return latest.getOrDefault(replica(a), a.getGeneration()) > a.getGeneration() && a.getUpdatedAtMillis() < cutoff;
  }

  private static String replica(StoredAllocation a) {
    return a.getJob() + "\u0000" + a.getGroup() + "\u0000" + a.getIndex();
  }

  @Override
  public void close() {
    closed = true;
    wake();
    Thread t;
    synchronized (this) {
      t = thread;
    }
    if (t != null) {
      try {
        t.join(TimeUnit.SECONDS.toMillis(5));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (candidacy != null) {
      try {
        candidacy.close();
      } catch (RuntimeException e) {
        LOG.log(Level.FINE, "withdrawing from the scheduler election", e);
      }
    }
  }
}
