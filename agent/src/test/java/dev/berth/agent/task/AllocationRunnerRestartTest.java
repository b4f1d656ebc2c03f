package dev.berth.agent.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.agent.cluster.ClusterStore;
import dev.berth.agent.cluster.InMemoryClusterStore;
import dev.berth.agent.cluster.ServersUnavailableException;
import dev.berth.agent.image.ImageStore;
import dev.berth.agent.image.ImportRequest;
import dev.berth.agent.image.LayerLimits;
import dev.berth.agent.it.BusyboxImage;
import dev.berth.agent.jobs.JobCodec;
import dev.berth.agent.jobs.JobStore;
import dev.berth.agent.runtime.ContainerEvents;
import dev.berth.agent.runtime.ContainerRuntime;
import dev.berth.agent.runtime.ContainerState;
import dev.berth.agent.runtime.ContainerView;
import dev.berth.agent.runtime.RecordingSyscalls;
import dev.berth.agent.runtime.cgroup.Cgroups;
import dev.berth.agent.runtime.net.NetworkManager;
import dev.berth.agent.runtime.net.NetworkStore;
import dev.berth.agent.runtime.net.PortReservations;
import dev.berth.agent.runtime.net.RecordingFirewall;
import dev.berth.agent.runtime.net.RecordingNetworkDriver;
import dev.berth.agent.runtime.net.RouteTable;
import dev.berth.agent.runtime.net.Subnet;
import dev.berth.proto.v1.AllocationState;
import dev.berth.proto.v1.StoredAllocation;
import dev.berth.proto.v1.StoredJob;
import dev.berth.scheduler.jobfile.JobFileParser;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node running an allocation whose container crash-loops, by its group's restart block: the real
 * runtime and supervisor over recording syscalls (the launcher is a script whose "container" is
 * gone at once, an exit nobody saw: a failure), an in-memory store, and the runner's rounds driven
 * by the test. The node's own backoff base is long (5 s), so restarts come at the block's delay or
 * not in time at all. Also: a start whose read of its job the servers do not answer.
 */
@Timeout(60)
class AllocationRunnerRestartTest {
  @TempDir
  Path tmp;

  private Supervisor supervisor;
  private ContainerRuntime runtime;
  private PortReservations ports;
  private JobStore jobs;
  private final FlakyStore store = new FlakyStore(new InMemoryClusterStore());
  /** While set, the image step fails as a credential handout does when no server is reachable. */
  private volatile boolean handoutDown;

  /**
   * The in-memory store, whose reads of the jobs table fail as Atomix's do while {@link #down} is
   * set, but for the first {@link #passes}.
   */
  private static final class FlakyStore implements ClusterStore {
    private final ClusterStore to;
    volatile boolean down;
    final AtomicInteger passes = new AtomicInteger();
    final AtomicInteger refused = new AtomicInteger();

    FlakyStore(ClusterStore to) {
      this.to = to;
    }

    private void check(String table) {
      if (down && table.equals(JobStore.JOBS) && passes.getAndDecrement() <= 0) {
        refused.incrementAndGet();
        throw new ServersUnavailableException("the cluster's servers did not answer: ConnectException", null);
      }
    }

    @Override
    public Optional<Entry> get(String table, String key) {
      check(table);
      return to.get(table, key);
    }

    @Override
    public List<Entry> list(String table) {
      check(table);
      return to.list(table);
    }

    @Override
    public Entry put(String table, String key, byte[] value) {
      return to.put(table, key, value);
    }

    @Override
    public Optional<Entry> compareAndSet(String table, String key, long expectedVersion, byte[] value) {
      return to.compareAndSet(table, key, expectedVersion, value);
    }

    @Override
    public boolean remove(String table, String key, long expectedVersion) {
      return to.remove(table, key, expectedVersion);
    }
  }
  private AllocationRunner runner;

  @BeforeEach
  void start() throws Exception {
    assumeTrue(BusyboxImage.available(), "needs Debian's busybox-static at /bin/busybox");
    RecordingSyscalls syscalls = new RecordingSyscalls();
    Path cgroupRoot = Files.createDirectories(tmp.resolve("cgroup"));
    Files.writeString(cgroupRoot.resolve("cgroup.controllers"), "cpuset cpu io memory pids\n");
    Files.writeString(cgroupRoot.resolve("cgroup.subtree_control"), "");
    Path launcher = tmp.resolve("launcher");
    Files.writeString(launcher, "#!/bin/sh\necho \"ok $$ $$\"\n");
    Files.setPosixFilePermissions(launcher, PosixFilePermissions.fromString("rwx------"));
    Path data = Files.createDirectories(tmp.resolve("data"));
    Cgroups cgroups = Cgroups.detect(cgroupRoot, syscalls);
    ImageStore images = new ImageStore(data.resolve("images"), syscalls, LayerLimits.DEFAULT);
    images.importTar(new ByteArrayInputStream(BusyboxImage.tar()),
        new ImportRequest("busybox", List.of("/bin/sh"), null, null, null, null, null));
    ports = new PortReservations();
    NetworkManager networks = new NetworkManager(new NetworkStore(data.resolve("networks"), "bt-test",
        new NetworkStore.DefaultBridge("", Subnet.parse("172.17.0.0/16")), () -> new RouteTable(List.of())),
        new RecordingNetworkDriver(), new RecordingFirewall(), ports, "bt-test");
    supervisor = new Supervisor(new Backoff.Settings(Duration.ofSeconds(5), Duration.ofSeconds(20), Duration.ofSeconds(10)),
        Clock.systemUTC());
    runtime = new ContainerRuntime(new ContainerRuntime.Settings(data, "bt-test", launcher, 1 << 20, 2), syscalls, cgroups,
        images, new dev.berth.agent.runtime.VolumeStore(data.resolve("volumes")), networks, new GatedEvents(supervisor));
    supervisor.bind(runtime);
    networks.start();
    jobs = new JobStore(store);
    runner = new AllocationRunner("n1", jobs, runtime, supervisor, (ref, alloc, creds) -> {
      if (handoutDown) {
        throw new ServersUnavailableException("cannot get the credential of allocation " + alloc
            + ": no server of the cluster could answer: s1: UNAVAILABLE", null);
      }
    }, () -> true, Clock.systemUTC(), Duration.ofMillis(50));
  }

  /** Hands the runtime's events to the supervisor; while held, exits wait before they are handed on. */
  private final class GatedEvents implements ContainerEvents {
    private final Supervisor to;

    GatedEvents(Supervisor to) {
      this.to = to;
    }

    @Override
    public void started(ContainerView v, Start cause) {
      to.started(v, cause);
    }

    @Override
    public void exited(ContainerView v) {
      exitsHeld.acquireUninterruptibly();
      exitsHeld.release();
      to.exited(v);
    }

    @Override
    public void adopted(ContainerView v) {
      to.adopted(v);
    }

    @Override
    public void stopping(String id) {
      to.stopping(id);
    }

    @Override
    public void removed(String id) {
      to.removed(id);
    }
  }

  /** Taken while the test holds exits back from the supervisor. */
  private final Semaphore exitsHeld = new Semaphore(1);

  @AfterEach
  void stop() throws Exception {
    exitsHeld.release();
    if (runner != null) {
      runner.close();
    }
    if (supervisor != null) {
      supervisor.close();
    }
    if (runtime != null) {
      runtime.close();
    }
    if (ports != null) {
      ports.close();
    }
  }

  /** Stores a one-replica service with the given restart block and places its allocation on n1. */
  private StoredAllocation place(String restart) {
    String text = "name: crash\ngroups:\n  - name: crash\n    image: busybox\n    restart: " + restart + "\n";
    jobs.updateJob("crash", cur -> StoredJob.newBuilder().setName("crash").setSource("crash.yaml").setText(text)
        .setVersion(1).build());
    StoredAllocation a = StoredAllocation.newBuilder().setId("alloc-crash-0").setJob("crash").setGroup("crash")
        .setIndex(0).setNode("n1").setJobVersion(1).setState(AllocationState.ALLOCATION_PENDING_VALUE)
        .setSpec(JobCodec.spec(JobFileParser.parse("crash.yaml", text).job().groups().get(0))).build();
    jobs.updateNode("n1", list -> List.of(a));
    return a;
  }

  private StoredAllocation allocation() {
    return jobs.nodeAllocations("n1").allocations().get(0);
  }

  /** Runs the runner's rounds every 50 ms until the stored allocation matches; returns it. */
  private StoredAllocation until(Predicate<StoredAllocation> p, long seconds, String what) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(seconds).toNanos();
    while (true) {
      runner.sync();
      StoredAllocation a = allocation();
      if (p.test(a)) {
        return a;
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not within " + seconds + " s: " + what + "; the allocation: " + a);
      }
      Thread.sleep(50);
    }
  }

  private ContainerView container() {
    return runtime.list(true).stream().filter(c -> "alloc-crash-0".equals(c.config().labels().get(
        AllocationRunner.LABEL_ALLOC))).findFirst().orElseThrow();
  }

  @Test
  void failModeReportsTheAllocationFailedOnceTheAttemptsWithinTheIntervalAreUsedUp() throws Exception {
    place("{attempts: 3, interval: 1m, delay: 20ms, mode: fail}");
    StoredAllocation failed = until(a -> a.getState() == AllocationState.ALLOCATION_FAILED_VALUE, 20,
        "failed after 3 restarts (each 20 ms apart, not the node's 5 s)");
    assertTrue(failed.getMessage().matches("restarted [4-9] times within 1m( \\(last: .*\\))?: given up on this node"),
        failed.getMessage());
    assertEquals("20", container().config().labels().get(Supervisor.LABEL_RESTART_DELAY));
  }

  @Test
  void anExitTheSupervisorHasNotHeardOfYetIsReportedRestartingNotFailed() throws Exception {
    place("{attempts: 100, interval: 1m, delay: 20ms, mode: fail}");
    until(a -> a.getState() == AllocationState.ALLOCATION_RUNNING_VALUE && !a.getContainerId().isEmpty(), 20,
        "its container started");
    exitsHeld.acquire();
    try {
      long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
      while (container().state().status() != ContainerState.Status.EXITED && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      ContainerView exited = container();
      assertEquals(ContainerState.Status.EXITED, exited.state().status(), "its next exit is recorded");
      assertTrue(supervisor.restartPending(exited), "an exit the supervisor has not handled, which its policy restarts after");
      // However long the supervisor takes to hear of it: the runner's rounds never call it failed.
      Thread.sleep(300);
      StoredAllocation meanwhile = until(a -> true, 1, "a round");
      assertEquals(AllocationState.ALLOCATION_RUNNING_VALUE, meanwhile.getState(), meanwhile.toString());
      assertTrue(meanwhile.getMessage().startsWith("restarting after exit code"), meanwhile.getMessage());
    } finally {
      exitsHeld.release();
    }
    ContainerView handled = container();
    until(a -> container().state().restartCount() > handled.state().restartCount(), 20, "restarted once the exit arrived");
  }

  @Test
  void delayModeWaitsOutTheIntervalThenRestartsOnTheSameNode() throws Exception {
    place("{attempts: 1, interval: 2s, delay: 20ms, mode: delay}");
    StoredAllocation paused = until(a -> a.getMessage().contains("restart mode delay"), 20, "restarts paused");
    long pausedAt = System.nanoTime();
    assertEquals(AllocationState.ALLOCATION_PENDING_VALUE, paused.getState());
    assertTrue(paused.getMessage().matches("restarted 2 times within 2s( \\(last: .*\\))?: restarts wait \\d+m?s"
        + " \\(restart mode delay\\)"), paused.getMessage());
    String id = container().id();
    // While paused the container stays down: no restarts by its policy.
    Thread.sleep(300);
    runner.sync();
    assertTrue(!container().state().running() && !supervisor.restarting(id), container().state().toString());

    // Once the interval has passed it starts again, on this node, crash-loops again, and pauses again.
    until(a -> !a.getMessage().contains("restart mode delay"), 10, "started again after the interval");
    assertTrue(System.nanoTime() - pausedAt >= Duration.ofMillis(1000).toNanos(),
        "not before the interval since the first counted restart passed");
    StoredAllocation again = until(a -> a.getMessage().contains("restart mode delay"), 20, "paused again");
    assertTrue(again.getState() != AllocationState.ALLOCATION_FAILED_VALUE);
    assertEquals(id, container().id(), "the same container, on the same node");
  }

  @Test
  void aStartWhoseJobTheServersCannotReadWaitsForThemInsteadOfFailing() throws Exception {
    place("{attempts: 3, interval: 1m, delay: 20ms, mode: fail}");
    // As while the Raft leader the node's session used has just died: the round's own read of the
    // job (for its group) still answers, the start's read does not.
    store.passes.set(1);
    store.down = true;
    StoredAllocation waiting = until(a -> a.getMessage().startsWith("waiting for the cluster's servers"), 10,
        "reported waiting");
    assertEquals(AllocationState.ALLOCATION_PENDING_VALUE, waiting.getState());
    assertTrue(waiting.getMessage().matches("waiting for the cluster's servers to read its job \\(the cluster's servers"
        + " did not answer: ConnectException\\); trying again in \\d+m?s"), waiting.getMessage());
    // Rounds go on every 50 ms; the start is tried again at 250 ms, 500 ms, 1 s, not every round.
    long since = System.nanoTime();
    int before = store.refused.get();
    for (int i = 0; i < 30; i++) {
      Thread.sleep(50);
      StoredAllocation a = until(x -> true, 1, "a round");
      assertEquals(AllocationState.ALLOCATION_PENDING_VALUE, a.getState(), "never failed for the servers: " + a);
    }
    double seconds = (System.nanoTime() - since) / 1e9;
    int tries = store.refused.get() - before;
    // Retries due at 0.25, 0.75, 1.75 s...: two or three in these 30 rounds (1.5 s or more), not 30.
    assertTrue(tries >= 1 && tries <= 4, tries + " reads refused in " + seconds + " s");
    assertTrue(runtime.list(true).isEmpty(), "nothing was created while the job could not be read");

    store.down = false;
    StoredAllocation running = until(a -> a.getState() == AllocationState.ALLOCATION_RUNNING_VALUE
        && !a.getContainerId().isEmpty(), 20, "started once the servers answer");
    assertTrue(!running.getMessage().startsWith("waiting"), running.getMessage());
  }

  @Test
  void aStartWhoseCredentialNoServerCanHandOutWaitsForThem() throws Exception {
    handoutDown = true;
    place("{attempts: 3, interval: 1m, delay: 20ms, mode: fail}");
    StoredAllocation waiting = until(a -> a.getMessage().startsWith(
        "waiting for the cluster's servers to hand out its registry credential (cannot get the credential"), 10,
        "reported waiting");
    assertEquals(AllocationState.ALLOCATION_PENDING_VALUE, waiting.getState(), waiting.toString());
    handoutDown = false;
    until(a -> a.getState() == AllocationState.ALLOCATION_RUNNING_VALUE && !a.getContainerId().isEmpty(), 20,
        "started once a server hands it out");
  }
}
