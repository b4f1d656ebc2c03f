package dev.berth.agent.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.agent.it.BusyboxImage;
import dev.berth.agent.it.ScriptCluster;
import dev.berth.proto.v1.AllocationInfo;
import dev.berth.proto.v1.AllocationState;
import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerRef;
import dev.berth.proto.v1.ContainerServiceGrpc;
import dev.berth.proto.v1.ContainerSpec;
import dev.berth.proto.v1.ContainerStatus;
import dev.berth.proto.v1.CreateContainerRequest;
import dev.berth.proto.v1.RemoveContainerRequest;
import dev.berth.proto.v1.JobStatus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedSet;
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
 * Chaos on real processes: a cluster made by {@code deploy/cluster.sh} of three Raft servers
 * (n1-n3) and two plain members (n4, n5), each in a network namespace of its own, loses a whole
 * host (agent, launchers and containers killed at once, as in a power loss), loses the scheduler's
 * leader right after a job was stored, and runs a service that crashes in a loop. After each,
 * {@link ClusterInvariants} checks the whole cluster against its processes: no replica lost or
 * running twice, every node's containers exactly its allocations, every container a live process,
 * no mount or cgroup left of the dead. One cluster for the class; each test leaves every host up.
 */
@Tag("cluster")
@Timeout(300)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ChaosNetnsTest {
  private static final List<String> SERVERS = List.of("n1", "n2", "n3");
  private static final List<String> MEMBERS = List.of("n4", "n5");
  /** The first restart's delay, doubled for each next one: long enough to tell the delays apart by polling. */
  private static final long BACKOFF_BASE_MS = 400;

  private NetnsJobs c;

  @BeforeAll
  @Timeout(300) // bringing five agents up takes 20-60 s, more on a machine busy with other clusters
  void startCluster() throws Exception {
    assumeTrue(ScriptCluster.available(), "network namespaces and berthd need root and iproute2");
    assumeTrue(BusyboxImage.available(), "needs Debian's busybox-static at /bin/busybox");
    c = NetnsJobs.up(5, 3, "--", "--restart-backoff-base", BACKOFF_BASE_MS + "ms");
  }

  @AfterEach
  void invariants() throws Exception {
    if (c == null) {
      return;
    }
    // A test that failed halfway may have left a host down: up again, so the next starts whole.
    boolean started = false;
    for (String h : c.cluster.hosts()) {
      if (c.cluster.agentPid(h).isEmpty()) {
        assertEquals(0, c.cluster.run(60, "start", h).code(), "start " + h);
        started = true;
      }
    }
    if (started) {
      c.awaitReady();
    }
    ClusterInvariants.check(c);
  }

  @AfterAll
  void stopCluster() throws Exception {
    if (c != null) {
      c.close();
    }
  }

  private static String service(String name, int count, String more) {
    return "name: " + name + "\ntype: service\nstrategy: spread\ngroups:\n  - name: " + name + "\n    count: " + count
        + "\n    image: busybox\n    command: " + NetnsJobs.SERVICE + "\n    resources: {cpu: 10m, memory: 8m}\n" + more;
  }

  @Test
  @Order(0)
  void theInvariantCheckSeesADuplicateAndWhatNoContainerOwns() throws Exception {
    c.submit("n1", "pair", service("pair", 2, ""));
    c.await(60, () -> NetnsJobs.running(c.status("n1", "pair")).size() == 2, () -> "pair running: " + c.describe("n1", "pair"));
    assertEquals(List.of(), ClusterInvariants.violations(c));
    AllocationInfo first = NetnsJobs.running(c.status("n1", "pair")).stream().filter(a -> a.getIndex() == 0).findFirst()
        .orElseThrow();
    String elsewhere = c.hosts.stream().filter(h -> !h.equals(first.getNode())).findFirst().orElseThrow();
    // A second copy of pair[0], as a lost node's would be; a mount and a cgroup of no container.
    // Without an allocation label: with one, that host's agent would remove it (it belongs to no
    // allocation of the node) before the check could see it.
    var containers = ContainerServiceGrpc.newBlockingStub(c.cluster.channel(elsewhere)).withDeadlineAfter(30, TimeUnit.SECONDS);
    Container copy = containers.create(CreateContainerRequest.newBuilder().setSpec(ContainerSpec.newBuilder()
        .setImage("busybox").setName("pair-copy").addAllCmd(List.of("sleep", "3600"))
        .putLabels("berth.job", "pair").putLabels("berth.group", "pair")
        .putLabels("berth.index", "0").putLabels("berth.generation", String.valueOf(first.getGeneration()))).build());
    Path mount = c.cluster.dir(elsewhere).resolve("data/containers/0123456789ab/rootfs");
    Path v1 = Path.of("/sys/fs/cgroup/memory", c.cluster.prefix(elsewhere));
    Path cgroup = (Files.isDirectory(v1) ? v1 : Path.of("/sys/fs/cgroup", c.cluster.prefix(elsewhere))).resolve("strayed");
    try {
      containers.start(ContainerRef.newBuilder().setId(copy.getId()).build());
      Files.createDirectories(mount);
      assertEquals(0, new ProcessBuilder("mount", "-t", "tmpfs", "stray", mount.toString()).inheritIO().start().waitFor());
      Files.createDirectories(cgroup);
      List<String> off = ClusterInvariants.violations(c);
      String all = String.join("\n", off);
      assertTrue(all.contains("pair/pair[0] runs 2 times"), all);
      assertTrue(all.contains(elsewhere + " runs pair-copy of pair/pair[0]"), all);
      assertTrue(all.contains(elsewhere + " has " + mount + " mounted"), all);
      assertTrue(all.contains(c.cluster.prefix(elsewhere) + "/strayed, which belongs to no running container"), all);
    } finally {
      try {
        ContainerServiceGrpc.newBlockingStub(c.cluster.channel(elsewhere)).withDeadlineAfter(30, TimeUnit.SECONDS)
            .remove(RemoveContainerRequest.newBuilder().setId(copy.getId()).setForce(true).build());
      } catch (io.grpc.StatusRuntimeException e) {
        assertEquals(io.grpc.Status.Code.NOT_FOUND, e.getStatus().getCode(), "removing pair-copy: " + e.getStatus());
      }
      new ProcessBuilder("umount", mount.toString()).inheritIO().start().waitFor();
      Files.deleteIfExists(mount);
      Files.deleteIfExists(mount.getParent());
      Files.deleteIfExists(cgroup);
    }
    c.purge("n1", "pair");
  }

  @Test
  @Order(1)
  void aCrashedHostsReplicasRunOnTheSurvivorsAndItComesBackClean() throws Exception {
    c.submit("n1", "six", service("six", 6, ""));
    c.await(90, () -> NetnsJobs.running(c.status("n1", "six")).size() == 6, () -> "six running: " + c.describe("n1", "six"));
    ClusterInvariants.check(c);
    // The member that holds the most replicas (spread: one or two each).
    Map<String, Long> held = NetnsJobs.running(c.status("n1", "six")).stream()
        .collect(Collectors.groupingBy(AllocationInfo::getNode, Collectors.counting()));
    String victim = MEMBERS.stream().max((a, b) -> Long.compare(held.getOrDefault(a, 0L), held.getOrDefault(b, 0L)))
        .orElseThrow();
    assertTrue(held.getOrDefault(victim, 0L) > 0, "a member holds a replica: " + held);
    SortedSet<Long> before = c.cluster.cgroupPids(victim);
    assertFalse(before.isEmpty(), victim + "'s containers and launchers run in its cgroups");

    long t0 = System.nanoTime();
    c.cluster.crash(victim);
    // All of it is gone at once: the agent, every launcher and container process.
    assertTrue(c.cluster.agentPid(victim).isEmpty(), victim + "'s agent still runs");
    assertEquals(List.of(), c.cluster.cgroupPids(victim).stream().toList(), victim + "'s containers still run");
    before.forEach(pid -> assertTrue(ProcessHandle.of(pid).map(p -> !p.isAlive()).orElse(true), "pid " + pid + " alive"));
    // What a power loss leaves: the dead containers' rootfs and network namespace mounts, their cgroups.
    List<String> leftMounts = c.cluster.mounts(victim);
    assertFalse(leftMounts.isEmpty(), "a crash unmounts nothing");

    c.await(90, () -> {
      List<AllocationInfo> run = NetnsJobs.running(c.status("n1", "six"));
      return run.size() == 6 && run.stream().noneMatch(a -> a.getNode().equals(victim));
    }, () -> "six's 6 replicas running on the survivors: " + c.describe("n1", "six"));
    System.out.println("chaos: " + victim + " crashed with " + held.get(victim) + " of 6 replicas; all 6 running on the"
        + " survivors " + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0) + " ms after the crash");
    ClusterInvariants.check(c); // the victim is down and nothing of it runs

    assertEquals(0, c.cluster.run(60, "start", victim).code());
    long t1 = System.nanoTime();
    c.awaitReady();
    // Its agent cleans what the crash left (invariants: no mount or cgroup without a running container).
    ClusterInvariants.check(c);
    System.out.println("chaos: " + victim + " back and clean (its " + leftMounts.size() + " stale mounts released by its"
        + " agent) " + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t1) + " ms after its start");
    assertEquals(List.of(), c.cluster.mounts(victim), "nothing of the dead containers is mounted");
    assertEquals(Map.of("0", 1, "1", 1, "2", 1, "3", 1, "4", 1, "5", 1), c.copies("six"));
    c.purge("n1", "six");
  }

  @Test
  @Order(2)
  void aKilledSchedulerLeadersEvaluationIsFinishedByTheNextLeader() throws Exception {
    String[] found = {null};
    c.await(60, () -> (found[0] = c.schedulerLeader(SERVERS)) != null, () -> "a server leads the scheduler");
    String leader = found[0];
    String other = SERVERS.stream().filter(h -> !h.equals(leader)).findFirst().orElseThrow();
    long pid = c.cluster.agentPid(leader).orElseThrow();
    // Nothing of the job on the leader, so its death takes the scheduling alone.
    int count = 16;
    String job = service("wide", count, "    constraints: [{attribute: node.name, operator: \"!=\", value: " + leader + "}]\n");
    c.cluster.disconnect(leader);
    c.submit("n4", "wide", job);
    // The job and its evaluation are stored; the leader takes pending evaluations up every 200 ms.
    ProcessHandle.of(pid).orElseThrow().destroyForcibly();
    long t0 = System.nanoTime();
    c.cluster.await(30, () -> c.cluster.agentPid(leader).isEmpty(), leader + "'s agent gone");

    JobStatus first = c.retrying(() -> c.status(other, "wide"));
    long placedBefore = first.getAllocationsCount();
    c.await(120, () -> {
      JobStatus s = c.status(other, "wide");
      return NetnsJobs.running(s).size() == count && s.getGroups(0).getPending() == 0;
    }, () -> "wide's " + count + " replicas placed and running: " + c.describe(other, "wide"));
    String next = c.schedulerLeader(SERVERS);
    System.out.println("chaos: scheduler leader " + leader + " killed right after the submit (" + placedBefore
        + " allocations stored at the first read after); " + next + " leads now; all " + count + " replicas running "
        + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0) + " ms after the kill");
    assertNotNull(next, "a new scheduler leader");
    assertFalse(next.equals(leader));
    JobStatus done = c.status(other, "wide");
    assertEquals(count, done.getAllocationsList().stream().filter(AllocationInfo::getDesiredRunning).count(),
        "one allocation per replica, none placed twice: " + c.describe(other, "wide"));
    ClusterInvariants.check(c); // with the old leader still dead

    assertEquals(0, c.cluster.run(60, "start", leader).code());
    c.awaitReady();
    Map<String, Integer> copies = c.copies("wide");
    assertEquals(count, copies.size(), copies.toString());
    copies.forEach((index, n) -> assertEquals(1, n, "wide[" + index + "] runs once: " + copies));
    c.purge(other, "wide");
  }

  @Test
  @Order(3)
  void aCrashLoopingReplicaIsRestartedWithGrowingDelaysThenGivenUpAndPlacedElsewhere() throws Exception {
    String job = """
        name: crashy
        type: service
        reschedule: {delay: 1s, delay_function: constant, unlimited: true}
        groups:
          - name: crashy
            count: 1
            image: busybox
            command: [sh, -c, "sleep 0.3; exit 1"]
            resources: {cpu: 10m, memory: 8m}
        """;
    c.submit("n2", "crashy", job);
    String[] node = {null};
    c.await(60, () -> {
      Optional<AllocationInfo> a = c.status("n2", "crashy").getAllocationsList().stream().filter(x -> x.getGeneration() == 0)
          .findFirst();
      a.ifPresent(x -> node[0] = x.getNode());
      return a.isPresent() && !a.get().getNode().isEmpty();
    }, () -> "crashy placed: " + c.describe("n2", "crashy"));
    String on = node[0];
    // Each run's start and end as its node records them: the delay is from one's end to the next's start.
    List<long[]> runs = new ArrayList<>();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (runs.size() < 3 || runs.get(2)[1] == 0) {
      assertTrue(System.nanoTime() < deadline, "three runs of crashy on " + on + ": " + runs.size());
      for (Container ct : c.containers(on)) {
        if (!"crashy".equals(ct.getLabelsMap().get("berth.job")) || !"0".equals(ct.getLabelsMap().get("berth.generation"))) {
          continue;
        }
        long started = ct.getStartedAtUnixNanos();
        if (started != 0 && (runs.isEmpty() || runs.get(runs.size() - 1)[0] != started)) {
          runs.add(new long[] {started, 0});
        }
        if (ct.getStatus() == ContainerStatus.EXITED && ct.getFinishedAtUnixNanos() > started && !runs.isEmpty()) {
          runs.get(runs.size() - 1)[1] = ct.getFinishedAtUnixNanos();
        }
      }
      Thread.sleep(50);
    }
    long d1 = (runs.get(1)[0] - runs.get(0)[1]) / 1_000_000;
    long d2 = (runs.get(2)[0] - runs.get(1)[1]) / 1_000_000;
    System.out.println("chaos: crashy's restarts on " + on + " after " + d1 + " ms, then " + d2 + " ms (base "
        + BACKOFF_BASE_MS + " ms)");
    assertTrue(d1 >= BACKOFF_BASE_MS - 5 && d2 >= 2 * BACKOFF_BASE_MS - 5, "backoff delays " + d1 + ", " + d2);
    assertTrue(d2 > d1, "the delays grow: " + d1 + ", " + d2);
    // A service restarted more than twice is given up on this node, and placed on another.
    c.await(60, () -> c.status("n2", "crashy").getAllocationsList().stream()
        .anyMatch(a -> a.getGeneration() >= 1 && !a.getNode().equals(on) && a.getPreviousNode().equals(on)),
        () -> "crashy given up on " + on + " and placed elsewhere: " + c.describe("n2", "crashy"));
    AllocationInfo gaveUp = c.status("n2", "crashy").getAllocationsList().stream()
        .filter(a -> a.getGeneration() == 0).findFirst().orElseThrow();
    assertEquals(AllocationState.ALLOCATION_FAILED, gaveUp.getState(), gaveUp.toString());
    assertTrue(gaveUp.getMessage().contains("given up on this node"), gaveUp.getMessage());
    c.purge("n2", "crashy");
  }
}
