package dev.berth.agent.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.agent.it.AgentProcess;
import dev.berth.agent.it.BusyboxImage;
import dev.berth.agent.it.ScriptCluster;
import dev.berth.proto.v1.AllocationInfo;
import dev.berth.proto.v1.AllocationState;
import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerServiceGrpc;
import dev.berth.proto.v1.GroupPlan;
import dev.berth.proto.v1.JobRef;
import dev.berth.proto.v1.JobServiceGrpc;
import dev.berth.proto.v1.JobStatus;
import dev.berth.proto.v1.ListContainersRequest;
import dev.berth.proto.v1.PlanJobRequest;
import dev.berth.proto.v1.PlanJobResponse;
import dev.berth.proto.v1.ScaleJobRequest;
import dev.berth.proto.v1.StopJobRequest;
import dev.berth.proto.v1.SubmitJobRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * Jobs on a real cluster made by {@code deploy/cluster.sh}: one server (n1) and two plain members
 * (n2, n3), each agent in a network namespace of its own with its own bridge, so a fixed host
 * port is free once on every host. Jobs are submitted through a member: the store, the leader's
 * scheduling loop and the nodes running their allocations are all the real ones. One cluster for
 * the class; bounds are generous (the timings belong to bench/).
 */
@Tag("cluster")
@Timeout(300)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class JobsNetnsTest {
  private static final List<String> HOSTS = List.of("n1", "n2", "n3");

  private NetnsJobs c;
  private ScriptCluster cluster;

  @BeforeAll
  @Timeout(300)
  void startCluster() throws Exception {
    assumeTrue(ScriptCluster.available(), "network namespaces and berthd need root and iproute2");
    assumeTrue(BusyboxImage.available(), "needs Debian's busybox-static at /bin/busybox");
    c = NetnsJobs.up(3, 1);
    cluster = c.cluster;
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
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  @Order(1)
  void aFixedPortServiceRunsOneReplicaPerHostAndAnswersOnEveryHost() throws Exception {
    String web = """
        name: web
        type: service
        groups:
          - name: web
            count: 3
            image: busybox
            command: [sh, -c, "mkdir -p /www && echo hello from $(hostname) > /www/index.html && exec httpd -f -p 80 -h /www"]
            resources: {cpu: 50m, memory: 16m}
            ports: ["8080:80"]
        """;
    jobs("n2").submit(SubmitJobRequest.newBuilder().setSource("web.yaml").setText(web).build());
    JobStatus s = awaitRunning("n3", "web", 3);
    Set<String> nodes = s.getAllocationsList().stream().filter(a -> a.getState() == AllocationState.ALLOCATION_RUNNING)
        .map(AllocationInfo::getNode).collect(Collectors.toSet());
    assertEquals(Set.copyOf(HOSTS), nodes, "one replica per host: " + s);
    for (AllocationInfo a : s.getAllocationsList()) {
      assertEquals(ScriptCluster.address(a.getNode()), a.getPorts(0).getHostIp(), a.toString());
      assertEquals(8080, a.getPorts(0).getHostPort());
    }
    // Each host answers on its own address, from another host's namespace.
    for (String h : HOSTS) {
      // (busybox's own wget -T crashes here: the time limit is timeout's.)
      ScriptCluster.Result r = cluster.run(30, "exec", "n1", "timeout", "5", "/bin/busybox", "wget", "-q", "-O", "-",
          "http://" + ScriptCluster.address(h) + ":8080/");
      assertEquals(0, r.code(), h + ": " + r.output());
      assertTrue(r.output().contains("hello from"), r.output());
    }

    // A fourth replica has no host with port 8080 free: plan says so, and scale leaves it pending.
    PlanJobResponse plan = jobs("n1").plan(PlanJobRequest.newBuilder().setSource("web.yaml")
        .setText(web.replace("count: 3", "count: 4")).build());
    GroupPlan g = plan.getGroups(0);
    assertEquals(List.of(3), g.getUnplacedList(), plan.toString());
    assertTrue(g.getSummary().contains("8080"), g.getSummary());
    assertTrue(g.getNodesList().stream().filter(v -> !v.getFeasible()).count() >= 3, plan.toString());
    jobs("n3").scale(ScaleJobRequest.newBuilder().setName("web").setCount(4).build());
    cluster.await(60, () -> {
      JobStatus st = status("n2", "web");
      return st.getGroups(0).getPending() == 1 && st.getGroups(0).getPendingReason().contains("8080");
    }, "the fourth replica pending for want of port 8080");
    assertEquals(3, status("n2", "web").getGroups(0).getRunning());

    // Scaled back, the pending replica is dropped; stopped, every container goes.
    jobs("n1").scale(ScaleJobRequest.newBuilder().setName("web").setCount(3).build());
    cluster.await(60, () -> status("n1", "web").getGroups(0).getPending() == 0, "nothing pending after scaling back");
    jobs("n2").stop(StopJobRequest.newBuilder().setName("web").setPurge(true).build());
    cluster.await(60, () -> jobContainers("web").isEmpty(), "web's containers gone from every host");
    cluster.await(60, () -> {
      try {
        status("n1", "web");
        return false;
      } catch (StatusRuntimeException e) {
        return e.getStatus().getCode() == Status.Code.NOT_FOUND;
      }
    }, "a purged job forgotten");
  }

  @Test
  @Order(2)
  void aBadJobFileIsRefusedWithItsLineBeforeAnythingIsStored() {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> jobs("n2").submit(
        SubmitJobRequest.newBuilder().setSource("bad.yaml").setText("name: bad\ntype: service\ncolour: red\n").build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().startsWith("bad.yaml:3:"), e.getStatus().getDescription());
    StatusRuntimeException big = assertThrows(StatusRuntimeException.class, () -> jobs("n1").submit(
        SubmitJobRequest.newBuilder().setSource("big.yaml").setText("""
            name: big
            groups:
              - name: big
                count: 1
                image: busybox
                resources: {memory: 64g}
            """).build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, big.getStatus().getCode());
    assertTrue(big.getStatus().getDescription().contains("big.yaml:6"), big.getStatus().getDescription());
    for (String name : List.of("bad", "big")) {
      assertEquals(Status.Code.NOT_FOUND, assertThrows(StatusRuntimeException.class, () -> status("n3", name))
          .getStatus().getCode());
    }
  }

  @Test
  @Order(3)
  void aHundredReplicasSpreadOverTheClusterRunAndStop() throws Exception {
    String many = """
        name: many
        type: service
        strategy: spread
        groups:
          - name: many
            count: 100
            image: busybox
            command: [sleep, "3600"]
            resources: {cpu: 10m, memory: 8m}
        """;
    long t0 = System.nanoTime();
    jobs("n3").submit(SubmitJobRequest.newBuilder().setSource("many.yaml").setText(many).build());
    JobStatus s = awaitRunning("n2", "many", 100);
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    System.out.println("100 replicas running on 3 agents " + millis + " ms after submit");
    Map<String, Long> perNode = s.getAllocationsList().stream()
        .collect(Collectors.groupingBy(AllocationInfo::getNode, Collectors.counting()));
    assertEquals(Set.copyOf(HOSTS), perNode.keySet(), perNode.toString());
    perNode.values().forEach(n -> assertTrue(n >= 30 && n <= 37, "spread evenly: " + perNode));
    assertEquals(100, jobContainers("many").size());

    jobs("n1").stop(StopJobRequest.newBuilder().setName("many").setPurge(true).build());
    cluster.await(120, () -> jobContainers("many").isEmpty(), "many's 100 containers gone");
  }

  @Test
  @Order(4)
  void aSystemJobRunsOnEveryNodeAgainOnOneThatCameBackAndOnOneThatJoins() throws Exception {
    String sys = """
        name: sys
        type: system
        groups:
          - name: sys
            image: busybox
            command: [sleep, "3600"]
            resources: {cpu: 10m, memory: 8m}
        """;
    jobs("n1").submit(SubmitJobRequest.newBuilder().setSource("sys.yaml").setText(sys).build());
    cluster.await(60, () -> runningNodes("n1", "sys").equals(Set.copyOf(HOSTS)), "one sys replica on every node");

    cluster.disconnect("n3");
    assertEquals(0, cluster.run(30, "kill", "n3").code());
    cluster.await(60, () -> status("n1", "sys").getAllocationsList().stream()
        .anyMatch(a -> a.getNode().equals("n3") && a.getState() == AllocationState.ALLOCATION_LOST), "n3's replica lost");
    String lostContainer = status("n1", "sys").getAllocationsList().stream()
        .filter(a -> a.getNode().equals("n3")).findFirst().orElseThrow().getContainerId();

    assertEquals(0, cluster.run(60, "start", "n3").code());
    cluster.await(90, () -> runningNodes("n2", "sys").equals(Set.copyOf(HOSTS)), "sys placed on n3 again");
    // The copy the lost allocation left running on n3 is stopped: n3 runs exactly one.
    cluster.await(60, () -> {
      List<Container> on3 = containers("n3").stream().filter(c -> "sys".equals(c.getLabelsMap().get("berth.job"))).toList();
      return on3.size() == 1 && !on3.get(0).getId().equals(lostContainer);
    }, "only the new sys container on n3");

    // A host that joins later gets one too.
    String joined = cluster.add(channel -> {
      try {
        AgentProcess.importTar(channel, "busybox", BusyboxImage.tar());
      } catch (Exception e) {
        throw e instanceof StatusRuntimeException s ? s : new IllegalStateException(e);
      }
    });
    cluster.await(90, () -> runningNodes("n1", "sys").equals(Set.copyOf(cluster.hosts())),
        () -> "sys placed on " + joined + " that joined later: " + describe("sys"));
    jobs("n2").stop(StopJobRequest.newBuilder().setName("sys").setPurge(true).build());
    cluster.await(60, () -> jobContainers("sys").isEmpty(), () -> "sys's containers gone: " + describe("sys"));
  }

  private JobStatus awaitRunning(String via, String job, int replicas) throws Exception {
    JobStatus[] last = new JobStatus[1];
    cluster.await(120, () -> {
      last[0] = status(via, job);
      return last[0].getGroupsList().stream().mapToInt(g -> g.getRunning()).sum() == replicas;
    }, job + ": " + replicas + " replicas running");
    return last[0];
  }

  private Set<String> runningNodes(String via, String job) {
    Set<String> out = new HashSet<>();
    for (AllocationInfo a : status(via, job).getAllocationsList()) {
      if (a.getState() == AllocationState.ALLOCATION_RUNNING && a.getDesiredRunning()) {
        out.add(a.getNode());
      }
    }
    return out;
  }

  private JobStatus status(String via, String job) {
    return jobs(via).status(JobRef.newBuilder().setName(job).build());
  }

  /** The containers of {@code job} on every host, as each agent lists its own. */
  private List<Container> jobContainers(String job) {
    return cluster.hosts().stream().flatMap(h -> containers(h).stream())
        .filter(c -> job.equals(c.getLabelsMap().get("berth.job"))).toList();
  }

  /** A job's containers and allocations, for failure messages (evaluated when the message is made). */
  private String describe(String job) {
    return new Object() {
      @Override
      public String toString() {
        StringBuilder b = new StringBuilder();
        jobContainers(job).forEach(c -> b.append("\n  container ").append(c.getName()).append(' ')
            .append(c.getStatus()).append(" on ").append(c.getNode()));
        try {
          status("n1", job).getAllocationsList().forEach(a -> b.append("\n  alloc ").append(a.getGroup()).append('[')
              .append(a.getIndex()).append("] ").append(a.getNode()).append(' ').append(a.getState())
              .append(a.getDesiredRunning() ? " run " : " stop ").append(a.getMessage()));
        } catch (StatusRuntimeException e) {
          b.append("\n  status: ").append(e.getStatus());
        }
        return b.toString();
      }
    }.toString();
  }

  private List<Container> containers(String host) {
    return ContainerServiceGrpc.newBlockingStub(cluster.channel(host)).withDeadlineAfter(20, TimeUnit.SECONDS)
        .list(ListContainersRequest.newBuilder().setAll(true).build()).getContainersList();
  }

  private JobServiceGrpc.JobServiceBlockingStub jobs(String host) {
    return JobServiceGrpc.newBlockingStub(cluster.channel(host)).withDeadlineAfter(30, TimeUnit.SECONDS);
  }
}
