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
 * leader in the middle of a plan's commit (some of a job's allocations stored, not all), and runs
 * a service that crashes in a loop. After each,
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

  /** How often the mid-commit test submits its job afresh to catch the leader between two node writes. */
  private static final int COMMIT_ATTEMPTS = 5;
  /** How long a stepped scheduler leader runs between two looks at the store. */
  private static final long STEP_MS = 3;
  /** Threads reading the store at once when the scheduler's leader leads Raft too (and cannot be stepped). */
  private static final int POLLERS = 3;

  private static void signal(long pid, String sig) throws Exception {
    new ProcessBuilder("kill", "-" + sig, Long.toString(pid)).inheritIO().start().waitFor();
  }

  /** The Raft leader as {@code via} names it ("" while none). */
  private String raftLeader(String via) {
    return dev.berth.proto.v1.ClusterServiceGrpc.newBlockingStub(c.cluster.channel(via)).withDeadlineAfter(10, TimeUnit.SECONDS)
        .status(dev.berth.proto.v1.ClusterStatusRequest.getDefaultInstance()).getLeader();
  }

  private static String otherThan(String server) {
    return SERVERS.stream().filter(h -> !h.equals(server)).findFirst().orElseThrow();
  }

  /** The server leading the scheduler, once one does. */
  private String schedulerLeader() throws Exception {
    String[] found = {null};
    c.await(60, () -> (found[0] = c.schedulerLeader(SERVERS)) != null, () -> "a server leads the scheduler");
    return found[0];
  }

  /**
   * A kill in the middle of a plan's commit: the leader commits a plan node by node, each node's
   * allocations in one write, and dies when some nodes' writes are stored and others not.
   *
   * <p>To land between two writes (a few ms apart) when the scheduler's leader is not the Raft
   * leader, it is stepped: it runs {@link #STEP_MS} at a time and is stopped (SIGSTOP) while the
   * store is read, so what a read finds is what it dies with when it is killed right then, still
   * stopped; this must hit. A stopped Raft leader would stop the store too, so a leader of both
   * is killed by {@link #POLLERS} threads reading the store as fast as it answers, by the first
   * that finds some of the job's allocations and not all: its last writes may land between that
   * read and the kill. A first sight of every allocation is a miss: the job is purged and
   * submitted again, up to {@link #COMMIT_ATTEMPTS} times, then the leader is killed anyway. The
   * first read after the kill tells whether it died in the middle of the commit (the next leader
   * needs seconds to take over), and the test says how it went; either way the next leader must
   * finish the job with every replica placed once, and leave what was stored where it was put.
   * (The scheduler's leadership tends to follow the Raft leader after a Raft failover, whose
   * other candidates' sessions may lapse meanwhile, so killing a leader of both to part them
   * rarely helped: three tries of three ended with one server leading both again.)
   */
  @Test
  @Order(2)
  void aSchedulerLeaderKilledInTheMiddleOfAPlanCommitIsFinishedByTheNextLeader() throws Exception {
    String leader = schedulerLeader();
    String other = otherThan(leader);
    boolean stepped = !leader.equals(raftLeader(other));
    long pid = c.cluster.agentPid(leader).orElseThrow();
    // Nothing of the job on the leader, so its death takes the scheduling alone; the plan spreads
    // the replicas over the four other hosts, and the leader commits it node by node: four writes.
    int count = 24;
    String constraint = "    constraints: [{attribute: node.name, operator: \"!=\", value: " + leader + "}]\n";
    c.cluster.disconnect(leader);
    List<AllocationInfo> seen = List.of();
    String job = null;
    int attempt = 0;
    int looks = 0;
    // When the leader was killed (nanoTime): by a polling thread, or below.
    java.util.concurrent.atomic.AtomicLong killed = new java.util.concurrent.atomic.AtomicLong();
    try {
      while (attempt < COMMIT_ATTEMPTS) {
        attempt++;
        job = "wide" + attempt;
        String name = job;
        c.submit("n4", name, service(name, count, constraint));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        if (stepped) {
          looks = 0;
          do {
            assertTrue(System.nanoTime() < deadline, name + " placed within 60 s: " + c.describe(other, name));
            signal(pid, "CONT");
            Thread.sleep(STEP_MS);
            signal(pid, "STOP");
            seen = c.retrying(() -> c.status(other, name)).getAllocationsList();
            looks++;
          } while (seen.isEmpty());
        } else {
          java.util.concurrent.atomic.AtomicReference<List<AllocationInfo>> sighted = new java.util.concurrent.atomic.AtomicReference<>();
          java.util.concurrent.atomic.AtomicInteger reads = new java.util.concurrent.atomic.AtomicInteger();
          List<Thread> pollers = new ArrayList<>();
          for (int i = 0; i < POLLERS; i++) {
            Thread t = new Thread(() -> {
              while (sighted.get() == null && System.nanoTime() < deadline) {
                try {
                  List<AllocationInfo> now = c.status(other, name).getAllocationsList();
                  reads.incrementAndGet();
                  if (!now.isEmpty() && sighted.compareAndSet(null, now) && now.size() < count) {
                    ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
                    killed.set(System.nanoTime());
                  }
                } catch (io.grpc.StatusRuntimeException e) {
                  // an election under way: read again
                }
              }
            }, "chaos-poll-" + i);
            t.start();
            pollers.add(t);
          }
          for (Thread t : pollers) {
            t.join();
          }
          assertNotNull(sighted.get(), name + " placed within 60 s: " + c.describe(other, name));
          seen = sighted.get();
          looks = reads.get();
        }
        if (seen.size() < count || attempt == COMMIT_ATTEMPTS) {
          break;
        }
        // The whole commit fell into one step, or between two polls: again.
        if (stepped) {
          signal(pid, "CONT");
        }
        c.purge(other, name);
      }
      if (killed.get() == 0) {
        ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        killed.set(System.nanoTime());
      }
    } finally {
      if (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
        signal(pid, "CONT");
      }
    }
    long t0 = killed.get();
    String wide = job;
    String dead = leader;
    c.cluster.await(30, () -> c.cluster.agentPid(dead).isEmpty(), leader + "'s agent gone");
    // The dead leader writes nothing more, and the next needs seconds to take over: what the first
    // read finds short of the count was stored when the leader died, its commit half done.
    int afterKill = c.retrying(() -> c.status(other, wide)).getAllocationsCount();
    boolean midCommit = afterKill < count;
    System.out.println("chaos: scheduler leader " + leader + (stepped ? " (stepped)" : " (also the Raft leader, polled)")
        + " killed after " + looks + " looks at attempt " + attempt + " of " + COMMIT_ATTEMPTS + ", with " + seen.size()
        + " of " + wide + "'s " + count + " allocations seen stored and " + afterKill + " at the first read after the kill: "
        + (midCommit ? "in the middle of its plan's commit" : "its commit was over (the window between two node writes missed)"));
    if (stepped) {
      assertTrue(midCommit, "a stepped leader is caught between two node writes in " + COMMIT_ATTEMPTS + " attempts");
    }

    c.await(120, () -> {
      JobStatus s = c.status(other, wide);
      return NetnsJobs.running(s).size() == count && s.getGroups(0).getPending() == 0;
    }, () -> wide + "'s " + count + " replicas placed and running: " + c.describe(other, wide));
    String next = c.schedulerLeader(SERVERS);
    System.out.println("chaos: " + next + " leads the scheduler now; all " + count + " replicas running "
        + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0) + " ms after the kill");
    assertNotNull(next, "a new scheduler leader");
    assertFalse(next.equals(leader));
    JobStatus done = c.status(other, wide);
    List<AllocationInfo> live = done.getAllocationsList().stream().filter(AllocationInfo::getDesiredRunning).toList();
    assertEquals(count, live.size(), "one allocation per replica, none placed twice: " + c.describe(other, wide));
    assertEquals(count, live.stream().map(AllocationInfo::getIndex).distinct().count(), "every replica placed: "
        + c.describe(other, wide));
    // The new leader finishes the plan: what the old one stored stays where it was put.
    Map<String, String> nodeOf = live.stream().collect(Collectors.toMap(AllocationInfo::getId, AllocationInfo::getNode));
    for (AllocationInfo a : seen) {
      assertEquals(a.getNode(), nodeOf.get(a.getId()), wide + "[" + a.getIndex() + "] as the dead leader placed it: "
          + c.describe(other, wide));
    }
    ClusterInvariants.check(c); // with the old leader still dead

    assertEquals(0, c.cluster.run(60, "start", leader).code());
    c.awaitReady();
    Map<String, Integer> copies = c.copies(wide);
    assertEquals(count, copies.size(), copies.toString());
    copies.forEach((index, n) -> assertEquals(1, n, wide + "[" + index + "] runs once: " + copies));
    c.purge(other, wide);
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
