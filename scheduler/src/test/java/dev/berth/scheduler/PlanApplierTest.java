package dev.berth.scheduler;

import static dev.berth.scheduler.Fixtures.node;
import static dev.berth.scheduler.Fixtures.res;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.scheduler.model.Allocation;
import dev.berth.scheduler.model.ClusterSnapshot;
import dev.berth.scheduler.model.Evaluation;
import dev.berth.scheduler.model.Job;
import dev.berth.scheduler.model.JobType;
import dev.berth.scheduler.model.Node;
import dev.berth.scheduler.model.PortRequest;
import dev.berth.scheduler.model.TaskGroup;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The optimistic commit: what still fits is kept, the rest refused, nothing overcommitted. */
class PlanApplierTest {

  private final Scheduler scheduler = new Scheduler();

  @Test
  void twoPlansFromOneSnapshotNeverOvercommit() {
    List<Node> nodes = List.of(node("n1", 2000, 2048), node("n2", 2000, 2048));
    ClusterSnapshot base = new ClusterSnapshot(1, nodes, List.of());
    Plan a = scheduler.schedule(base, new Evaluation("ea",
        Job.of("a", JobType.SERVICE, TaskGroup.of("g", 3, "a:1", res(1000, 1024))),
        Evaluation.Trigger.JOB_REGISTER, 1));
    Plan b = scheduler.schedule(base, new Evaluation("eb",
        Job.of("b", JobType.SERVICE, TaskGroup.of("g", 3, "b:1", res(1000, 1024))),
        Evaluation.Trigger.JOB_REGISTER, 2));
    assertEquals(3, a.placements().size());
    assertEquals(3, b.placements().size()); // each alone would fit 4; together they cannot

    ApplyResult ra = PlanApplier.apply(base, a);
    assertTrue(ra.refused().isEmpty());
    ClusterSnapshot after = ra.commit(base);
    ApplyResult rb = PlanApplier.apply(after, b);
    assertFalse(rb.refused().isEmpty());
    assertTrue(rb.needsReevaluation());
    assertNotOvercommitted(rb.commit(after));
  }

  @Test
  void randomConcurrentPlansNeverOvercommit() {
    Random random = new Random(7);
    for (int round = 0; round < 30; round++) {
      List<Node> nodes = new ArrayList<>();
      for (int i = 0; i < 2 + random.nextInt(8); i++) {
        nodes.add(node("n" + i, 1000 + random.nextInt(4000), 512 + random.nextInt(4096)));
      }
      ClusterSnapshot snap = new ClusterSnapshot(1, nodes, List.of());
      List<Plan> plans = new ArrayList<>();
      for (int j = 0; j < 3; j++) {
        TaskGroup g = new TaskGroup("g", 1 + random.nextInt(12), "img:1", List.of(), Map.of(),
            res(100 + random.nextInt(1500), 64 + random.nextInt(1500)),
            random.nextBoolean() ? List.of(new PortRequest("p", 9000, 0)) : List.of(), List.of(),
            List.of(), List.of(), List.of(), false);
        plans.add(scheduler.schedule(snap, new Evaluation("e" + round + "-" + j,
            Job.of("job" + j, JobType.SERVICE, g), Evaluation.Trigger.JOB_REGISTER,
            random.nextLong())));
      }
      for (Plan p : plans) {
        snap = PlanApplier.apply(snap, p).commit(snap);
        assertNotOvercommitted(snap);
      }
    }
  }

  @Test
  void aNodeDrainedMeanwhileRefusesItsPlacements() {
    List<Node> nodes = List.of(node("n1", 2000, 2048));
    ClusterSnapshot base = new ClusterSnapshot(1, nodes, List.of());
    Plan p = scheduler.schedule(base, Fixtures.eval(
        Job.of("a", JobType.SERVICE, TaskGroup.of("g", 1, "a:1", res(100, 64)))));
    ClusterSnapshot drained = base.withNodes(2, List.of(nodes.get(0).withDraining(true)));
    ApplyResult r = PlanApplier.apply(drained, p);
    assertEquals(1, r.refused().size());
    assertTrue(r.refused().get(0).reason().contains("draining"), r.refused().toString());
  }

  @Test
  void theSamePlanTwiceIsRefusedTheSecondTime() {
    ClusterSnapshot base = new ClusterSnapshot(1, List.of(node("n1", 2000, 2048)), List.of());
    Plan p = scheduler.schedule(base, Fixtures.eval(
        Job.of("a", JobType.SERVICE, TaskGroup.of("g", 1, "a:1", res(100, 64)))));
    ClusterSnapshot once = PlanApplier.apply(base, p).commit(base);
    ApplyResult again = PlanApplier.apply(once, p);
    assertTrue(again.placed().isEmpty());
  }

  static void assertNotOvercommitted(ClusterSnapshot s) {
    for (int i = 0; i < s.nodes().size(); i++) {
      Node n = s.nodes().get(i);
      assertTrue(n.capacity().fits(s.used(i)), n.id() + " overcommitted: " + s.used(i));
      List<Integer> ports = new ArrayList<>();
      for (Allocation a : s.allocationsOn(i)) {
        if (a.status().holdsResources()) {
          a.ports().forEach(p -> ports.add(p.host()));
        }
      }
      assertEquals(ports.size(), ports.stream().distinct().count(), "port twice on " + n.id());
    }
  }
}
