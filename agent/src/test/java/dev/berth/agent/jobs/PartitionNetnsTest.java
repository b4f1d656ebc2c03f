package dev.berth.agent.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.agent.it.BusyboxImage;
import dev.berth.agent.it.ScriptCluster;
import dev.berth.proto.v1.AllocationInfo;
import dev.berth.proto.v1.SubmitJobRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * A partitioned minority of servers places nothing: on a real cluster of three Raft servers
 * (n1-n3) and a member (n4) made by {@code deploy/cluster.sh}, the server leading the scheduler
 * is cut off. Its view then has every other node down, and its writes cannot commit; the majority
 * elects another leader and goes on. After the heal, no allocation of the nodes that stayed
 * connected was ever marked lost, and the cut server's replica runs once.
 */
@Tag("cluster")
@Timeout(300)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PartitionNetnsTest {
  private NetnsJobs c;

  @BeforeAll
  @Timeout(300) // bringing the cluster up takes 15-40 s, more on a machine busy with other clusters
  void startCluster() throws Exception {
    assumeTrue(ScriptCluster.available(), "network namespaces and berthd need root and iproute2");
    assumeTrue(BusyboxImage.available(), "needs Debian's busybox-static at /bin/busybox");
    c = NetnsJobs.up(4, 3);
  }

  /** Whatever the test did, the cluster converges to a state with nothing lost, duplicated or leaked. */
  @AfterEach
  void invariants() throws Exception {
    if (c != null) {
      ClusterInvariants.check(c);
    }
  }

  @AfterAll
  void stopCluster() throws Exception {
    if (c != null) {
      c.close();
    }
  }

  /** The server whose log says last that it leads the scheduler. */
  private String schedulerLeader() {
    for (String h : List.of("n1", "n2", "n3")) {
      List<String> lines = c.log(h, "leading the scheduler");
      if (!lines.isEmpty() && !lines.get(lines.size() - 1).contains("no longer")) {
        return h;
      }
    }
    return null;
  }

  @Test
  void aCutOffSchedulerLeaderCommitsNothingAndActsOnNothingItSawAlone() throws Exception {
    c.cluster.await(60, () -> schedulerLeader() != null, "a server leads the scheduler");
    String leader = schedulerLeader();
    String other = List.of("n1", "n2", "n3").stream().filter(h -> !h.equals(leader)).findFirst().orElseThrow();
    c.pinned(other, "steady", 2, "n4", "");
    c.pinned(other, "onleader", 1, leader, "");
    Set<String> steadyIds = c.status(other, "steady").getAllocationsList().stream().map(AllocationInfo::getId)
        .collect(Collectors.toSet());
    int lostBefore = c.log(leader, "allocation(s) lost").size();

    long t0 = System.nanoTime();
    assertEquals(0, c.cluster.run(30, "cut", leader).code());
    try {
      // The cut server cannot commit: a job submitted through it is refused, not half-stored.
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> c.jobs(leader).submit(
          SubmitJobRequest.newBuilder().setSource("minority.yaml").setText("name: minority\ngroups:\n  - name: m\n"
              + "    image: busybox\n    command: [sleep, \"3600\"]\n    resources: {cpu: 10m, memory: 8m}\n").build()));
      assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.getStatus().toString());
      // The majority goes on: it places a new job and moves the cut server's replica.
      c.submitRetrying(other, "during", "name: during\ngroups:\n  - name: d\n    count: 1\n    image: busybox\n"
          + "    command: " + NetnsJobs.SERVICE + "\n    resources: {cpu: 10m, memory: 8m}\n"
          + "    constraints: [{attribute: node.name, operator: \"!=\", value: " + leader + "}]\n", 60);
      c.await(90, () -> NetnsJobs.running(c.status(other, "during")).size() == 1
          && NetnsJobs.running(c.status(other, "onleader")).stream().noneMatch(a -> a.getNode().equals(leader)),
          () -> "the majority placed during and moved onleader: " + c.describe(other, "onleader"));
      System.out.println("with the scheduler's leader cut off, the majority placed a new job and moved its replica "
          + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0) + " ms after the cut");
    } finally {
      assertEquals(0, c.cluster.run(30, "heal", leader).code());
    }
    c.cluster.await(90, () -> {
      try {
        return c.status(leader, "steady").getAllocationsCount() > 0;
      } catch (StatusRuntimeException e) {
        return false;
      }
    }, leader + " reads through the cluster again");
    Thread.sleep(5_000); // rounds of every leader there is now, on what they see
    // Nothing the cut server saw alone was acted on: steady's allocations on n4 were never lost.
    assertEquals(steadyIds, c.retrying(() -> c.status(other, "steady")).getAllocationsList().stream()
        .map(AllocationInfo::getId).collect(Collectors.toSet()), () -> "steady's allocations are the ones it had: "
        + c.describe(other, "steady"));
    assertEquals(2, NetnsJobs.running(c.retrying(() -> c.status(leader, "steady"))).size());
    assertEquals(lostBefore, c.log(leader, "allocation(s) lost").size(), "the cut server marked nothing lost");
    // What the cut server was asked to store never was (an uncommitted entry is overwritten on the heal).
    assertEquals(Status.Code.NOT_FOUND, assertThrows(StatusRuntimeException.class,
        () -> c.retrying(() -> c.status(other, "minority"))).getStatus().getCode());
    c.await(60, () -> c.copies("onleader").equals(Map.of("0", 1)), () -> "one copy of onleader");
    for (String job : List.of("steady", "onleader", "during")) {
      c.purge(other, job);
    }
  }
}
