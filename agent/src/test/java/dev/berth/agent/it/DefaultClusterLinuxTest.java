package dev.berth.agent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.proto.v1.AllocationState;
import dev.berth.proto.v1.ClusterServiceGrpc;
import dev.berth.proto.v1.ClusterStatus;
import dev.berth.proto.v1.ClusterStatusRequest;
import dev.berth.proto.v1.ContainerServiceGrpc;
import dev.berth.proto.v1.JobRef;
import dev.berth.proto.v1.JobServiceGrpc;
import dev.berth.proto.v1.JobStatus;
import dev.berth.proto.v1.ListContainersRequest;
import dev.berth.proto.v1.StopJobRequest;
import dev.berth.proto.v1.SubmitJobRequest;
import io.grpc.StatusRuntimeException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * The embedded default: one berthd with no cluster flags is a one-server cluster of its own,
 * whose Raft messaging on loopback speaks TLS with a certificate the agent made for itself (a
 * local process without it cannot write the cluster's state), and which runs jobs on itself.
 */
@Timeout(180)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DefaultClusterLinuxTest {
  private AgentProcess agent;

  @BeforeAll
  @Timeout(300) // a cluster's start-up, slower on a machine busy with other tests
  void start() throws Exception {
    assumeTrue(Linux.isRoot(), "berthd needs root");
    assumeTrue(BusyboxImage.available(), "needs Debian's busybox-static at /bin/busybox");
    agent = AgentProcess.start();
    agent.importBusybox("busybox");
    await(60, () -> {
      try {
        return status().getPhase().equals("ready");
      } catch (StatusRuntimeException e) {
        return false;
      }
    }, "the cluster ready");
  }

  @AfterAll
  void stop() throws Exception {
    if (agent != null) {
      agent.close();
    }
  }

  @Test
  void itsRaftMessagingSpeaksTlsWithItsOwnCertificateAndWantsOneBack() throws Exception {
    ClusterStatus s = status();
    assertEquals(1, s.getServersCount(), s.toString());
    assertEquals(s.getNode(), s.getLeader());
    AgentProcess.Exec hello = agent.inNetns("timeout", "10", "openssl", "s_client", "-connect",
        "127.0.0.1:" + agent.clusterPort());
    assertTrue(hello.output().contains("OU = berth self-signed") || hello.output().contains("OU=berth self-signed"),
        hello.output());
    // No certificate of ours: the server asks for one and the handshake does not complete.
    assertTrue(!hello.output().contains("Verify return code: 0 (ok)") || hello.output().contains("alert"),
        hello.output());
  }

  @Test
  void aJobRunsOnTheOneNodeAndStops() throws Exception {
    JobServiceGrpc.JobServiceBlockingStub jobs = JobServiceGrpc.newBlockingStub(agent.channel())
        .withDeadlineAfter(30, TimeUnit.SECONDS);
    jobs.submit(SubmitJobRequest.newBuilder().setSource("solo.yaml").setText("""
        name: solo
        groups:
          - name: solo
            count: 2
            image: busybox
            command: [sleep, "3600"]
            resources: {cpu: 10m, memory: 8m}
        """).build());
    await(60, () -> {
      JobStatus st = JobServiceGrpc.newBlockingStub(agent.channel()).status(JobRef.newBuilder().setName("solo").build());
      return st.getAllocationsList().stream().filter(a -> a.getState() == AllocationState.ALLOCATION_RUNNING).count() == 2;
    }, "two replicas running");
    assertEquals(2, solo());
    jobs.stop(StopJobRequest.newBuilder().setName("solo").setPurge(true).build());
    await(60, () -> solo() == 0, "the job's containers removed");
  }

  private long solo() {
    return ContainerServiceGrpc.newBlockingStub(agent.channel()).list(ListContainersRequest.newBuilder().setAll(true).build())
        .getContainersList().stream().filter(c -> "solo".equals(c.getLabelsMap().get("berth.job"))).count();
  }

  private ClusterStatus status() {
    return ClusterServiceGrpc.newBlockingStub(agent.channel()).withDeadlineAfter(10, TimeUnit.SECONDS)
        .status(ClusterStatusRequest.getDefaultInstance());
  }

  private static void await(long seconds, BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (!condition.getAsBoolean()) {
      assertTrue(System.nanoTime() < deadline, "not within " + seconds + " s: " + what);
      Thread.sleep(200);
    }
  }
}
