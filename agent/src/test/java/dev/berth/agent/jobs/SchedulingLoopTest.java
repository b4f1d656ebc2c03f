package dev.berth.agent.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import dev.berth.agent.cluster.MemberState;
import dev.berth.proto.v1.AllocationState;
import dev.berth.proto.v1.StoredAllocation;
import dev.berth.scheduler.Scheduler;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The scheduling loop and the job operations over an in-memory store and fake node views: the
 * rounds are driven by the test (no thread, no election), the nodes' reports written as an agent
 * writes them.
 */
class SchedulingLoopTest {
  private final FakeNodes nodes = new FakeNodes().node("a", 2, 4096).node("b", 2, 4096).node("c", 2, 4096);
  private final Clock clock = Clock.fixed(Instant.parse("2026-11-27T12:00:00Z"), ZoneOffset.UTC);
  private final List<String> lost = new ArrayList<>();
  private final SchedulingLoop loop = new SchedulingLoop(nodes.jobs, nodes.view(), null, new Scheduler(), clock,
      Duration.ofSeconds(1), new SchedulingLoop.Listener() {
        @Override
        public void lost(String node, int allocations) {
          lost.add(node + ":" + allocations);
        }
      });
  private final Jobs jobs = new Jobs(nodes.jobs, nodes.view(), new Scheduler(), clock, () -> { });

  private static String service(String name, int count, String extra) {
    return "name: " + name + "\ntype: service\ngroups:\n  - name: " + name + "\n    count: " + count
        + "\n    image: busybox\n    resources: {cpu: 100m, memory: 64m}\n" + extra;
  }

  @Test
  void aSubmittedJobIsPlacedOnceAndAFixedPortAllowsOneReplicaPerNode() {
    Jobs.Submitted s = jobs.submit("web.yaml", service("web", 4, "    ports: [\"8080:80\"]\n"), List.of());
    assertEquals(1, s.version());
    assertTrue(s.changed());
    assertEquals(Evaluations.PENDING, nodes.jobs.evaluation("web").orElseThrow().evaluation().getStatus());

    loop.round(false);
    List<StoredAllocation> all = allocations("web");
    assertEquals(3, all.size());
    assertEquals(Set.of("a", "b", "c"), all.stream().map(StoredAllocation::getNode).collect(Collectors.toSet()));
    all.forEach(a -> assertEquals(8080, a.getPorts(0).getHost()));
    var eval = nodes.jobs.evaluation("web").orElseThrow().evaluation();
    assertEquals(Evaluations.BLOCKED, eval.getStatus());
    assertTrue(eval.getSummary().contains("1 replica pending"), eval.getSummary());

    // The same file again changes nothing; nothing more is placed on further rounds.
    assertFalse(jobs.submit("web.yaml", service("web", 4, "    ports: [\"8080:80\"]\n"), List.of()).changed());
    loop.round(true);
    loop.round(true);
    assertEquals(3, allocations("web").size());
  }

  @Test
  void aDownNodesAllocationsAreLostAndPlacedElsewhereWithTheNextGeneration() {
    jobs.submit("api.yaml", service("api", 3, "    distinct_hosts: false\n"), List.of());
    loop.round(false);
    List<StoredAllocation> before = allocations("api");
    assertEquals(3, before.size());
    String victim = before.get(0).getNode();
    long onVictim = before.stream().filter(a -> a.getNode().equals(victim)).count();

    nodes.state(victim, MemberState.DOWN);
    loop.round(true);
    assertEquals(List.of(victim + ":" + onVictim), lost);
    Map<Integer, List<StoredAllocation>> byIndex = allocations("api").stream()
        .collect(Collectors.groupingBy(StoredAllocation::getIndex, TreeMap::new, Collectors.toList()));
    assertEquals(3, byIndex.size());
    for (List<StoredAllocation> replica : byIndex.values()) {
      StoredAllocation latest = replica.stream().max((x, y) -> Long.compare(x.getGeneration(), y.getGeneration()))
          .orElseThrow();
      assertFalse(latest.getNode().equals(victim), "no replica left on the down node: " + replica);
      assertFalse(latest.getDesiredStop());
      replica.stream().filter(a -> a != latest).forEach(old -> {
        assertEquals(AllocationState.ALLOCATION_LOST_VALUE, old.getState());
        assertTrue(old.getDesiredStop(), "its node stops it should it come back");
        assertEquals(old.getGeneration() + 1, latest.getGeneration());
      });
    }
  }

  @Test
  void aChangedImageReplacesTheAllocationsOneAtATimeAndAScaleReplacesNone() {
    jobs.submit("w.yaml", service("w", 2, ""), List.of());
    loop.round(false);
    Set<String> first = allocations("w").stream().map(StoredAllocation::getId).collect(Collectors.toSet());

    jobs.scale("w", "", 3);
    loop.round(false);
    List<StoredAllocation> scaled = allocations("w");
    assertEquals(3, scaled.size());
    assertTrue(scaled.stream().filter(a -> first.contains(a.getId())).noneMatch(StoredAllocation::getDesiredStop),
        "a scale keeps what runs");
    nodes.nodesReport(true);

    jobs.submit("w.yaml", service("w", 2, "").replace("image: busybox", "image: busybox:1.36"), List.of());
    loop.round(false);
    List<StoredAllocation> after = allocations("w");
    // The submitted file has count 2 again: index 2 stopped; of indices 0 and 1, one is replaced
    // (update.max_parallel 1 by default), the other waits for the new one to be healthy.
    assertEquals(Set.of(0, 2), after.stream().filter(StoredAllocation::getDesiredStop).map(StoredAllocation::getIndex)
        .collect(Collectors.toSet()), after.toString());
    assertEquals(1, after.stream().filter(a -> a.getGeneration() == 1).count(), after.toString());
    loop.round(true);
    assertEquals(1, allocations("w").stream().filter(a -> a.getGeneration() == 1).count(), "waits while not healthy");

    nodes.nodesReport(true);
    loop.round(true);
    assertEquals(Set.of(0, 1), allocations("w").stream().filter(a -> a.getGeneration() == 1)
        .map(StoredAllocation::getIndex).collect(Collectors.toSet()));
  }

  @Test
  void aPurgedJobIsForgottenOnceItsNodesReportItsAllocationsStopped() {
    jobs.submit("p.yaml", service("p", 2, ""), List.of());
    loop.round(false);
    jobs.stop("p", true);
    loop.round(false);
    assertTrue(allocations("p").stream().allMatch(StoredAllocation::getDesiredStop));
    loop.round(true);
    assertTrue(nodes.jobs.job("p").isPresent(), "kept while its allocations still run");

    for (String node : List.of("a", "b", "c")) {
      nodes.jobs.updateNode(node, list -> list.stream()
          .map(a -> a.toBuilder().setState(AllocationState.ALLOCATION_STOPPED_VALUE).build()).toList());
    }
    loop.round(true);
    assertTrue(nodes.jobs.job("p").isEmpty());
    assertTrue(allocations("p").isEmpty());
    assertTrue(nodes.jobs.evaluation("p").isEmpty());
    assertEquals(BerthException.Kind.NOT_FOUND, assertThrows(BerthException.class, () -> jobs.status("p")).kind());
  }

  @Test
  void twoLeadersWorkingFromOneStaleReadNeverOvercommitANode() {
    FakeNodes one = new FakeNodes().node("solo", 1, 1024);
    Jobs j = new Jobs(one.jobs, one.view(), new Scheduler(), clock, () -> { });
    String big = "    resources: {cpu: 1, memory: 512m}\n";
    j.submit("x.yaml", service("x", 1, "").replace("    resources: {cpu: 100m, memory: 64m}\n", big), List.of());
    j.submit("y.yaml", service("y", 1, "").replace("    resources: {cpu: 100m, memory: 64m}\n", big), List.of());
    SchedulingLoop first = new SchedulingLoop(one.jobs, one.view(), null, new Scheduler(), clock, Duration.ofSeconds(1),
        SchedulingLoop.Listener.NONE);
    SchedulingLoop second = new SchedulingLoop(one.jobs, one.view(), null, new Scheduler(), clock, Duration.ofSeconds(1),
        SchedulingLoop.Listener.NONE);
    ClusterView.Read stale = one.view().read();
    first.evaluate(one.jobs.job("x").orElseThrow(), one.jobs.evaluation("x").orElseThrow(), stale);
    second.evaluate(one.jobs.job("y").orElseThrow(), one.jobs.evaluation("y").orElseThrow(), stale);
    List<StoredAllocation> on = one.jobs.nodeAllocations("solo").allocations();
    assertEquals(1, on.size(), "the second plan was re-checked against the node and refused: " + on);
    assertEquals(Evaluations.PENDING, one.jobs.evaluation("y").orElseThrow().evaluation().getStatus(),
        "the refused job is evaluated again");
    first.round(false);
    assertEquals(1, one.jobs.nodeAllocations("solo").allocations().size());
    assertTrue(one.jobs.evaluation("y").orElseThrow().evaluation().getSummary().contains("resources"),
        one.jobs.evaluation("y").orElseThrow().evaluation().getSummary());
  }

  @Test
  void aBadOrImpossibleJobIsRefusedBeforeAnythingIsStored() {
    BerthException unknown = assertThrows(BerthException.class,
        () -> jobs.submit("bad.yaml", "name: bad\ngroups: []\ncolour: red\n", List.of()));
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, unknown.kind());
    assertTrue(unknown.getMessage().startsWith("bad.yaml:3:"), unknown.getMessage());
    BerthException huge = assertThrows(BerthException.class, () -> jobs.submit("huge.yaml",
        service("huge", 1, "").replace("memory: 64m", "memory: 64g"), List.of()));
    assertTrue(huge.getMessage().startsWith("huge.yaml:"), huge.getMessage());
    assertTrue(nodes.jobs.jobs().isEmpty());
    assertTrue(nodes.jobs.evaluations().isEmpty());
  }

  @Test
  void scalingASystemJobOrAMissingGroupIsRefused() {
    jobs.submit("s.yaml", "name: s\ntype: system\ngroups:\n  - name: s\n    image: busybox\n", List.of());
    assertEquals(BerthException.Kind.INVALID_ARGUMENT,
        assertThrows(BerthException.class, () -> jobs.scale("s", "", 2)).kind());
    jobs.submit("w.yaml", service("w", 1, ""), List.of());
    assertEquals(BerthException.Kind.NOT_FOUND, assertThrows(BerthException.class, () -> jobs.scale("w", "nope", 2)).kind());
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, assertThrows(BerthException.class, () -> jobs.scale("w", "", -1)).kind());
    loop.round(false);
    assertEquals(3, allocations("s").size(), "a system job runs on every node");
  }

  @Test
  void aStoppedSystemJobIsStoppedOnEveryNodeAndNothingIsPlacedAgain() {
    jobs.submit("s.yaml", "name: s\ntype: system\ngroups:\n  - name: s\n    image: busybox\n", List.of());
    loop.round(false);
    assertEquals(3, allocations("s").size());
    jobs.stop("s", true);
    for (int i = 0; i < 3; i++) {
      loop.round(true);
    }
    List<StoredAllocation> after = allocations("s");
    assertEquals(3, after.size(), "nothing placed for a stopped job: " + after);
    assertTrue(after.stream().allMatch(StoredAllocation::getDesiredStop));
  }

  private static final String START_FIRST =
      "update: {min_healthy_time: 1s, healthy_deadline: 60s, order: start-first, auto_revert: true}\n";

  /** Live (not asked to stop) allocations of a job by replica index, as "index/generation". */
  private Set<String> live(String job) {
    return allocations(job).stream().filter(a -> !a.getDesiredStop() && !JobCodec.terminal(a))
        .map(a -> a.getIndex() + "/" + a.getGeneration()).collect(Collectors.toCollection(java.util.TreeSet::new));
  }

  @Test
  void startFirstPlacesEachNewCopyAndStopsTheOldOneOnlyOnceTheNewOneIsHealthy() {
    jobs.submit("w.yaml", service("w", 2, START_FIRST), List.of());
    loop.round(false);
    nodes.nodesReport(true);
    loop.round(true);
    assertEquals(Set.of("0/0", "1/0"), live("w"));

    jobs.submit("w.yaml", service("w", 2, START_FIRST).replace("image: busybox", "image: busybox:1.36"), List.of());
    loop.round(false);
    assertEquals(Set.of("0/0", "0/1", "1/0"), live("w"), "the new copy of replica 0 is placed beside the old one");
    nodes.nodesReport(false);
    loop.round(true);
    loop.round(true);
    assertEquals(Set.of("0/0", "0/1", "1/0"), live("w"), "nothing stopped while the new copy is not healthy");
    assertEquals(2, jobs.status("w").allocations().stream()
        .filter(a -> a.getIndex() == 0 && !a.getDesiredStop()).count(), "two copies of replica 0 on purpose");

    nodes.nodesReport(true);
    loop.round(true);
    assertEquals(Set.of("0/1", "1/0", "1/1"), live("w"), "old 0 retired; replica 1's new copy placed first");
    StoredAllocation retired = allocations("w").stream().filter(a -> a.getIndex() == 0 && a.getGeneration() == 0)
        .findFirst().orElseThrow();
    assertTrue(retired.getDesiredReason().contains("start-first"), retired.getDesiredReason());
    nodes.nodesReport(true);
    loop.round(true);
    nodes.nodesReport(true);
    loop.round(true);
    assertEquals(Set.of("0/1", "1/1"), live("w"));
    assertEquals(Deployments.SUCCESSFUL, nodes.jobs.job("w").orElseThrow().getDeployment());
  }

  @Test
  void startFirstPlacesElsewhereOrFallsBackToStopFirstWhenTheOldCopyHoldsTheOnlyFreeFixedPort() {
    String ports = "    ports: [\"8080:80\"]\n" + START_FIRST;
    // Two replicas on three nodes: the third node takes the new copy.
    jobs.submit("p.yaml", service("p", 2, ports), List.of());
    loop.round(false);
    nodes.nodesReport(true);
    jobs.submit("p.yaml", service("p", 2, ports).replace("image: busybox", "image: busybox:1.36"), List.of());
    loop.round(false);
    assertEquals(Set.of("0/0", "0/1", "1/0"), live("p"));
    Set<String> used = allocations("p").stream().filter(a -> !a.getDesiredStop()).map(StoredAllocation::getNode)
        .collect(Collectors.toSet());
    assertEquals(Set.of("a", "b", "c"), used, "the new copy went to the node without the port taken");

    // Three replicas on three nodes: the port is free nowhere else, so the old copy goes first.
    jobs.submit("q.yaml", service("q", 3, ports.replace("8080", "9090")), List.of());
    loop.round(false);
    nodes.nodesReport(true);
    jobs.submit("q.yaml", service("q", 3, ports.replace("8080", "9090")).replace("image: busybox",
        "image: busybox:1.36"), List.of());
    loop.round(false);
    List<StoredAllocation> q = allocations("q");
    assertEquals(1, q.stream().filter(StoredAllocation::getDesiredStop).count(), q.toString());
    assertEquals(1, q.stream().filter(a -> a.getGeneration() == 1).count(), q.toString());
    String summary = nodes.jobs.evaluation("q").orElseThrow().evaluation().getSummary();
    assertTrue(summary.contains("no node has room for its new copy while the old one runs on")
        && summary.contains("fixed host port 9090") && summary.contains("replaced stop-first"), summary);
  }

  @Test
  void aFailedStartFirstCopyIsRevertedWhileTheOldCopyKeepsServing() {
    jobs.submit("r.yaml", service("r", 1, START_FIRST), List.of());
    loop.round(false);
    nodes.nodesReport(true);
    loop.round(true);
    assertEquals(Deployments.SUCCESSFUL, nodes.jobs.job("r").orElseThrow().getDeployment());

    jobs.submit("r.yaml", service("r", 1, START_FIRST).replace("image: busybox", "image: broken"), List.of());
    loop.round(false);
    assertEquals(Set.of("0/0", "0/1"), live("r"));
    for (String node : List.of("a", "b", "c")) {
      nodes.jobs.updateNode(node, list -> list.stream().map(a -> a.getGeneration() == 1
          ? a.toBuilder().setState(AllocationState.ALLOCATION_FAILED_VALUE).setMessage("exited with code 1").build()
          : a).toList());
    }
    loop.round(true);
    var job = nodes.jobs.job("r").orElseThrow();
    assertEquals(3, job.getVersion(), "reverted as a new version");
    assertTrue(job.getDeploymentMessage().contains("reverted to version 1"), job.getDeploymentMessage());
    assertTrue(live("r").contains("0/0"), "the old copy kept serving: " + live("r"));
    loop.round(true);
    assertEquals(Set.of("0/0", "0/2"), live("r"), "the stable spec placed again beside it");
    nodes.nodesReport(true);
    loop.round(true);
    assertEquals(Set.of("0/2"), live("r"));
  }

  private List<StoredAllocation> allocations(String job) {
    List<StoredAllocation> out = new ArrayList<>();
    nodes.jobs.allAllocations().values().forEach(n -> n.allocations().stream()
        .filter(a -> a.getJob().equals(job)).forEach(out::add));
    return out;
  }
}
