package dev.berth.agent.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.agent.it.BusyboxImage;
import dev.berth.agent.it.ScriptCluster;
import dev.berth.proto.v1.AllocationInfo;
import dev.berth.proto.v1.AllocationState;
import dev.berth.proto.v1.JobHistory;
import dev.berth.proto.v1.JobRef;
import dev.berth.proto.v1.JobStatus;
import dev.berth.proto.v1.JobVersionInfo;
import dev.berth.proto.v1.Node;
import dev.berth.proto.v1.NodeRef;
import dev.berth.proto.v1.RollbackJobRequest;
import dev.berth.proto.v1.RollbackJobResponse;
import dev.berth.proto.v1.UpdateNodeRequest;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * Moving allocations on purpose, on a real cluster made by {@code deploy/cluster.sh} (server n1,
 * members n2 and n3): a drained node's allocations move one at a time ({@code update.max_parallel}
 * 1), each once the one before is healthy elsewhere, and the node ends ineligible; a rolling update
 * with max_parallel 1 never has fewer than count − 1 replicas running; a version whose allocations
 * crash is rolled back to the stable one; a start-first update never has fewer than count replicas
 * running, and {@code job rollback} brings the old version back the same way. One cluster for the
 * class.
 */
@Tag("cluster")
@Timeout(300)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RolloutNetnsTest {
  private static final String PACED = "update: {max_parallel: 1, min_healthy_time: 1s, healthy_deadline: 1m}\n";

  private NetnsJobs c;

  @BeforeAll
  @Timeout(300) // bringing the cluster up takes 15-40 s, more on a machine busy with other clusters
  void startCluster() throws Exception {
    assumeTrue(ScriptCluster.available(), "network namespaces and berthd need root and iproute2");
    assumeTrue(BusyboxImage.available(), "needs Debian's busybox-static at /bin/busybox");
    c = NetnsJobs.up(3, 1);
  }

  @AfterAll
  void stopCluster() throws Exception {
    if (c != null) {
      c.close();
    }
  }

  /**
   * Polls every 100 ms until {@code done}, asserting {@code invariant} at every poll; returns the
   * time it took.
   */
  private long watch(long seconds, BooleanSupplier done, BooleanSupplier invariant, java.util.function.Supplier<String> what)
      throws InterruptedException {
    long t0 = System.nanoTime();
    while (!done.getAsBoolean()) {
      assertTrue(invariant.getAsBoolean(), what.get());
      assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(seconds), "not within " + seconds + " s: " + what.get());
      Thread.sleep(100);
    }
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
  }

  @Test
  void aDrainedNodesAllocationsMoveOneAtATimeAndTheNodeEndsIneligible() throws Exception {
    c.pinned("n1", "moved", 4, "n2", PACED);
    c.nodes("n3").update(UpdateNodeRequest.newBuilder().setName("n2").setDrain(true).setDrainDeadlineMillis(120_000).build());
    JobStatus[] s = new JobStatus[1];
    long millis = watch(90, () -> {
      s[0] = c.status("n1", "moved");
      List<AllocationInfo> run = NetnsJobs.running(s[0]);
      return run.size() == 4 && run.stream().noneMatch(a -> a.getNode().equals("n2"));
    }, () -> NetnsJobs.running(s[0]).size() >= 3, () -> "at most one replica of 4 in transition: " + c.describe("n1", "moved"));
    System.out.println("drain: 4 replicas moved off n2 one at a time in " + millis + " ms");
    c.cluster.await(30, () -> {
      Node n = c.nodes("n1").inspect(NodeRef.newBuilder().setName("n2").build());
      return !n.getDrain() && !n.getEligible();
    }, "n2's drain ended; n2 ineligible");
    assertTrue(c.runningOn("n2", "moved").isEmpty());
    c.nodes("n1").update(UpdateNodeRequest.newBuilder().setName("n2").setDrain(false).setEligible(true).build());
    assertTrue(c.nodes("n2").inspect(NodeRef.newBuilder().setName("n2").build()).getEligible());
    c.purge("n1", "moved");
  }

  @Test
  void aRollingUpdateKeepsCountMinusOneRunningAndAFailedVersionIsRolledBack() throws Exception {
    String v1 = """
        name: roll
        type: service
        update: {max_parallel: 1, min_healthy_time: 1s, healthy_deadline: 1m, auto_revert: true}
        reschedule: {delay: 1s, delay_function: constant, unlimited: true}
        groups:
          - name: roll
            count: 3
            image: busybox
            command: [sh, -c, "trap 'exit 0' TERM; while :; do sleep 1; done"]
            env: {V: "1"}
            resources: {cpu: 10m, memory: 8m}
            health: {cmd: "true", interval: 500ms, timeout: 1s, retries: 2}
        """;
    c.submit("n2", "roll", v1);
    c.cluster.await(60, () -> c.status("n1", "roll").getDeployment().equals("successful"), "version 1 rolled out");
    assertEquals(1, c.status("n1", "roll").getStableVersion());

    c.submit("n2", "roll", v1.replace("V: \"1\"", "V: \"2\""));
    long millis = watch(90, () -> {
      JobStatus st = c.status("n1", "roll");
      return st.getDeployment().equals("successful") && st.getStableVersion() == 2;
    }, () -> NetnsJobs.running(c.status("n1", "roll")).size() >= 2, () -> "never fewer than 2 of 3 running: "
        + c.describe("n1", "roll"));
    System.out.println("rolling update of 3 replicas, max_parallel 1, min_healthy_time 1s: " + millis + " ms");
    assertTrue(NetnsJobs.running(c.status("n1", "roll")).stream().allMatch(a -> a.getJobVersion() == 2));

    // Version 3 crashes at once: its first allocation fails on its node; back to version 2's file.
    c.submit("n2", "roll", v1.replace("V: \"1\"", "V: \"3\"").replace("command: " + NetnsJobs.SERVICE,
        "command: [sh, -c, \"exit 3\"]"));
    long reverted = watch(90, () -> {
      JobStatus st = c.status("n1", "roll");
      return st.getVersion() == 4 && st.getDeployment().equals("successful");
    }, () -> NetnsJobs.running(c.status("n1", "roll")).size() >= 2, () -> "never fewer than 2 of 3 running: "
        + c.describe("n1", "roll"));
    JobStatus st = c.status("n1", "roll");
    System.out.println("a failed version rolled back in " + reverted + " ms: " + st.getDeploymentMessage());
    assertTrue(st.getSource().contains("V: \"2\""), st.getSource());
    assertTrue(st.getDeploymentMessage().matches("version 3 failed \\(roll\\[\\d\\] failed on n\\d: restarted \\d times.*"
        + "reverted to version 2"), st.getDeploymentMessage());
    assertEquals(3, NetnsJobs.running(st).size());
    c.purge("n1", "roll");
  }

  /** Replica indices with an allocation that should run and runs (old or new copy alike). */
  private static long served(JobStatus s) {
    return s.getAllocationsList().stream().filter(a -> a.getDesiredRunning() && a.getState() == AllocationState.ALLOCATION_RUNNING)
        .map(a -> a.getGroup() + "/" + a.getIndex()).distinct().count();
  }

  @Test
  void aStartFirstUpdateKeepsCountRunningAndARollbackBringsTheOldVersionBack() throws Exception {
    String v1 = """
        name: sf
        type: service
        update: {max_parallel: 3, min_healthy_time: 1s, healthy_deadline: 1m, order: start-first}
        groups:
          - name: sf
            count: 3
            image: busybox
            command: [sh, -c, "trap 'exit 0' TERM; while :; do sleep 1; done"]
            env: {V: "1"}
            resources: {cpu: 10m, memory: 8m}
        """;
    c.submit("n2", "sf", v1);
    c.cluster.await(60, () -> c.status("n1", "sf").getDeployment().equals("successful"), "version 1 rolled out");

    JobStatus[] s = new JobStatus[1];
    int[] most = new int[1];
    c.submit("n2", "sf", v1.replace("V: \"1\"", "V: \"2\""));
    long millis = watch(60, () -> {
      s[0] = c.status("n1", "sf");
      most[0] = Math.max(most[0], (int) s[0].getAllocationsList().stream().filter(a -> a.getDesiredRunning()).count());
      return s[0].getStableVersion() == 2 && s[0].getAllocationsList().stream().filter(AllocationInfo::getDesiredRunning)
          .allMatch(a -> a.getJobVersion() == 2 && a.getState() == AllocationState.ALLOCATION_RUNNING);
    }, () -> served(s[0]) >= 3 && s[0].getGroups(0).getRunning() >= 3,
        () -> "never fewer than 3 of 3 running: " + c.describe("n1", "sf"));
    System.out.println("start-first update of 3 replicas, max_parallel 3: " + millis + " ms, at most " + most[0]
        + " allocations desired running at once");
    assertTrue(most[0] > 3, "new copies ran beside the old ones: at most " + most[0]);
    c.cluster.await(30, () -> c.copies("sf").values().stream().mapToInt(Integer::intValue).sum() == 3,
        "the old copies' containers stopped: " + c.copies("sf"));

    RollbackJobResponse r = c.jobs("n3").rollback(RollbackJobRequest.newBuilder().setName("sf").build());
    assertEquals(1, r.getRolledBackTo());
    assertEquals(3, r.getVersion());
    long back = watch(60, () -> {
      s[0] = c.status("n1", "sf");
      return s[0].getStableVersion() == 3 && s[0].getAllocationsList().stream().filter(AllocationInfo::getDesiredRunning)
          .allMatch(a -> a.getJobVersion() == 3 && a.getState() == AllocationState.ALLOCATION_RUNNING);
    }, () -> served(s[0]) >= 3, () -> "never fewer than 3 of 3 running: " + c.describe("n1", "sf"));
    System.out.println("rollback to version 1 as version 3, start-first: " + back + " ms");
    assertTrue(s[0].getSource().contains("V: \"1\""), s[0].getSource());
    assertEquals("rolled back to version 1", s[0].getDeploymentMessage());
    JobHistory h = c.jobs("n1").history(JobRef.newBuilder().setName("sf").build());
    assertEquals(List.of(3L, 2L, 1L), h.getVersionsList().stream().map(JobVersionInfo::getVersion).toList());
    assertTrue(h.getVersionsList().stream().allMatch(JobVersionInfo::getStable), h.toString());
    c.purge("n1", "sf");
  }
}
