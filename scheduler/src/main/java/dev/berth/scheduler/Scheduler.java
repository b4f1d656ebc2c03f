package dev.berth.scheduler;

import dev.berth.scheduler.Plan.FilterTally;
import dev.berth.scheduler.Plan.GroupPlan;
import dev.berth.scheduler.Plan.NodeExplanation;
import dev.berth.scheduler.Plan.Stop;
import dev.berth.scheduler.Plan.Unplaced;
import dev.berth.scheduler.model.Allocation;
import dev.berth.scheduler.model.AllocationStatus;
import dev.berth.scheduler.model.ClusterSnapshot;
import dev.berth.scheduler.model.Evaluation;
import dev.berth.scheduler.model.Job;
import dev.berth.scheduler.model.JobType;
import dev.berth.scheduler.model.PortMapping;
import dev.berth.scheduler.model.TaskGroup;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The placement engine: {@link #schedule} turns a snapshot of the cluster and an evaluation of
 * one job into a {@link Plan}.
 *
 * <p>A pure function: it reads the immutable snapshot, keeps every bit of its working state in
 * objects made for the one call, touches no I/O, clock or shared mutable state, and takes every
 * random choice from a generator seeded with {@link Evaluation#seed()}. The same snapshot and
 * evaluation give the same plan, so a placement can be replayed; and one {@code Scheduler} may be
 * used by several threads at once.
 *
 * <p>Per task group: reconcile what runs with what is wanted (keep, stop, replace, place), apply
 * every stop of the plan first so its capacity can be reused, then for each replica to place:
 * sample candidates through the filters ({@link CandidateSampler}), score them
 * ({@link Pipeline}), take the best, and count its resources and ports at once so that the next
 * replica sees them.
 *
 * <ul>
 *   <li>service: {@code count} replicas are kept running; extra ones are stopped, highest index
 *       first; any that ended, failed or must move are replaced (same index, next generation).
 *   <li>batch: as service, but a replica that completed is not replaced.
 *   <li>system: one replica on every node that passes the static filters (ready, eligible, not
 *       draining, constraints, volumes); copies on nodes that no longer do are stopped, except on
 *       nodes that are merely not ready or draining (whether those are down, and when a drain
 *       takes them, is the caller's call).
 * </ul>
 *
 * <p>A replica whose latest allocation ended and is {@linkplain ClusterSnapshot#held held} is
 * left as it is; one placed again after a failure prefers nodes it has not failed on
 * ({@link dev.berth.scheduler.score.ReschedulePenaltyScorer}).
 */
public final class Scheduler {

  /**
   * How many more samples a rescheduled replica draws when its best candidate is a node it failed
   * on: Nomad's limit iterator skips up to three such nodes; a sample is a few nodes at once.
   */
  static final int RESCHEDULE_EXTRA_SAMPLES = 3;

  private final SchedulerConfig config;
  private final Pipeline pipeline;

  public Scheduler() {
    this(SchedulerConfig.DEFAULT);
  }

  public Scheduler(SchedulerConfig config) {
    this(config, Pipeline.standard(config));
  }

  public Scheduler(SchedulerConfig config, Pipeline pipeline) {
    this.config = config;
    this.pipeline = pipeline;
  }

  public SchedulerConfig config() {
    return config;
  }

  /** The plan for the evaluation's job on this snapshot. Never fails on a valid model. */
  public Plan schedule(ClusterSnapshot snapshot, Evaluation evaluation) {
    return schedule(snapshot, evaluation, PlacementObserver.NONE);
  }

  /** As {@link #schedule(ClusterSnapshot, Evaluation)}, telling {@code observer} each placement. */
  public Plan schedule(ClusterSnapshot snapshot, Evaluation evaluation,
      PlacementObserver observer) {
    PlacementContext ctx =
        new PlacementContext(snapshot, evaluation.id(), evaluation.seed(), config);
    Job job = evaluation.job();
    List<Allocation> existing = snapshot.allocationsOf(job.name());
    Map<String, List<Allocation>> byGroup = new LinkedHashMap<>();
    for (TaskGroup g : job.groups()) {
      byGroup.put(g.name(), new ArrayList<>());
    }
    List<Allocation> orphans = new ArrayList<>();
    for (Allocation a : existing) {
      List<Allocation> l = byGroup.get(a.taskGroup());
      (l == null ? orphans : l).add(a);
    }

    // 1. Decide every stop and what to place, then give back what the stops held.
    List<GroupWork> work = new ArrayList<>();
    for (TaskGroup g : job.groups()) {
      GroupWork w = job.type() == JobType.SYSTEM
          ? reconcileSystem(ctx, job, g, byGroup.get(g.name()))
          : reconcile(ctx, job, g, byGroup.get(g.name()));
      work.add(w);
    }
    Map<String, List<Stop>> orphanStops = new LinkedHashMap<>();
    for (Allocation a : orphans) {
      if (a.status().holdsResources()) {
        orphanStops.computeIfAbsent(a.taskGroup(), k -> new ArrayList<>())
            .add(new Stop(a, "task group removed from the job"));
      }
    }
    for (GroupWork w : work) {
      w.stops.forEach(s -> ctx.release(s.allocation()));
    }
    orphanStops.values().forEach(l -> l.forEach(s -> ctx.release(s.allocation())));

    // 2. Place, group by group, in the job's order.
    List<GroupPlan> plans = new ArrayList<>();
    for (GroupWork w : work) {
      plans.add(job.type() == JobType.SYSTEM ? placeSystem(ctx, w, observer)
          : place(ctx, w, observer));
    }
    orphanStops.forEach((group, stops) -> plans.add(
        new GroupPlan(group, List.of(), sortStops(stops), Unplaced.NONE, List.of(), 0)));
    return new Plan(evaluation.id(), job.name(), snapshot.index(), plans);
  }

  /** One task group's decisions before placement. */
  private static final class GroupWork {
    final GroupContext group;
    final Pipeline.Bound bound;
    final List<Stop> stops = new ArrayList<>();
    /** Per replica to place: index and generation. */
    final List<long[]> toPlace = new ArrayList<>();
    /** System jobs: node positions that already hold a replica being kept. */
    final Set<Integer> covered = new HashSet<>();
    int nextIndex;

    GroupWork(GroupContext group, Pipeline.Bound bound) {
      this.group = group;
      this.bound = bound;
    }
  }

  private GroupWork reconcile(PlacementContext ctx, Job job, TaskGroup g, List<Allocation> allocs) {
    int count = job.stopped() ? 0 : g.count();
    GroupContext group = new GroupContext(ctx, job, g, count);
    ClusterSnapshot snap = ctx.snapshot;
    // Before the scorers bind: whether a reschedule penalty applies to this group at all.
    Map<Integer, Set<Integer>> failed = new HashMap<>();
    for (Allocation a : allocs) {
      int node = snap.position(a.node());
      if (a.status() == AllocationStatus.FAILED && node >= 0) {
        failed.computeIfAbsent(a.index(), k -> new TreeSet<>()).add(node);
      }
    }
    if (!failed.isEmpty()) {
      Map<Integer, int[]> byIndex = new HashMap<>();
      failed.forEach((i, nodes) -> byIndex.put(i, nodes.stream().mapToInt(Integer::intValue).toArray()));
      group.failures(byIndex);
    }
    GroupWork w = new GroupWork(group, pipeline.bind(group));
    Map<Integer, Allocation> latest = new HashMap<>();
    for (Allocation a : allocs) {
      latest.merge(a.index(), a, (x, y) -> y.generation() > x.generation() ? y : x);
    }
    for (Allocation a : allocs) {
      if (!a.status().holdsResources()) {
        continue;
      }
      if (a.index() >= count) {
        w.stops.add(new Stop(a, job.stopped() ? "job stopped" : "scaled down"));
      } else if (latest.get(a.index()) != a) {
        w.stops.add(new Stop(a, "superseded by generation " + latest.get(a.index()).generation()));
      } else if (snap.needsReplacement(a)) {
        w.stops.add(new Stop(a, "replaced"));
      } else {
        int node = snap.position(a.node());
        if (node >= 0) {
          group.countReplica(node, 1);
        }
      }
    }
    for (int index = 0; index < count; index++) {
      Allocation a = latest.get(index);
      if (a == null) {
        w.toPlace.add(new long[] {index, 0});
      } else if (a.status().holdsResources() && !snap.needsReplacement(a)) {
        continue; // kept
      } else if (a.status() == AllocationStatus.COMPLETE && job.type() == JobType.BATCH
          && !snap.replace().contains(a.id())) {
        continue; // a batch replica that completed is done
      } else if (snap.isHeld(a)) {
        continue; // the caller places it again later (a reschedule delay), or never
      } else {
        w.toPlace.add(new long[] {index, a.generation() + 1});
      }
    }
    w.stops.sort(STOP_ORDER);
    return w;
  }

  private GroupWork reconcileSystem(PlacementContext ctx, Job job, TaskGroup g,
      List<Allocation> allocs) {
    GroupContext group = new GroupContext(ctx, job, g, ctx.nodeCount());
    GroupWork w = new GroupWork(group, pipeline.bind(group));
    ClusterSnapshot snap = ctx.snapshot;
    for (Allocation a : allocs) {
      w.nextIndex = Math.max(w.nextIndex, a.index() + 1);
    }
    for (Allocation a : allocs) {
      if (!a.status().holdsResources()) {
        int node = snap.position(a.node());
        if (node >= 0 && snap.isHeld(a) && !job.stopped()) {
          w.covered.add(node); // its replacement on this node waits (a reschedule delay)
        }
        continue;
      }
      int node = snap.position(a.node());
      String why = null;
      if (job.stopped()) {
        why = "job stopped";
      } else if (node < 0) {
        why = "node gone";
      } else if (snap.needsReplacement(a)) {
        why = "replaced";
      } else if (w.covered.contains(node)) {
        why = "another replica runs on this node";
      } else if (ctx.table.node(node).ready() && !ctx.table.node(node).draining()) {
        // A node that is merely not ready keeps its replica: whether it is down is the caller's
        // call; so does a draining one: when its system replicas go (at the drain's deadline, or
        // once the rest has moved) is the caller's call too, made through replace(). One that is
        // ineligible or no longer matches loses it.
        String rejection = w.bound.staticRejection(node);
        if (rejection != null) {
          why = "node no longer a target: " + rejection;
        }
      }
      if (why != null) {
        w.stops.add(new Stop(a, why));
      } else {
        w.covered.add(node);
        group.countReplica(node, 1);
      }
    }
    w.stops.sort(STOP_ORDER);
    return w;
  }

  private static final Comparator<Stop> STOP_ORDER =
      Comparator.comparingInt((Stop s) -> s.allocation().index()).reversed()
          .thenComparing(s -> s.allocation().id());

  private static List<Stop> sortStops(List<Stop> stops) {
    List<Stop> s = new ArrayList<>(stops);
    s.sort(STOP_ORDER);
    return s;
  }

  private GroupPlan place(PlacementContext ctx, GroupWork w, PlacementObserver observer) {
    GroupContext group = w.group;
    Pipeline.Bound bound = w.bound;
    List<Allocation> placed = new ArrayList<>(w.toPlace.size());
    List<Integer> pending = new ArrayList<>();
    long checks = 0;
    if (!w.toPlace.isEmpty()) {
      int limit = config.candidates(ctx.nodeCount());
      CandidateSampler sampler = new CandidateSampler(group, bound, ctx.random, limit);
      int[] candidates = new int[limit];
      for (long[] r : w.toPlace) {
        int index = (int) r[0];
        group.placing(index);
        int found = sampler.sample(candidates);
        if (found == 0) {
          pending.add(index);
          continue;
        }
        int best = candidates[0];
        double bestScore = bound.score(best);
        for (int i = 1; i < found; i++) {
          double s = bound.score(candidates[i]);
          if (s > bestScore) {
            bestScore = s;
            best = candidates[i];
          }
        }
        // A replica placed again after failing, whose sample held only nodes it failed on:
        // look a little further, as Nomad's limit iterator skips low-scoring nodes.
        for (int extra = 0; extra < RESCHEDULE_EXTRA_SAMPLES && group.failedBefore(best); extra++) {
          int more = sampler.sample(candidates);
          for (int i = 0; i < more; i++) {
            double s = bound.score(candidates[i]);
            if (s > bestScore) {
              bestScore = s;
              best = candidates[i];
            }
          }
        }
        Allocation a = allocate(ctx, w, best, index, r[1]);
        placed.add(a);
        observer.placed(a);
      }
      checks = sampler.visits;
    }
    return finish(ctx, w, placed, pending, checks);
  }

  private GroupPlan placeSystem(PlacementContext ctx, GroupWork w, PlacementObserver observer) {
    List<Allocation> placed = new ArrayList<>();
    List<Integer> pending = new ArrayList<>();
    if (w.group.job().stopped()) {
      return finish(ctx, w, placed, pending, 0); // a stopped job is only stopped, never placed
    }
    int n = ctx.nodeCount();
    for (int node = 0; node < n; node++) {
      if (w.covered.contains(node)) {
        continue;
      }
      if (w.bound.feasible(node)) {
        Allocation a = allocate(ctx, w, node, w.nextIndex++, 0);
        placed.add(a);
        observer.placed(a);
      } else if (!w.bound.rejectedByStatic(node)) {
        pending.add(w.nextIndex++); // a target node without room: a replica is pending
      }
    }
    return finish(ctx, w, placed, pending, n);
  }

  private Allocation allocate(PlacementContext ctx, GroupWork w, int node, int index,
      long generation) {
    GroupContext group = w.group;
    TaskGroup g = group.group();
    List<PortMapping> ports = ctx.reserve(node, g.resources(), g.ports());
    group.countReplica(node, 1);
    w.bound.touched(node);
    return new Allocation(ctx.newAllocationId(), group.job().name(), g.name(), index,
        ctx.table.id(node), g.resources(), ports, generation, AllocationStatus.PENDING);
  }

  private GroupPlan finish(PlacementContext ctx, GroupWork w, List<Allocation> placed,
      List<Integer> pending, long checks) {
    Pipeline.Bound bound = w.bound;
    int n = ctx.nodeCount();
    // Explanations hold each rejection as its filter recorded it; nothing is put into words here,
    // and without explainAll not even an explanation is made until one is read.
    List<NodeExplanation> explanations;
    int[] perFilter = new int[bound.names.length];
    int[] sampleOf = new int[bound.names.length];
    if (config.explainAll()) {
      for (int node = 0; node < n; node++) {
        bound.feasible(node); // records a rejection for every node that has one now
      }
      Map<Integer, Integer> chosen = new HashMap<>();
      for (Allocation a : placed) {
        chosen.merge(ctx.snapshot.position(a.node()), 1, Integer::sum);
      }
      explanations = new ArrayList<>(n);
      for (int node = 0; node < n; node++) {
        if (bound.rejectingFilter(node) >= 0) {
          explanations.add(rejected(ctx, bound, node, perFilter, sampleOf));
        } else {
          Integer c = chosen.get(node);
          explanations.add(new NodeExplanation(ctx.table.id(node), ctx.table.name(node), null,
              c == null ? "not chosen (other nodes scored higher or were sampled instead)"
                  : "chosen for " + c + (c == 1 ? " replica" : " replicas")));
        }
      }
    } else {
      int[] rejected = bound.rejectedNodes();
      if (!pending.isEmpty()) {
        for (int node : rejected) {
          int f = bound.rejectingFilter(node);
          if (perFilter[f]++ == 0) {
            sampleOf[f] = node; // the first in position order
          }
        }
      }
      explanations = bound.explanations(ctx.table, rejected);
    }
    Unplaced unplaced = Unplaced.NONE;
    if (!pending.isEmpty()) {
      List<Integer> filters = new ArrayList<>();
      for (int f = 0; f < perFilter.length; f++) {
        if (perFilter[f] > 0) {
          filters.add(f);
        }
      }
      // Most frequent first; on a tie, the filter whose first rejected node comes first.
      filters.sort(Comparator.comparingInt((Integer f) -> -perFilter[f])
          .thenComparingInt(f -> sampleOf[f]));
      List<FilterTally> tallies = new ArrayList<>();
      for (int f : filters) {
        int node = sampleOf[f];
        tallies.add(new FilterTally(bound.names[f], perFilter[f], ctx.table.name(node),
            bound.rejection(node).reason()));
      }
      unplaced = new Unplaced(pending, tallies);
    }
    return new GroupPlan(w.group.group().name(), placed, w.stops, unplaced, explanations, checks);
  }

  /** The explanation of a rejected node; counts it for its filter. */
  private static NodeExplanation rejected(PlacementContext ctx, Pipeline.Bound bound, int node,
      int[] perFilter, int[] sampleOf) {
    int f = bound.rejectingFilter(node);
    if (perFilter[f]++ == 0) {
      sampleOf[f] = node; // the first in position order, as nodes come here in that order
    }
    return new NodeExplanation(ctx.table.id(node), ctx.table.name(node), bound.names[f],
        bound.rejection(node));
  }
}
