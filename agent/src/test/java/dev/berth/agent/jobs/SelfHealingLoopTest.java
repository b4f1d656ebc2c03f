package dev.berth.agent.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.cluster.MemberState;
import dev.berth.agent.cluster.NodeRecord;
import dev.berth.proto.v1.AllocationState;
import dev.berth.proto.v1.StoredAllocation;
import dev.berth.proto.v1.StoredJob;
import dev.berth.scheduler.Scheduler;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * Self-healing across hosts, driven round by round over fake views and a clock the test moves:
 * reschedules with their delays and attempts and away from the node that failed, drains at the
 * jobs' pace with their deadline and system jobs last, rolling updates that wait for health and go
 * back to the stable version when they fail, and a server whose view lacks a quorum doing nothing.
 */
class SelfHealingLoopTest {
  /** A clock the test moves. */
  static final class TestClock extends Clock {
    private long millis = Instant.parse("2026-11-27T12:00:00Z").toEpochMilli();

    void advance(Duration d) {
      millis += d.toMillis();
    }

    @Override
    public long millis() {
      return millis;
    }

    @Override
    public Instant instant() {
      return Instant.ofEpochMilli(millis);
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }
  }

  private final TestClock clock = new TestClock();
  private final List<String> events = new ArrayList<>();

  private SchedulingLoop loop(FakeNodes nodes) {
    return new SchedulingLoop(nodes.jobs, nodes.view(), null, new Scheduler(), clock, Duration.ofSeconds(1),
        new SchedulingLoop.Listener() {
          @Override
          public void drained(String node) {
            events.add("drained " + node);
          }

          @Override
          public void rollout(String job, long version, String state, String message) {
            events.add(job + " v" + version + " " + state);
          }
        });
  }

  private Jobs jobs(FakeNodes nodes) {
    return new Jobs(nodes.jobs, nodes.view(), new Scheduler(), clock, () -> { });
  }

  private static String service(String name, int count, String extra) {
    return "name: " + name + "\ntype: service\ngroups:\n  - name: " + name + "\n    count: " + count
        + "\n    image: busybox\n    resources: {cpu: 100m, memory: 64m}\n" + extra;
  }

  private static List<StoredAllocation> allocations(FakeNodes nodes, String job) {
    List<StoredAllocation> out = new ArrayList<>();
    nodes.jobs.allAllocations().values().forEach(n -> n.allocations().stream()
        .filter(a -> a.getJob().equals(job)).forEach(out::add));
    out.sort(Comparator.comparingInt(StoredAllocation::getIndex).thenComparingLong(StoredAllocation::getGeneration));
    return out;
  }

  private static List<StoredAllocation> live(FakeNodes nodes, String job) {
    return allocations(nodes, job).stream().filter(Replacements::live).toList();
  }

  /** Reports an allocation's end as its node would, now. */
  private void fail(FakeNodes nodes, StoredAllocation a, String message) {
    nodes.jobs.updateNode(a.getNode(), list -> list.stream().map(x -> !x.getId().equals(a.getId()) ? x
        : x.toBuilder().setState(AllocationState.ALLOCATION_FAILED_VALUE).setMessage(message)
            .setUpdatedAtMillis(clock.millis()).build()).toList());
  }

  private String summary(FakeNodes nodes, String job) {
    return nodes.jobs.evaluation(job).orElseThrow().evaluation().getSummary();
  }

  @Test
  void aFailedAllocationIsRescheduledAfterAGrowingDelayAwayFromTheNodesItFailedOn() {
    FakeNodes nodes = new FakeNodes().node("a", 2, 4096).node("b", 2, 4096).node("c", 2, 4096);
    SchedulingLoop loop = loop(nodes);
    jobs(nodes).submit("r.yaml", service("r", 1,
        "reschedule: {delay: 10s, delay_function: exponential, max_delay: 1m, unlimited: true}\n"), List.of());
    loop.round(false);
    nodes.nodesReport(true);
    StoredAllocation first = live(nodes, "r").get(0);
    fail(nodes, first, "unhealthy: 3 health checks in a row failed");

    loop.round(true);
    assertTrue(live(nodes, "r").isEmpty(), "held for its delay");
    assertTrue(summary(nodes, "r").contains("r[0] failed on " + first.getNode() + "; rescheduled in 10 s"),
        summary(nodes, "r"));
    clock.advance(Duration.ofSeconds(10));
    loop.round(true);
    StoredAllocation second = live(nodes, "r").get(0);
    assertEquals(1, second.getGeneration());
    assertNotEquals(first.getNode(), second.getNode(), "placed away from the node it failed on");
    assertEquals(List.of(clock.millis()), second.getRescheduleTimesMillisList());
    assertEquals(first.getNode(), second.getPreviousNode());
    assertEquals(first.getId(), second.getPreviousAllocation());

    // The second failure waits twice as long, and the third node is the one it has not failed on.
    nodes.nodesReport(true);
    fail(nodes, live(nodes, "r").get(0), "exited with code 1");
    clock.advance(Duration.ofSeconds(19));
    loop.round(true);
    assertTrue(live(nodes, "r").isEmpty(), "20 s the second time");
    clock.advance(Duration.ofSeconds(1));
    loop.round(true);
    StoredAllocation third = live(nodes, "r").get(0);
    assertEquals(2, third.getGeneration());
    Set<String> failedOn = Set.of(first.getNode(), second.getNode());
    assertFalse(failedOn.contains(third.getNode()), third.getNode() + " is not one of " + failedOn);
    assertEquals(2, third.getRescheduleTimesMillisCount());
  }

  @Test
  void aReplicaWhoseAttemptsAreUsedUpStaysFailed() {
    FakeNodes nodes = new FakeNodes().node("a", 2, 4096).node("b", 2, 4096);
    SchedulingLoop loop = loop(nodes);
    jobs(nodes).submit("b.yaml", service("b", 1, "reschedule: {attempts: 1, interval: 1h, delay: 1s}\n"), List.of());
    loop.round(false);
    nodes.nodesReport(true);
    fail(nodes, live(nodes, "b").get(0), "exited with code 2");
    clock.advance(Duration.ofSeconds(1));
    loop.round(true);
    assertEquals(1, live(nodes, "b").size(), "the one attempt");
    nodes.nodesReport(true);
    fail(nodes, live(nodes, "b").get(0), "exited with code 2");
    clock.advance(Duration.ofMinutes(5));
    loop.round(true);
    assertTrue(live(nodes, "b").isEmpty());
    assertTrue(summary(nodes, "b").contains("is not rescheduled: rescheduled 1 time within 1h already"),
        summary(nodes, "b"));
    // An hour after the reschedule the attempt counts no more.
    clock.advance(Duration.ofHours(1));
    loop.round(true);
    assertEquals(1, live(nodes, "b").size());
  }

  @Test
  void aDrainMovesAllocationsAtTheJobsPaceAndEndsWithTheNodeIneligible() {
    FakeNodes nodes = new FakeNodes().node("a", 2, 4096).node("b", 2, 4096).node("c", 2, 4096);
    SchedulingLoop loop = loop(nodes);
    Jobs jobs = jobs(nodes);
    jobs.submit("w.yaml", service("w", 6, "strategy: spread\nupdate: {max_parallel: 1, min_healthy_time: 1s}\n"),
        List.of());
    jobs.submit("s.yaml", "name: s\ntype: system\ngroups:\n  - name: s\n    image: busybox\n"
        + "    resources: {cpu: 10m, memory: 8m}\n", List.of());
    loop.round(false);
    nodes.nodesReport(true);
    loop.round(true);
    Set<Integer> onA = live(nodes, "w").stream().filter(x -> x.getNode().equals("a")).map(StoredAllocation::getIndex)
        .collect(Collectors.toSet());
    assertEquals(2, onA.size(), "spread: two on each node " + live(nodes, "w"));

    nodes.drain("a", 0);
    Set<Integer> moved = new HashSet<>();
    for (int step = 0; step < 10 && moved.size() < 2; step++) {
      loop.round(true);
      List<StoredAllocation> now = allocations(nodes, "w");
      long stopping = now.stream().filter(x -> x.getNode().equals("a") && x.getDesiredStop()
          && !JobCodec.terminal(x)).count();
      assertTrue(stopping <= 1, "one at a time (max_parallel 1): " + now);
      assertTrue(live(nodes, "w").size() >= 5, "never fewer than count - max_parallel: " + now);
      now.stream().filter(x -> x.getNode().equals("a") && x.getDesiredStop()).forEach(x -> moved.add(x.getIndex()));
      assertTrue(live(nodes, "s").stream().anyMatch(x -> x.getNode().equals("a")),
          "the system job stays while the service is on a");
      nodes.nodesReport(true);
    }
    assertEquals(onA, moved);
    assertTrue(live(nodes, "w").stream().noneMatch(x -> x.getNode().equals("a")));
    loop.round(true); // the system job leaves last
    nodes.nodesReport(true);
    loop.round(true);
    assertTrue(live(nodes, "s").stream().noneMatch(x -> x.getNode().equals("a")), live(nodes, "s").toString());
    nodes.nodesReport(true);
    loop.round(true);
    NodeRecord a = nodes.registry.get("a").orElseThrow();
    assertFalse(a.drain(), "the drain ended");
    assertFalse(a.eligible(), "a drained node stays ineligible");
    assertTrue(events.contains("drained a"), events.toString());
  }

  @Test
  void afterADrainsDeadlineWhatIsLeftMovesAtOnce() {
    FakeNodes nodes = new FakeNodes().node("a", 2, 4096).node("b", 2, 4096).node("c", 2, 4096);
    SchedulingLoop loop = loop(nodes);
    jobs(nodes).submit("w.yaml", service("w", 6, "strategy: spread\nupdate: {max_parallel: 1}\n"), List.of());
    loop.round(false);
    nodes.nodesReport(true);
    nodes.drain("b", clock.millis() + 30_000);
    loop.round(true);
    Predicate<StoredAllocation> onB = x -> x.getNode().equals("b");
    assertEquals(1, live(nodes, "w").stream().filter(onB).count(), "one moved, one waits");
    loop.round(true);
    assertEquals(1, live(nodes, "w").stream().filter(onB).count(), "still waits: the new one is not healthy");
    clock.advance(Duration.ofSeconds(31));
    loop.round(true);
    assertEquals(0, live(nodes, "w").stream().filter(onB).count(), "the deadline passed");
    assertEquals(6, live(nodes, "w").size());
  }

  @Test
  void aRollingUpdateWaitsForHealthAndAFailedOneGoesBackToTheStableVersion() {
    FakeNodes nodes = new FakeNodes().node("a", 2, 4096).node("b", 2, 4096).node("c", 2, 4096);
    SchedulingLoop loop = loop(nodes);
    Jobs jobs = jobs(nodes);
    String update = "update: {max_parallel: 1, min_healthy_time: 1s, healthy_deadline: 1m, auto_revert: true}\n";
    String v1 = service("u", 3, update);
    jobs.submit("u.yaml", v1, List.of());
    loop.round(false);
    nodes.nodesReport(true);
    loop.round(true);
    StoredJob stable = nodes.jobs.job("u").orElseThrow();
    assertEquals(Deployments.SUCCESSFUL, stable.getDeployment());
    assertEquals(1, stable.getStable().getVersion());

    // Version 2: one replica at a time, each once the one before is healthy.
    jobs.submit("u.yaml", v1.replace("image: busybox", "image: busybox:1.36"), List.of());
    for (int step = 0; step < 12; step++) {
      loop.round(true);
      assertTrue(live(nodes, "u").size() >= 2, "never fewer than count - 1: " + allocations(nodes, "u"));
      nodes.nodesReport(true);
      assertTrue(allocations(nodes, "u").stream().filter(x -> x.getJobVersion() == 2 && !x.getHealthy()).count() <= 1);
    }
    assertEquals(Set.of(2L), live(nodes, "u").stream().map(StoredAllocation::getJobVersion).collect(Collectors.toSet()));
    loop.round(true);
    assertEquals(2, nodes.jobs.job("u").orElseThrow().getStable().getVersion());
    assertTrue(events.contains("u v2 successful"), events.toString());

    // Version 3 fails: its first new allocation fails to start; back to version 2's file, as version 4.
    jobs.submit("u.yaml", v1.replace("image: busybox", "image: busybox:broken"), List.of());
    loop.round(true);
    StoredAllocation bad = live(nodes, "u").stream().filter(x -> x.getJobVersion() == 3).findFirst().orElseThrow();
    fail(nodes, bad, "failed to start: no such image busybox:broken");
    loop.round(true);
    StoredJob reverted = nodes.jobs.job("u").orElseThrow();
    assertEquals(4, reverted.getVersion());
    assertTrue(reverted.getText().contains("image: busybox:1.36"), reverted.getText());
    assertTrue(reverted.getDeploymentMessage().contains("version 3 failed (u[" + bad.getIndex() + "] failed on "
        + bad.getNode() + ": failed to start"), reverted.getDeploymentMessage());
    assertTrue(reverted.getDeploymentMessage().endsWith("reverted to version 2"), reverted.getDeploymentMessage());
    assertTrue(events.contains("u v3 reverted"), events.toString());
    loop.round(true);
    nodes.nodesReport(true);
    loop.round(true);
    assertEquals(3, live(nodes, "u").size());
    assertTrue(live(nodes, "u").stream().allMatch(x -> x.getSpec().equals(live(nodes, "u").get(0).getSpec())));
    assertEquals(Deployments.SUCCESSFUL, nodes.jobs.job("u").orElseThrow().getDeployment());
  }

  @Test
  void withoutAutoRevertAFailedRolloutIsHalted() {
    FakeNodes nodes = new FakeNodes().node("a", 2, 4096).node("b", 2, 4096);
    SchedulingLoop loop = loop(nodes);
    Jobs jobs = jobs(nodes);
    String v1 = service("h", 3, "update: {max_parallel: 1, min_healthy_time: 1s}\n");
    jobs.submit("h.yaml", v1, List.of());
    loop.round(false);
    nodes.nodesReport(true);
    loop.round(true);
    jobs.submit("h.yaml", v1.replace("image: busybox", "image: busybox:broken"), List.of());
    loop.round(true);
    StoredAllocation bad = live(nodes, "h").stream().filter(x -> x.getJobVersion() == 2).findFirst().orElseThrow();
    fail(nodes, bad, "failed to start");
    loop.round(true);
    assertEquals(Deployments.FAILED, nodes.jobs.job("h").orElseThrow().getDeployment());
    for (int i = 0; i < 3; i++) {
      nodes.nodesReport(true);
      loop.round(true);
    }
    assertEquals(2, live(nodes, "h").stream().filter(x -> x.getJobVersion() == 1).count(),
        "the old replicas are left as they are: " + allocations(nodes, "h"));
  }

  @Test
  void aServerWhoseViewLacksAQuorumMarksNothingLostAndPlacesNothing() {
    FakeNodes nodes = new FakeNodes().server("s1").server("s2").server("s3").node("a", 2, 4096).node("b", 2, 4096);
    SchedulingLoop loop = loop(nodes);
    jobs(nodes).submit("q.yaml", service("q", 2, "distinct_hosts: true\n".indent(4)), List.of());
    loop.round(false);
    assertEquals(2, live(nodes, "q").size());
    // s1 is cut off: it sees the other servers and every node down. The store answers here (a
    // stale leader's reads would not); still nothing may come of its view.
    nodes.state("s2", MemberState.DOWN);
    nodes.state("s3", MemberState.DOWN);
    nodes.state("a", MemberState.DOWN);
    jobs(nodes).submit("q2.yaml", service("q2", 1, ""), List.of());
    loop.round(true);
    assertEquals(2, live(nodes, "q").size(), "nothing marked lost");
    assertTrue(allocations(nodes, "q2").isEmpty(), "nothing placed");
    // Back in the majority's view: a is down there too, so its replica is placed elsewhere.
    nodes.state("s2", MemberState.ALIVE);
    loop.round(true);
    assertTrue(live(nodes, "q").stream().noneMatch(x -> x.getNode().equals("a")));
    assertEquals(1, allocations(nodes, "q2").size());
  }
}
