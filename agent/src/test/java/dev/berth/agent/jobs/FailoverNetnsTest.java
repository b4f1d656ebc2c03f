package dev.berth.agent.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.agent.it.BusyboxImage;
import dev.berth.agent.it.ScriptCluster;
import dev.berth.proto.v1.AllocationInfo;
import dev.berth.proto.v1.JobStatus;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * A host lost, on a real cluster made by {@code deploy/cluster.sh} (server n1, members n2 and n3,
 * each in a network namespace of its own): an agent killed with -9 has its service replicas
 * placed on the other hosts, and stops the copies it kept running once it is back; a host cut off
 * stops the copies of groups with {@code stop_after_disconnect} on its own, keeps the others, and
 * after the partition heals only one copy of each replica runs. The failover times are printed
 * (bench/ holds the benchmarks; these are for the reader). One cluster for the class; each test
 * leaves every host as it found it.
 */
@Tag("cluster")
@Timeout(300)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FailoverNetnsTest {
  private NetnsJobs c;

  @BeforeAll
  @Timeout(300) // bringing the cluster up takes 15-40 s, more on a machine busy with other clusters
  void startCluster() throws Exception {
    assumeTrue(ScriptCluster.available(), "network namespaces and berthd need root and iproute2");
    assumeTrue(BusyboxImage.available(), "needs Debian's busybox-static at /bin/busybox");
    c = NetnsJobs.up(3, 1);
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

  @Test
  void aKilledMembersServiceReplicasRunElsewhereAndItStopsItsCopiesWhenBack() throws Exception {
    c.pinned("n1", "kept", 2, "n2", "");
    c.cluster.disconnect("n2");
    long t0 = System.nanoTime();
    assertEquals(0, c.cluster.run(30, "kill", "n2").code());
    c.cluster.await(60, () -> {
      List<AllocationInfo> run = NetnsJobs.running(c.status("n1", "kept"));
      return run.size() == 2 && run.stream().noneMatch(a -> a.getNode().equals("n2"));
    }, () -> "kept's replicas running on n1 and n3: " + c.describe("n1", "kept"));
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    System.out.println("failover: a killed member's 2 service replicas running elsewhere " + millis
        + " ms after kill -9 (grace period 2 s)");
    // Its containers kept running while the agent was away; back, it stops them: one copy each.
    assertEquals(2, c.runningOn("n1", "kept").size() + c.runningOn("n3", "kept").size());
    assertEquals(0, c.cluster.run(60, "start", "n2").code());
    long t1 = System.nanoTime();
    c.cluster.await(90, () -> {
      try {
        return c.runningOn("n2", "kept").isEmpty();
      } catch (io.grpc.StatusRuntimeException e) {
        return false; // still starting
      }
    }, "n2's lost copies stopped");
    System.out.println("the restarted agent stopped its lost copies " + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t1)
        + " ms after its start");
    assertEquals(Map.of("0", 1, "1", 1), c.copies("kept"));
    c.cluster.await(60, () -> c.status("n2", "kept").getAllocationsCount() > 0, "n2 answers for the cluster again");
    c.purge("n1", "kept");
  }

  @Test
  void aCutMemberStopsItsGuardedCopiesAndAfterTheHealOneCopyOfEachReplicaRuns() throws Exception {
    c.pinned("n1", "guarded", 2, "n3", "stop_after_disconnect: 4s\n");
    c.pinned("n1", "plain", 2, "n3", "");
    long t0 = System.nanoTime();
    assertEquals(0, c.cluster.run(30, "cut", "n3").code());
    try {
      // The cut host's own agent still answers locally: it stops the guarded copies on its own.
      c.cluster.await(30, () -> c.runningOn("n3", "guarded").isEmpty(), "n3 stopped guarded's copies");
      long stopped = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
      System.out.println("stop_after_disconnect 4s: the cut host stopped its copies " + stopped + " ms after the cut");
      assertTrue(stopped >= 3_500, "not before stop_after_disconnect: " + stopped + " ms");
      assertEquals(2, c.runningOn("n3", "plain").size(), "a group without the option keeps running");
      // Meanwhile the majority placed both jobs' replicas on n1 and n2.
      for (String job : List.of("guarded", "plain")) {
        c.cluster.await(60, () -> {
          List<AllocationInfo> run = NetnsJobs.running(c.status("n1", job));
          return run.size() == 2 && run.stream().noneMatch(a -> a.getNode().equals("n3"));
        }, () -> job + " replaced off n3: " + c.describe("n1", job));
      }
      System.out.println("a cut member's replicas running elsewhere "
          + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0) + " ms after the cut");
      assertEquals(2, c.runningOn("n3", "plain").size(), "still running while cut off");
    } finally {
      assertEquals(0, c.cluster.run(30, "heal", "n3").code());
    }
    long healed = System.nanoTime();
    // From the heal on: never two copies of a guarded replica; the plain copies on n3 stopped soon.
    long lastDuplicate = -1;
    while (!c.runningOn("n3", "plain").isEmpty()) {
      long now = System.nanoTime();
      assertTrue(now - healed < TimeUnit.SECONDS.toNanos(60), "n3 stops its plain copies after the heal");
      c.copies("guarded").forEach((index, n) -> assertEquals(1, n, "guarded[" + index + "] runs once"));
      if (c.copies("plain").values().stream().anyMatch(n -> n > 1)) {
        lastDuplicate = now;
      }
      Thread.sleep(100);
    }
    long duplicates = lastDuplicate < 0 ? 0 : TimeUnit.NANOSECONDS.toMillis(lastDuplicate - healed);
    System.out.println("after the heal, two copies of a replica without stop_after_disconnect for at most "
        + duplicates + " ms");
    // As soon as it reads its allocations again the node kills the lost copies (no stop timeout):
    // about a second here; the bound is loose for a busy two-core machine.
    assertTrue(duplicates < 5_000, "duplicates gone soon after the heal: " + duplicates + " ms");
    Thread.sleep(2_000);
    assertEquals(Map.of("0", 1, "1", 1), c.copies("plain"));
    assertEquals(Map.of("0", 1, "1", 1), c.copies("guarded"));
    // The node reported what it stopped once it could: lost, and placed elsewhere.
    c.cluster.await(60, () -> c.status("n3", "guarded").getAllocationsList().stream()
        .filter(a -> a.getNode().equals("n3")).allMatch(a -> !a.getDesiredRunning()), "n3's copies are history");
    c.purge("n1", "guarded");
    c.purge("n1", "plain");
  }

  @Test
  void anUnhealthyAllocationIsReportedFailedAndReplacedOnAnotherNode() throws Exception {
    String job = """
        name: sick
        type: service
        reschedule: {delay: 1s, delay_function: constant, unlimited: true}
        groups:
          - name: sick
            count: 1
            image: busybox
            command: [sh, -c, "trap 'exit 0' TERM; while :; do sleep 1; done"]
            resources: {cpu: 10m, memory: 8m}
            health: {cmd: "test -e /healthy", interval: 500ms, timeout: 1s, retries: 2}
        """;
    c.submit("n1", "sick", job);
    JobStatus[] last = new JobStatus[1];
    c.cluster.await(60, () -> {
      last[0] = c.status("n1", "sick");
      return last[0].getAllocationsList().stream().anyMatch(a -> a.getGeneration() >= 1 && a.getPreviousNode().length() > 0);
    }, () -> "sick rescheduled: " + c.describe("n1", "sick"));
    AllocationInfo first = last[0].getAllocationsList().stream().filter(a -> a.getGeneration() == 0).findFirst().orElseThrow();
    AllocationInfo second = last[0].getAllocationsList().stream().filter(a -> a.getGeneration() == 1).findFirst().orElseThrow();
    assertTrue(first.getMessage().startsWith("unhealthy: 2 health checks in a row failed"), first.getMessage());
    assertFalse(first.getDesiredRunning() && first.getState() == dev.berth.proto.v1.AllocationState.ALLOCATION_RUNNING);
    assertEquals(first.getNode(), second.getPreviousNode());
    assertTrue(!second.getNode().equals(first.getNode()), "placed on another node: " + c.describe("n1", "sick"));
    assertEquals(1, second.getReschedules());
    c.purge("n1", "sick");
  }
}
