package dev.berth.agent.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.agent.it.BusyboxImage;
import dev.berth.agent.it.ScriptCluster;
import dev.berth.proto.v1.AllocationInfo;
import dev.berth.proto.v1.JobStatus;
import dev.berth.proto.v1.Node;
import dev.berth.proto.v1.NodeRef;
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
 * crash is rolled back to the stable one. One cluster for the class.
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
}
