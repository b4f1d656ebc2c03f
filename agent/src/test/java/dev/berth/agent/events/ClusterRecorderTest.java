package dev.berth.agent.events;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.berth.agent.cluster.Member;
import dev.berth.agent.cluster.MemberState;
import dev.berth.agent.cluster.Role;
import dev.berth.agent.jobs.JobStore;
import dev.berth.proto.v1.AllocationState;
import dev.berth.proto.v1.StoredAllocation;
import dev.berth.proto.v1.StoredJob;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Node, job and allocation events as the scheduler's leader sees the cluster change. */
class ClusterRecorderTest {
  private final List<Event> recorded = new ArrayList<>();
  private final ClusterRecorder recorder = new ClusterRecorder("n1", recorded::add);

  private static StoredJob job(String name, long version, boolean stopped) {
    return StoredJob.newBuilder().setName(name).setVersion(version).setStopped(stopped).build();
  }

  private static StoredAllocation alloc(String id, String node, int index, long generation, AllocationState state) {
    return StoredAllocation.newBuilder().setId(id).setJob("web").setGroup("app").setIndex(index).setNode(node)
        .setGeneration(generation).setState(state.getNumber()).build();
  }

  private static Map<String, JobStore.NodeAllocations> on(StoredAllocation... allocations) {
    Map<String, List<StoredAllocation>> byNode = new LinkedHashMap<>();
    for (StoredAllocation a : allocations) {
      byNode.computeIfAbsent(a.getNode(), k -> new ArrayList<>()).add(a);
    }
    Map<String, JobStore.NodeAllocations> out = new LinkedHashMap<>();
    byNode.forEach((n, list) -> out.put(n, new JobStore.NodeAllocations(n, list, 1)));
    return out;
  }

  private List<String> said() {
    List<String> out = recorded.stream().map(e -> e.type() + " " + e.action() + " " + e.actorName() + " @" + e.node()
        + (e.attributes().isEmpty() ? "" : " " + e.attributes())).toList();
    recorded.clear();
    return out;
  }

  @Test
  void jobsAndAllocationsAsTheyChangeBetweenRounds() {
    recorder.leading(true);
    recorder.observed(List.of(), Map.of());  // the baseline of this leadership: nothing to say
    assertEquals(List.of(), said());

    StoredAllocation a0 = alloc("a0", "n2", 0, 1, AllocationState.ALLOCATION_PENDING);
    StoredAllocation a1 = alloc("a1", "n3", 1, 1, AllocationState.ALLOCATION_PENDING);
    recorder.observed(List.of(job("web", 1, false)), on(a0, a1));
    assertEquals(List.of(
        "job registered web @n1 {version=1}",
        "allocation placed web.app[0] @n2 {generation=1, group=app, index=0, job=web}",
        "allocation placed web.app[1] @n3 {generation=1, group=app, index=1, job=web}"), said());

    // n3 went down: its allocation is lost, and placed again on n2 in the same round.
    StoredAllocation a1lost = a1.toBuilder().setState(AllocationState.ALLOCATION_LOST_VALUE).setDesiredStop(true)
        .setMessage("lost: node n3 is down").build();
    StoredAllocation a1again = alloc("a1b", "n2", 1, 2, AllocationState.ALLOCATION_PENDING);
    recorder.observed(List.of(job("web", 1, false)), on(a0, a1lost, a1again));
    assertEquals(List.of(
        "allocation lost web.app[1] @n3 {generation=1, group=app, index=1, job=web, reason=lost: node n3 is down}",
        "allocation rescheduled web.app[1] @n2 {generation=2, group=app, index=1, job=web, previousAllocation=a1, "
            + "previousNode=n3}"), said());

    // A failure reported by its node, then the job stopped: its allocations are asked to stop.
    StoredAllocation a0failed = a0.toBuilder().setState(AllocationState.ALLOCATION_FAILED_VALUE).setMessage("exit 1").build();
    recorder.observed(List.of(job("web", 1, false)), on(a0failed, a1lost, a1again));
    assertEquals(List.of("allocation failed web.app[0] @n2 {generation=1, group=app, index=0, job=web, reason=exit 1}"),
        said());
    StoredAllocation a1stopping = a1again.toBuilder().setDesiredStop(true).setDesiredReason("job stopped").build();
    recorder.observed(List.of(job("web", 2, true)), on(a0failed, a1lost, a1stopping));
    assertEquals(List.of("job stopped web @n1 {version=2}",
        "allocation stop web.app[1] @n2 {generation=2, group=app, index=1, job=web, reason=job stopped}"), said());

    // A new version of a job registers again; a purged job is gone.
    recorder.observed(List.of(job("web", 3, false), job("api", 1, false)), Map.of());
    assertEquals(List.of("job registered web @n1 {version=3}", "job registered api @n1 {version=1}"), said());
    recorder.observed(List.of(job("api", 1, false)), Map.of());
    assertEquals(List.of("job purged web @n1"), said());
  }

  @Test
  void aReplacementNamesWhatItReplacesAndIsARescheduleOnlyAfterAFailureOrLoss() {
    recorder.leading(true);
    StoredAllocation v1 = alloc("v1", "n2", 0, 1, AllocationState.ALLOCATION_RUNNING);
    recorder.observed(List.of(job("web", 1, false)), on(v1));
    // A rolling update: the running one is asked to stop, its successor placed on n3.
    StoredAllocation v1stopping = v1.toBuilder().setDesiredStop(true).setDesiredReason("update").build();
    StoredAllocation v2 = alloc("v2", "n3", 0, 2, AllocationState.ALLOCATION_PENDING).toBuilder()
        .setPreviousAllocation("v1").setPreviousNode("n2").build();
    recorder.observed(List.of(job("web", 2, false)), on(v1stopping, v2));
    assertEquals(List.of("job registered web @n1 {version=2}",
        "allocation stop web.app[0] @n2 {generation=1, group=app, index=0, job=web, reason=update}",
        "allocation placed web.app[0] @n3 {generation=2, group=app, index=0, job=web, previousAllocation=v1, "
            + "previousNode=n2}"), said());
    // It fails; the scheduler places it again, naming the failed one.
    StoredAllocation v2failed = v2.toBuilder().setState(AllocationState.ALLOCATION_FAILED_VALUE).setMessage("exit 2").build();
    StoredAllocation v3 = alloc("v3", "n2", 0, 3, AllocationState.ALLOCATION_PENDING).toBuilder()
        .setPreviousAllocation("v2").build();
    recorder.observed(List.of(job("web", 2, false)), on(v1stopping, v2failed, v3));
    assertEquals(List.of("allocation failed web.app[0] @n3 {generation=2, group=app, index=0, job=web, reason=exit 2}",
        "allocation rescheduled web.app[0] @n2 {generation=3, group=app, index=0, job=web, previousAllocation=v2, "
            + "previousNode=n3}"), said());
  }

  @Test
  void drainsAndRolloutsAreTheLeadersToo() {
    recorder.drained("n2");
    recorder.rollout("web", 2, "failed", "2 of 3 unhealthy");
    assertEquals(List.of(), said());
    recorder.leading(true);
    recorder.drained("n2");
    recorder.rollout("web", 2, "failed", "2 of 3 unhealthy");
    recorder.rollout("web", 3, "successful", "");
    assertEquals(List.of("node drained n2 @n2", "job rollout: failed web @n1 {message=2 of 3 unhealthy, version=2}",
        "job rollout: successful web @n1 {version=3}"), said());
  }

  @Test
  void onlyTheLeaderRecordsAndANewLeadershipStartsFromABaseline() {
    recorder.observed(List.of(), Map.of());
    recorder.observed(List.of(job("web", 1, false)), Map.of());
    assertEquals(List.of(), said(), "not leading");
    recorder.leading(true);
    recorder.observed(List.of(job("web", 1, false), job("api", 1, false)), Map.of());
    assertEquals(List.of(), said(), "the first round of a leadership is its baseline");
    recorder.observed(List.of(job("web", 1, true), job("api", 1, false)), Map.of());
    assertEquals(List.of("job stopped web @n1 {version=1}"), said());
  }

  @Test
  void nodeEventsWhenTheLivenessViewChangesOnTheLeaderOnly() {
    recorder.accept(new Member("n2", "10.0.0.2:7946", Role.MEMBER, MemberState.ALIVE, 1));
    recorder.accept(new Member("n2", "10.0.0.2:7946", Role.MEMBER, MemberState.SUSPECT, 2));
    assertEquals(List.of(), said(), "not leading");
    recorder.leading(true);
    recorder.accept(new Member("n2", "10.0.0.2:7946", Role.MEMBER, MemberState.SUSPECT, 2));  // an address change
    recorder.accept(new Member("n2", "10.0.0.2:7946", Role.MEMBER, MemberState.DOWN, 3));
    recorder.accept(new Member("n2", "10.0.0.2:7946", Role.MEMBER, MemberState.ALIVE, 4));
    recorder.accept(new Member("n3", "10.0.0.3:7946", Role.SERVER, MemberState.ALIVE, 4));
    recorder.accept(new Member("n4", "", Role.MEMBER, MemberState.DOWN, 4));  // first seen down: a leftover
    assertEquals(List.of(
        "node down n2 @n2 {address=10.0.0.2:7946, previous=suspect, role=member}",
        "node up n2 @n2 {address=10.0.0.2:7946, previous=down, role=member}",
        "node up n3 @n3 {address=10.0.0.3:7946, role=server}"), said());
  }
}
