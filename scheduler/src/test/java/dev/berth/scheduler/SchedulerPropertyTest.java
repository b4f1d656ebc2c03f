package dev.berth.scheduler;

import static dev.berth.scheduler.Fixtures.res;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.scheduler.model.Affinity;
import dev.berth.scheduler.model.Allocation;
import dev.berth.scheduler.model.ClusterSnapshot;
import dev.berth.scheduler.model.Constraint;
import dev.berth.scheduler.model.Evaluation;
import dev.berth.scheduler.model.Job;
import dev.berth.scheduler.model.JobType;
import dev.berth.scheduler.model.Node;
import dev.berth.scheduler.model.Operator;
import dev.berth.scheduler.model.PlacementStrategy;
import dev.berth.scheduler.model.PortRequest;
import dev.berth.scheduler.model.Resources;
import dev.berth.scheduler.model.Spread;
import dev.berth.scheduler.model.TaskGroup;
import dev.berth.scheduler.model.VolumeMount;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Properties over random clusters and jobs from a seeded {@link Random}: a failure names its
 * round, and the same seed reproduces it.
 */
class SchedulerPropertyTest {

  private static final String[] ZONES = {"a", "b", "c"};
  private static final String[] KERNELS = {"4.19.0", "5.4.0-150", "5.10.0-28", "6.1.0-21"};

  static List<Node> randomCluster(Random r, int n) {
    List<Node> nodes = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      Map<String, String> labels = new HashMap<>();
      labels.put("zone", ZONES[r.nextInt(ZONES.length)]);
      if (r.nextInt(4) == 0) {
        labels.put("ssd", "true");
      }
      Map<String, String> attrs = Map.of("kernel.version", KERNELS[r.nextInt(KERNELS.length)],
          "os", r.nextInt(10) == 0 ? "freebsd" : "linux");
      nodes.add(new Node("n" + i, "host-" + i, labels, attrs,
          new Resources(1000 + 500L * r.nextInt(8), (1L << 30) * (1 + r.nextInt(8)), 4096),
          r.nextInt(20) != 0, r.nextInt(20) != 0, r.nextInt(20) == 0,
          r.nextBoolean() ? Set.of("img:1") : Set.of(),
          r.nextInt(3) == 0 ? Set.of("data") : Set.of()));
    }
    return nodes;
  }

  static TaskGroup randomGroup(Random r, String name) {
    List<Constraint> constraints = new ArrayList<>();
    if (r.nextBoolean()) {
      constraints.add(new Constraint("attr.kernel.version", Operator.VERSION, ">= 5.10"));
    }
    if (r.nextBoolean()) {
      constraints.add(new Constraint("attr.os", Operator.EQ, "linux"));
    }
    if (r.nextInt(3) == 0) {
      constraints.add(new Constraint("label.zone", Operator.IN, "a,b"));
    }
    List<PortRequest> ports = switch (r.nextInt(3)) {
      case 0 -> List.of(new PortRequest("http", 8080, 80));
      case 1 -> List.of(new PortRequest("http", 0, 80));
      default -> List.of();
    };
    List<VolumeMount> volumes =
        r.nextInt(6) == 0 ? List.of(new VolumeMount("data", "/data", false)) : List.of();
    return new TaskGroup(name, r.nextInt(60), "img:1", List.of(), Map.of(),
        new Resources(100 + 100L * r.nextInt(10), (64L << 20) * (1 + r.nextInt(16)), 10), ports,
        volumes, constraints, List.of(), List.of(), r.nextInt(5) == 0);
  }

  @Test
  void randomPlansHoldEveryInvariant() {
    Random r = new Random(20261127);
    Scheduler scheduler = new Scheduler();
    for (int round = 0; round < 60; round++) {
      List<Node> nodes = randomCluster(r, 1 + r.nextInt(200));
      ClusterSnapshot snap = new ClusterSnapshot(round, nodes, List.of());
      for (int j = 0; j < 3; j++) {
        Job job = new Job("job" + j, JobType.values()[r.nextInt(3)], 50,
            r.nextBoolean() ? PlacementStrategy.SPREAD : null,
            List.of(randomGroup(r, "g1"), randomGroup(r, "g2")), List.of(), List.of(), List.of(),
            null, null, false);
        Evaluation e = new Evaluation("r" + round + "j" + j, job,
            Evaluation.Trigger.JOB_REGISTER, r.nextLong());
        Plan plan = scheduler.schedule(snap, e);
        String where = "round " + round + " job " + j;

        assertEquals(plan, scheduler.schedule(snap, e), where + ": replay differs");
        ApplyResult applied = PlanApplier.apply(snap, plan);
        assertTrue(applied.refused().isEmpty(), where + ": own snapshot refused "
            + applied.refused());
        snap = applied.commit(snap);
        PlanApplierTest.assertNotOvercommitted(snap);
        for (Allocation a : plan.placements()) {
          Node n = snap.node(a.node());
          assertTrue(n.schedulable(), where + ": placed on unschedulable " + n.id());
          TaskGroup g = job.groups().stream().filter(x -> x.name().equals(a.taskGroup()))
              .findFirst().orElseThrow();
          for (Constraint c : g.constraints()) {
            assertTrue(c.matcher().test(n.property(c.target())),
                where + ": " + c + " broken on " + n.id());
          }
          for (VolumeMount v : g.volumes()) {
            assertTrue(n.volumes().contains(v.name()), where + ": volume missing on " + n.id());
          }
        }
        for (Plan.GroupPlan gp : plan.groups()) {
          TaskGroup g = job.groups().stream().filter(x -> x.name().equals(gp.taskGroup()))
              .findFirst().orElseThrow();
          if (g.distinctHosts()) {
            assertEquals(gp.placements().size(),
                gp.placements().stream().map(Allocation::node).distinct().count(), where);
          }
          if (!gp.unplaced().indices().isEmpty()) {
            for (int i = 0; i < nodes.size(); i++) {
              String id = nodes.get(i).id();
              if (job.type() == JobType.SYSTEM && gp.placements().stream()
                  .anyMatch(a -> a.node().equals(id))) {
                continue; // a system job wants one per node, and this one has it
              }
              assertTrue(!fitsNaively(snap, i, job, g),
                  where + ": " + gp.taskGroup() + " left pending though " + nodes.get(i).id()
                      + " fits: " + gp.unplaced().summary());
            }
          }
        }
      }
    }
  }

  /**
   * The standard filters and scorers, each saying it is not node-local, so that nothing is kept
   * from one visit of a node to the next; the scorers ordered as the pipeline sums them (node-local
   * ones first), so that the sums are the same doubles.
   */
  private static Pipeline uncached() {
    Pipeline std = Pipeline.standard(SchedulerConfig.DEFAULT);
    List<FeasibilityFilter> filters = new ArrayList<>();
    for (FeasibilityFilter f : std.filters()) {
      filters.add(new FeasibilityFilter() {
        @Override
        public String name() {
          return f.name();
        }

        @Override
        public boolean isStatic() {
          return f.isStatic();
        }

        @Override
        public boolean isNodeLocal() {
          return f.isStatic();
        }

        @Override
        public Check prepare(GroupContext group) {
          return f.prepare(group);
        }
      });
    }
    List<Scorer> scorers = new ArrayList<>();
    for (boolean local : new boolean[] {true, false}) {
      for (Scorer sc : std.scorers()) {
        if (sc.isNodeLocal() == local) {
          scorers.add(new Scorer() {
            @Override
            public String name() {
              return sc.name();
            }

            @Override
            public double weight() {
              return sc.weight();
            }

            @Override
            public NodeScore prepare(GroupContext group) {
              return sc.prepare(group);
            }
          });
        }
      }
    }
    return new Pipeline(filters, scorers);
  }

  @Test
  void verdictsAndScoresKeptBetweenVisitsNeverChangeAPlan() {
    Random r = new Random(424242);
    Scheduler cached = new Scheduler();
    Scheduler fresh = new Scheduler(SchedulerConfig.DEFAULT, uncached());
    for (int round = 0; round < 25; round++) {
      List<Node> nodes = randomCluster(r, 1 + r.nextInt(600));
      ClusterSnapshot snap = new ClusterSnapshot(round, nodes, List.of());
      for (int j = 0; j < 2; j++) {
        List<TaskGroup> groups = new ArrayList<>();
        for (String name : List.of("g1", "g2")) {
          TaskGroup g = randomGroup(r, name);
          List<Spread> spreads = r.nextBoolean() ? List.of() : List.of(new Spread("label.zone",
              1 + r.nextInt(100), List.of(new Spread.SpreadTarget("a", 50),
                  new Spread.SpreadTarget("b", 30), new Spread.SpreadTarget("c", 20))));
          List<Affinity> affinities = r.nextBoolean() ? List.of()
              : List.of(new Affinity("label.ssd", Operator.EQ, "true", 50));
          groups.add(new TaskGroup(name, 1 + r.nextInt(400), g.image(), List.of(), Map.of(),
              g.resources(), g.ports(), g.volumes(), g.constraints(), spreads, affinities,
              g.distinctHosts()));
        }
        Job job = new Job("job" + j, r.nextBoolean() ? JobType.SERVICE : JobType.BATCH, 50,
            r.nextBoolean() ? PlacementStrategy.SPREAD : null, groups, List.of(), List.of(),
            List.of(), null, null, false);
        Evaluation e = new Evaluation("c" + round + "j" + j, job,
            Evaluation.Trigger.JOB_REGISTER, r.nextLong());
        Plan plan = cached.schedule(snap, e);
        String where = "round " + round + " job " + j;
        assertEquals(fresh.schedule(snap, e), plan, where);
        for (Plan.GroupPlan gp : plan.groups()) {
          int last = -1;
          for (Plan.NodeExplanation x : gp.explanations()) {
            int at = snap.position(x.nodeId());
            assertTrue(at > last, where + ": explanations out of node order at " + x);
            last = at;
          }
        }
        snap = PlanApplier.apply(snap, plan).commit(snap);
      }
    }
  }

  /** A from-scratch check, sharing no code with the filters. */
  private static boolean fitsNaively(ClusterSnapshot s, int i, Job job, TaskGroup g) {
    Node n = s.nodes().get(i);
    if (!n.schedulable() || !n.capacity().minusFloored(s.used(i)).fits(g.resources())) {
      return false;
    }
    if (g.volumes().stream().anyMatch(v -> !n.volumes().contains(v.name()))) {
      return false;
    }
    for (Constraint c : g.constraints()) {
      String v = n.property(c.target());
      boolean ok = switch (c.operator()) {
        case EQ -> c.value().equals(v);
        case IN -> v != null && List.of(c.value().split(",")).contains(v);
        case VERSION -> v != null && Integer.parseInt(v.split("\\.")[0]) * 100
            + Integer.parseInt(v.split("[.-]")[1]) >= 510;
        default -> throw new AssertionError(c);
      };
      if (!ok) {
        return false;
      }
    }
    for (Allocation a : s.allocationsOn(i)) {
      if (!a.status().holdsResources()) {
        continue;
      }
      if (g.distinctHosts() && a.job().equals(job.name()) && a.taskGroup().equals(g.name())) {
        return false;
      }
      for (PortRequest p : g.ports()) {
        if (!p.dynamic() && a.ports().stream().anyMatch(m -> m.host() == p.fixed())) {
          return false;
        }
      }
    }
    return true;
  }

  @Test
  void spreadStaysWithinOneOfItsTargets() {
    Random r = new Random(99);
    Scheduler scheduler = new Scheduler();
    for (int round = 0; round < 60; round++) {
      List<Node> nodes = new ArrayList<>();
      int n = 6 + r.nextInt(300);
      for (int i = 0; i < n; i++) {
        // every zone present; plenty of room, so only the spread decides
        nodes.add(new Node("n" + i, "h" + i, Map.of("zone", ZONES[i % 3]), Map.of(),
            new Resources(64_000, 256L << 30, 100_000), true, true, false, Set.of(), Set.of()));
      }
      int pa = r.nextInt(101);
      int pb = r.nextInt(101 - pa);
      int count = 1 + r.nextInt(400);
      Spread spread = new Spread("label.zone", 1 + r.nextInt(100),
          List.of(new Spread.SpreadTarget("a", pa), new Spread.SpreadTarget("b", pb),
              new Spread.SpreadTarget("c", 100 - pa - pb)));
      TaskGroup g = new TaskGroup("g", count, "img:1", List.of(), Map.of(), res(100, 64),
          List.of(), List.of(), List.of(), List.of(spread), List.of(), false);
      Job job = Job.of("j", JobType.SERVICE, g);
      Plan plan = scheduler.schedule(new ClusterSnapshot(1, nodes, List.of()),
          new Evaluation("s" + round, job, Evaluation.Trigger.JOB_REGISTER, r.nextLong()));
      assertEquals(count, plan.placements().size());
      Map<String, Integer> perZone = new HashMap<>();
      for (Allocation a : plan.placements()) {
        perZone.merge(nodes.get(Integer.parseInt(a.node().substring(1))).labels().get("zone"),
            1, Integer::sum);
      }
      for (Spread.SpreadTarget t : spread.targets()) {
        double want = count * t.percent() / 100.0;
        int got = perZone.getOrDefault(t.value(), 0);
        assertTrue(Math.abs(got - want) <= 1.0, "round " + round + ": zone " + t.value()
            + " got " + got + ", target " + want + " of " + count);
      }
    }
  }

  @Test
  void samplingPlacesAsManyAsAFullScanWhenCapacityIsTight() {
    Random r = new Random(5);
    Scheduler sampled = new Scheduler();
    Scheduler full = new Scheduler(SchedulerConfig.DEFAULT.withCandidates(100_000, 100_000));
    for (int round = 0; round < 40; round++) {
      List<Node> nodes = new ArrayList<>();
      int n = 50 + r.nextInt(400);
      for (int i = 0; i < n; i++) {
        nodes.add(Fixtures.node("n" + i, 1000, r.nextInt(10) == 0 ? 1024 : 100));
      }
      // only about one node in ten can take a replica, and each only one
      TaskGroup g = TaskGroup.of("g", n / 5, "img:1", res(1000, 512));
      Job job = Job.of("j", JobType.SERVICE, g);
      ClusterSnapshot snap = new ClusterSnapshot(1, nodes, List.of());
      Evaluation e = new Evaluation("t" + round, job, Evaluation.Trigger.JOB_REGISTER, round);
      assertEquals(full.schedule(snap, e).placements().size(),
          sampled.schedule(snap, e).placements().size(), "round " + round);
    }
  }
}
