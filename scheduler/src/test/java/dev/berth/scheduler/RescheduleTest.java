package dev.berth.scheduler;

import static dev.berth.scheduler.Fixtures.eval;
import static dev.berth.scheduler.Fixtures.node;
import static dev.berth.scheduler.Fixtures.res;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.scheduler.model.Allocation;
import dev.berth.scheduler.model.AllocationStatus;
import dev.berth.scheduler.model.ClusterSnapshot;
import dev.berth.scheduler.model.Evaluation;
import dev.berth.scheduler.model.Job;
import dev.berth.scheduler.model.JobType;
import dev.berth.scheduler.model.Node;
import dev.berth.scheduler.model.ReschedulePolicy;
import dev.berth.scheduler.model.ReschedulePolicy.DelayFunction;
import dev.berth.scheduler.model.TaskGroup;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Rescheduling: when a failed replica is placed again (the policy, pure arithmetic), that the
 * engine leaves a held replica alone, and that it prefers a node the replica has not failed on.
 */
class RescheduleTest {

  private static final long S = 1000;

  static ReschedulePolicy policy(int attempts, String interval, long delayS, DelayFunction f,
      long maxS, boolean unlimited) {
    return new ReschedulePolicy(attempts, interval == null ? Duration.ZERO : Duration.parse(interval),
        Duration.ofSeconds(delayS), f, Duration.ofSeconds(maxS), unlimited);
  }

  /** The policy, earlier reschedules (s), failed at (s), now (s), and the verdict: "now", "at N", "never". */
  static Stream<Arguments> decisions() {
    ReschedulePolicy unlimitedExp = policy(0, null, 10, DelayFunction.EXPONENTIAL, 60, true);
    ReschedulePolicy fib = policy(0, null, 10, DelayFunction.FIBONACCI, 1000, true);
    ReschedulePolicy twoPerHour = policy(2, "PT1H", 5, DelayFunction.CONSTANT, 5, false);
    return Stream.of(
        Arguments.of("first failure waits the delay", unlimitedExp, List.of(), 100, 105, "at 110"),
        Arguments.of("and goes once it passed", unlimitedExp, List.of(), 100, 110, "now"),
        Arguments.of("exponential: the third waits 4x", unlimitedExp, List.of(1L, 2L), 100, 100, "at 140"),
        Arguments.of("capped at max_delay", unlimitedExp, List.of(1L, 2L, 3L, 4L), 100, 100, "at 160"),
        Arguments.of("fibonacci: 10, 10, 20, 30, 50", fib, List.of(1L, 2L, 3L, 4L), 100, 100, "at 150"),
        Arguments.of("limited: attempts left", twoPerHour, List.of(50L), 100, 105, "now"),
        Arguments.of("limited: used up within the interval", twoPerHour, List.of(50L, 90L), 100, 200, "never"),
        Arguments.of("limited: old attempts no longer count", twoPerHour, List.of(50L, 90L), 4000, 4005, "now"),
        Arguments.of("attempts 0, not unlimited: never", policy(0, null, 5, DelayFunction.CONSTANT, 5, false),
            List.of(), 100, 200, "never"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("decisions")
  void decides(String name, ReschedulePolicy p, List<Long> earlierS, long failedS, long nowS, String verdict) {
    ReschedulePolicy.Decision d = p.decide(earlierS.stream().map(t -> t * S).toList(), failedS * S, nowS * S);
    String got = d.isNow() ? "now" : d.isNever() ? "never" : "at " + d.atMillis() / S;
    assertEquals(verdict, got, name + ": " + d);
    if (d.isNever()) {
      assertTrue(!d.why().isEmpty());
    }
  }

  private final List<Node> three = List.of(node("n1", 4000, 4096), node("n2", 4000, 4096),
      node("n3", 4000, 4096));

  private static Allocation failed(String id, int index, String node, long generation) {
    return new Allocation(id, "j", "g", index, node, res(100, 64), List.of(), generation,
        AllocationStatus.FAILED);
  }

  @Test
  void aHeldReplicaIsLeftAloneUntilTheCallerLetsItGo() {
    Job job = Job.of("j", JobType.SERVICE, TaskGroup.of("g", 1, "img:1", res(100, 64)));
    Allocation f = failed("f0", 0, "n1", 0);
    ClusterSnapshot snap = new ClusterSnapshot(1, three, List.of(f));
    Plan held = new Scheduler().schedule(snap.withDecisions(Set.of(), Set.of("f0")), eval(job));
    assertTrue(held.placements().isEmpty() && held.complete(), held.toString());
    Plan go = new Scheduler().schedule(snap, eval(job));
    assertEquals(1, go.placements().size());
    assertEquals(1, go.placements().get(0).generation());
  }

  @Test
  void aHeldSystemReplicaKeepsItsNodeCoveredAndAFreedOneIsPlacedThereAgain() {
    Job job = Job.of("s", JobType.SYSTEM, TaskGroup.of("g", 0, "img:1", res(100, 64)));
    Allocation f = new Allocation("f0", "s", "g", 0, "n1", res(100, 64), List.of(), 0,
        AllocationStatus.FAILED);
    Allocation ok2 = new Allocation("a2", "s", "g", 1, "n2", res(100, 64), List.of(), 0,
        AllocationStatus.RUNNING);
    Allocation ok3 = new Allocation("a3", "s", "g", 2, "n3", res(100, 64), List.of(), 0,
        AllocationStatus.RUNNING);
    ClusterSnapshot snap = new ClusterSnapshot(1, three, List.of(f, ok2, ok3));
    assertTrue(new Scheduler().schedule(snap.withDecisions(Set.of(), Set.of("f0")), eval(job))
        .placements().isEmpty());
    List<Allocation> again = new Scheduler().schedule(snap, eval(job)).placements();
    assertEquals(List.of("n1"), again.stream().map(Allocation::node).toList());
  }

  @Test
  void aRescheduledReplicaGoesToANodeItHasNotFailedOnWheneverOneIsFeasible() {
    // Bin-packing would put it back on the busiest node, n1, where it failed: the penalty wins.
    Job job = Job.of("j", JobType.SERVICE, TaskGroup.of("g", 2, "img:1", res(500, 512)));
    Allocation busy = new Allocation("other", "x", "x", 0, "n1", res(3000, 3000), List.of(), 0,
        AllocationStatus.RUNNING);
    Allocation runs = new Allocation("r1", "j", "g", 1, "n2", res(500, 512), List.of(), 0,
        AllocationStatus.RUNNING);
    for (int seed = 0; seed < 200; seed++) {
      ClusterSnapshot snap = new ClusterSnapshot(1, three, List.of(busy, runs, failed("f0", 0, "n1", 0)));
      Plan plan = new Scheduler().schedule(snap, new Evaluation("e" + seed, job,
          Evaluation.Trigger.ALLOCATION_FAILED, seed));
      assertEquals(1, plan.placements().size());
      assertNotEquals("n1", plan.placements().get(0).node(), "seed " + seed);
    }
    // Failed on n1 and then n3: n2 is the only node left it has not failed on.
    for (int seed = 0; seed < 50; seed++) {
      ClusterSnapshot snap = new ClusterSnapshot(1, three,
          List.of(busy, failed("f0", 0, "n1", 0), failed("f1", 0, "n3", 1)));
      Plan plan = new Scheduler().schedule(snap, new Evaluation("e" + seed,
          Job.of("j", JobType.SERVICE, TaskGroup.of("g", 1, "img:1", res(500, 512))),
          Evaluation.Trigger.ALLOCATION_FAILED, seed));
      assertEquals("n2", plan.placements().get(0).node(), "seed " + seed);
      assertEquals(2, plan.placements().get(0).generation());
    }
  }

  @Test
  void theNodeItFailedOnIsStillUsedWhenItIsTheOnlyFeasibleOne() {
    List<Node> one = List.of(node("n1", 4000, 4096));
    Job job = Job.of("j", JobType.SERVICE, TaskGroup.of("g", 1, "img:1", res(100, 64)));
    Plan plan = new Scheduler().schedule(new ClusterSnapshot(1, one, List.of(failed("f0", 0, "n1", 0))),
        eval(job));
    assertEquals(List.of("n1"), plan.placements().stream().map(Allocation::node).toList());
  }
}
