package dev.berth.scheduler;

import static dev.berth.scheduler.Fixtures.alloc;
import static dev.berth.scheduler.Fixtures.eval;
import static dev.berth.scheduler.Fixtures.node;
import static dev.berth.scheduler.Fixtures.res;
import static dev.berth.scheduler.Fixtures.snapshot;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.scheduler.model.Affinity;
import dev.berth.scheduler.model.Allocation;
import dev.berth.scheduler.model.AllocationStatus;
import dev.berth.scheduler.model.ClusterSnapshot;
import dev.berth.scheduler.model.Constraint;
import dev.berth.scheduler.model.Job;
import dev.berth.scheduler.model.JobType;
import dev.berth.scheduler.model.Node;
import dev.berth.scheduler.model.Operator;
import dev.berth.scheduler.model.PlacementStrategy;
import dev.berth.scheduler.model.PortMapping;
import dev.berth.scheduler.model.PortRequest;
import dev.berth.scheduler.model.Spread;
import dev.berth.scheduler.model.TaskGroup;
import dev.berth.scheduler.model.VolumeMount;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** What the scheduler keeps true for each job type, and how it explains what it could not do. */
class SchedulerTest {

  private final Scheduler scheduler = new Scheduler();
  private final List<Node> three = List.of(node("n1", 4000, 4096), node("n2", 4000, 4096),
      node("n3", 4000, 4096));

  @Test
  void serviceScaleUpKeepsExistingAndPlacesMissing() {
    TaskGroup web = TaskGroup.of("web", 3, "nginx:1", res(500, 512));
    ClusterSnapshot snap = snapshot(three,
        alloc("a0", "web", "web", 0, "n1", res(500, 512), AllocationStatus.RUNNING));
    Plan plan = scheduler.schedule(snap, eval(Job.of("web", JobType.SERVICE, web)));
    assertEquals(List.of(1, 2),
        plan.placements().stream().map(Allocation::index).sorted().toList());
    assertTrue(plan.stops().isEmpty());
    assertTrue(plan.complete());
  }

  @Test
  void serviceScaleDownStopsHighestIndexFirst() {
    TaskGroup web = TaskGroup.of("web", 1, "nginx:1", res(500, 512));
    ClusterSnapshot snap = snapshot(three,
        alloc("a0", "web", "web", 0, "n1", res(500, 512), AllocationStatus.RUNNING),
        alloc("a1", "web", "web", 1, "n2", res(500, 512), AllocationStatus.RUNNING),
        alloc("a2", "web", "web", 2, "n3", res(500, 512), AllocationStatus.RUNNING));
    Plan plan = scheduler.schedule(snap, eval(Job.of("web", JobType.SERVICE, web)));
    assertEquals(List.of("a2", "a1"),
        plan.stops().stream().map(s -> s.allocation().id()).toList());
    assertTrue(plan.placements().isEmpty());
  }

  @Test
  void lostAllocationIsReplacedWithTheNextGeneration() {
    TaskGroup web = TaskGroup.of("web", 2, "nginx:1", res(500, 512));
    Node down = three.get(0).withReady(false);
    ClusterSnapshot snap = new ClusterSnapshot(1, List.of(down, three.get(1), three.get(2)),
        List.of(alloc("a0", "web", "web", 0, "n1", res(500, 512), AllocationStatus.RUNNING),
            alloc("a1", "web", "web", 1, "n2", res(500, 512), AllocationStatus.RUNNING)),
        Set.of("a0"));
    Plan plan = scheduler.schedule(snap, eval(Job.of("web", JobType.SERVICE, web)));
    assertEquals(1, plan.placements().size());
    Allocation r = plan.placements().get(0);
    assertEquals(0, r.index());
    assertEquals(1, r.generation());
    assertFalse(r.node().equals("n1"));
    assertEquals(List.of("a0"), plan.stops().stream().map(s -> s.allocation().id()).toList());
  }

  @Test
  void batchDoesNotReplaceCompletedButServiceDoes() {
    TaskGroup g = TaskGroup.of("g", 2, "tool:1", res(100, 64));
    Allocation done = alloc("a0", "j", "g", 0, "n1", res(100, 64), AllocationStatus.COMPLETE);
    Allocation run = alloc("a1", "j", "g", 1, "n1", res(100, 64), AllocationStatus.RUNNING);
    Plan batch = scheduler.schedule(snapshot(three, done, run), eval(Job.of("j", JobType.BATCH, g)));
    assertTrue(batch.placements().isEmpty());
    Plan service =
        scheduler.schedule(snapshot(three, done, run), eval(Job.of("j", JobType.SERVICE, g)));
    assertEquals(1, service.placements().size());
    assertEquals(1, service.placements().get(0).generation());
  }

  @Test
  void systemJobRunsOnEveryEligibleNodeAndLeavesADrainingNodeWhenTheCallerSays() {
    TaskGroup agent = TaskGroup.of("agent", 0, "exporter:1", res(100, 64));
    List<Node> nodes = List.of(node("n1", 4000, 4096), node("n2", 4000, 4096).withDraining(true),
        Fixtures.ineligible(node("n3", 4000, 4096)), node("n4", 4000, 4096));
    ClusterSnapshot snap = snapshot(nodes,
        alloc("s0", "sys", "agent", 0, "n1", res(100, 64), AllocationStatus.RUNNING),
        alloc("s1", "sys", "agent", 1, "n2", res(100, 64), AllocationStatus.RUNNING));
    Plan plan = scheduler.schedule(snap, eval(Job.of("sys", JobType.SYSTEM, agent)));
    assertEquals(List.of("n4"), plan.placements().stream().map(Allocation::node).toList());
    assertEquals(List.of(), plan.stops(), "a system replica stays on a draining node");
    assertTrue(plan.complete());

    // The drain's deadline: the caller lists it; it is stopped and placed nowhere else.
    Plan drained = scheduler.schedule(snap.withDecisions(Set.of("s1"), Set.of()),
        eval(Job.of("sys", JobType.SYSTEM, agent)));
    assertEquals(List.of("s1"), drained.stops().stream().map(s -> s.allocation().id()).toList());
    assertEquals(List.of("n4"), drained.placements().stream().map(Allocation::node).toList());
  }

  @Test
  void aStoppedJobOfEveryTypeIsOnlyStoppedNeverPlaced() {
    TaskGroup g = TaskGroup.of("g", 2, "tool:1", res(100, 64));
    for (JobType type : JobType.values()) {
      ClusterSnapshot snap = snapshot(three,
          alloc("a0", "j", "g", 0, "n1", res(100, 64), AllocationStatus.RUNNING),
          alloc("a1", "j", "g", 1, "n2", res(100, 64), AllocationStatus.STOPPED));
      Plan plan = scheduler.schedule(snap, eval(Job.of("j", type, g).withStopped(true)));
      assertTrue(plan.placements().isEmpty(), type + ": " + plan.placements());
      assertEquals(List.of("a0"), plan.stops().stream().map(s -> s.allocation().id()).toList(), type.toString());
      assertTrue(plan.complete(), type.toString());
    }
  }

  @Test
  void systemJobWithoutRoomOnATargetIsPending() {
    TaskGroup agent = TaskGroup.of("agent", 0, "exporter:1", res(100, 8192));
    Plan plan = scheduler.schedule(snapshot(three), eval(Job.of("sys", JobType.SYSTEM, agent)));
    assertEquals(3, plan.group("agent").unplaced().indices().size());
  }

  @Test
  void unplacedReplicasSayWhyPerFilter() {
    TaskGroup big = TaskGroup.of("big", 2, "db:1", res(500, 3072));
    List<Node> nodes = List.of(node("n1", 4000, 4096), node("n2", 4000, 1024),
        node("n3", 4000, 4096).withDraining(true));
    Plan plan = scheduler.schedule(snapshot(nodes), eval(Job.of("db", JobType.SERVICE, big)));
    Plan.GroupPlan g = plan.group("big");
    assertEquals(1, g.placements().size());
    assertEquals("n1", g.placements().get(0).node());
    assertEquals(List.of(1), g.unplaced().indices());
    Map<String, Integer> byFilter = g.unplaced().byFilter().stream()
        .collect(Collectors.toMap(Plan.FilterTally::filter, Plan.FilterTally::nodes));
    assertEquals(Map.of("resources", 2, "ready", 1), byFilter);
    String summary = g.unplaced().summary();
    assertTrue(summary.startsWith("1 replica pending: 2 nodes rejected by resources"), summary);
    assertTrue(g.explanations().stream().map(Object::toString).anyMatch(
        s -> s.equals("node n2 rejected by resources: memory 3 GiB needed, 1 GiB free")),
        g.explanations().toString());
  }

  @Test
  void fixedPortAllowsOneReplicaPerHostDynamicMany() {
    TaskGroup fixed = new TaskGroup("web", 4, "nginx:1", List.of(), Map.of(), res(100, 64),
        List.of(new PortRequest("http", 8080, 80)), List.of(), List.of(), List.of(), List.of(),
        false);
    Plan plan = scheduler.schedule(snapshot(three), eval(Job.of("web", JobType.SERVICE, fixed)));
    assertEquals(3, plan.placements().size());
    assertEquals(3, plan.placements().stream().map(Allocation::node).distinct().count());
    assertEquals("ports", plan.group("web").unplaced().byFilter().get(0).filter());

    TaskGroup dynamic = new TaskGroup("web", 9, "nginx:1", List.of(), Map.of(), res(100, 64),
        List.of(new PortRequest("http", 0, 80)), List.of(), List.of(), List.of(), List.of(),
        false);
    Plan many =
        scheduler.schedule(snapshot(three), eval(Job.of("web", JobType.SERVICE, dynamic)));
    assertEquals(9, many.placements().size());
    for (List<Allocation> onNode : many.placementsByNode().values()) {
      assertEquals(onNode.size(),
          onNode.stream().map(a -> a.ports().get(0).host()).distinct().count());
    }
  }

  @Test
  void hostLocalVolumePinsToItsHost() {
    TaskGroup db = new TaskGroup("db", 1, "pg:16", List.of(), Map.of(), res(100, 64), List.of(),
        List.of(new VolumeMount("pgdata", "/data", false)), List.of(), List.of(), List.of(), false);
    List<Node> nodes = List.of(three.get(0), Fixtures.withVolumes(three.get(1), "pgdata"),
        three.get(2));
    Plan plan = scheduler.schedule(snapshot(nodes), eval(Job.of("db", JobType.SERVICE, db)));
    assertEquals("n2", plan.placements().get(0).node());
  }

  @Test
  void explainAllExplainsEveryNode() {
    TaskGroup web = TaskGroup.of("web", 1, "nginx:1", res(100, 64));
    Plan plan = new Scheduler(SchedulerConfig.DEFAULT.withExplainAll(true))
        .schedule(snapshot(List.of(three.get(0), three.get(1).withDraining(true), three.get(2))),
            eval(Job.of("web", JobType.SERVICE, web)));
    List<Plan.NodeExplanation> ex = plan.group("web").explanations();
    assertEquals(3, ex.size());
    assertEquals(1, ex.stream().filter(e -> !e.feasible()).count());
    assertEquals(1, ex.stream().filter(e -> e.reason().startsWith("chosen")).count());
  }

  @Test
  void stoppedJobStopsEverything() {
    TaskGroup web = TaskGroup.of("web", 2, "nginx:1", res(100, 64));
    ClusterSnapshot snap = snapshot(three,
        alloc("a0", "web", "web", 0, "n1", res(100, 64), AllocationStatus.RUNNING),
        alloc("a1", "web", "web", 1, "n2", res(100, 64), AllocationStatus.PENDING),
        alloc("old", "web", "gone", 0, "n2", res(100, 64), AllocationStatus.RUNNING));
    Plan plan = scheduler.schedule(snap,
        eval(Job.of("web", JobType.SERVICE, web).withStopped(true)));
    assertEquals(Set.of("a0", "a1", "old"),
        plan.stops().stream().map(s -> s.allocation().id()).collect(Collectors.toSet()));
  }

  @Test
  void capacityFreedByAStopIsReusedInTheSamePlan() {
    List<Node> one = List.of(node("n1", 1000, 1024));
    TaskGroup small = TaskGroup.of("small", 0, "a:1", res(1000, 1024));
    TaskGroup other = TaskGroup.of("other", 1, "b:1", res(1000, 1024));
    ClusterSnapshot snap = snapshot(one,
        alloc("s0", "j", "small", 0, "n1", res(1000, 1024), AllocationStatus.RUNNING));
    Plan plan = scheduler.schedule(snap, eval(Job.of("j", JobType.SERVICE, small, other)));
    assertEquals(1, plan.placements().size());
    assertEquals(1, plan.stops().size());
  }

  @Test
  void aRejectionSaysWhatWasFreeWhenTheNodeWasChecked() {
    // "big" is placed first and rejected on n1 (1024 MiB free); "small" then takes 512 MiB of
    // n1. Read afterwards, big's reason still gives the 1024 MiB it saw.
    TaskGroup big = TaskGroup.of("big", 1, "img:1", res(100, 2048));
    TaskGroup small = TaskGroup.of("small", 1, "img:1", res(100, 512));
    ClusterSnapshot snap = snapshot(List.of(node("n1", 4000, 1024)));
    Plan plan = scheduler.schedule(snap, eval(Job.of("j", JobType.SERVICE, big, small)));
    assertEquals(1, plan.group("small").placements().size());
    Plan.NodeExplanation e = plan.group("big").explanations().get(0);
    assertEquals("resources", e.filter());
    assertEquals("memory 2 GiB needed, 1 GiB free", e.reason());
    assertEquals("1 replica pending: 1 node rejected by resources (n1: memory 2 GiB needed, "
        + "1 GiB free)", plan.group("big").unplaced().summary());
  }

  @Test
  void aPlanIsTheSameOnAFreshSnapshotAndOnOneItsTablesWereFilledOn() {
    List<Node> nodes = SchedulerPropertyTest.randomCluster(new Random(9), 300);
    TaskGroup g = SchedulerPropertyTest.randomGroup(new Random(10), "g");
    TaskGroup web = new TaskGroup("web", 40, "img:1", List.of(), Map.of(), res(300, 256),
        List.of(new PortRequest("http", 0, 80)), List.of(),
        List.of(new Constraint("attr.kernel.version",
            Operator.VERSION, ">= 5.10")),
        List.of(new Spread("label.zone", 50, List.of())),
        List.of(new Affinity("label.ssd",
            Operator.EQ, "true", 40)), false);
    Job job = Job.of("j", JobType.SERVICE, g, web);
    ClusterSnapshot warm = new ClusterSnapshot(1, nodes, List.of());
    Plan first = scheduler.schedule(warm, eval(job));
    Plan again = scheduler.schedule(warm.withDecisions(Set.of(), Set.of()), eval(job));
    Plan fresh = scheduler.schedule(new ClusterSnapshot(1, nodes, List.of()), eval(job));
    assertEquals(first, again);
    assertEquals(first, fresh);
    assertFalse(first.group("web").placements().isEmpty());
    assertFalse(first.group("web").explanations().isEmpty());
  }

  @Test
  void dynamicPortsAvoidThoseTheSnapshotHoldsAndRunOutCleanly() {
    Scheduler narrow = new Scheduler(new SchedulerConfig(
        PlacementStrategy.BINPACK, 2, 10, 20000, 20003, 1, 1, 0.5,
        0.25, 0.5, false));
    TaskGroup g = new TaskGroup("g", 4, "img:1", List.of(), Map.of(), res(10, 16),
        List.of(new PortRequest("http", 0, 80)), List.of(), List.of(), List.of(), List.of(),
        false);
    ClusterSnapshot snap = snapshot(List.of(node("n1", 4000, 4096)),
        alloc("o", "other", "x", 0, "n1", res(10, 16), AllocationStatus.RUNNING,
            new PortMapping("p", 20001, 80, true)));
    Plan plan = narrow.schedule(snap, eval(Job.of("j", JobType.SERVICE, g)));
    List<Integer> ports = plan.placements().stream().map(a -> a.ports().get(0).host()).sorted()
        .toList();
    assertEquals(List.of(20000, 20002, 20003), ports);
    assertEquals(List.of(3), plan.group("g").unplaced().indices());
    assertTrue(plan.group("g").unplaced().summary().contains("1 dynamic ports needed, 0 free"),
        plan.group("g").unplaced().summary());
  }
}
