package dev.berth.agent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerRef;
import dev.berth.proto.v1.ContainerSpec;
import dev.berth.proto.v1.ContainerStatus;
import dev.berth.proto.v1.CreateContainerRequest;
import dev.berth.proto.v1.ExecSpec;
import dev.berth.proto.v1.ExitStatus;
import dev.berth.proto.v1.KillContainerRequest;
import dev.berth.proto.v1.ListContainersRequest;
import dev.berth.proto.v1.LogEntry;
import dev.berth.proto.v1.LogsRequest;
import dev.berth.proto.v1.RemoveContainerRequest;
import dev.berth.proto.v1.Resources;
import dev.berth.proto.v1.StopContainerRequest;
import dev.berth.proto.v1.WaitResponse;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Real containers, as root: a berthd process of the test's own runs the busybox image with
 * real namespaces, cgroups and overlayfs. One agent serves the whole class; every test
 * removes its containers, and the agent's close removes anything left.
 */
@Tag("linux")
@Timeout(120)
class ContainerLinuxTest {
  static AgentProcess agent;
  static String imageId;

  @BeforeAll
  static void startAgent() throws Exception {
    assumeTrue(Linux.isRoot(), "needs root for namespaces, cgroups and mounts");
    assumeTrue(BusyboxImage.available(), "needs Debian's busybox-static at /bin/busybox");
    agent = AgentProcess.start();
    imageId = agent.importBusybox("busybox:latest").getId();
  }

  @AfterAll
  static void stopAgent() throws Exception {
    if (agent != null) {
      agent.close();
      assertTrue(agent.cgroupDirs().isEmpty(), "cgroups left behind: " + agent.cgroupDirs());
      assertTrue(agent.mounts().isEmpty(), "mounts left behind: " + agent.mounts());
    }
  }

  static ContainerSpec.Builder spec(String... cmd) {
    return ContainerSpec.newBuilder().setImage("busybox").addAllCmd(List.of(cmd));
  }

  static Container create(ContainerSpec.Builder spec) {
    return agent.containers().create(CreateContainerRequest.newBuilder().setSpec(spec).build());
  }

  /** Runs to completion attached, as `berth run --rm` does. */
  static Attached run(ContainerSpec.Builder spec) throws Exception {
    Container c = create(spec);
    Attached a = Attached.start(agent.containersAsync(), c.getId());
    a.await();
    agent.containers().remove(RemoveContainerRequest.newBuilder().setId(c.getId()).setForce(true).build());
    return a;
  }

  static void rm(String id) {
    agent.containers().remove(RemoveContainerRequest.newBuilder().setId(id).setForce(true).build());
  }

  @Test
  void runsAsPidOneAndSeesNoHostProcess() throws Exception {
    Attached a = run(spec("sh", "-c", "echo pid=$$; ls -d /proc/[0-9]* | wc -l"));
    assertEquals(0, a.exitCode(), a.stderr());
    String[] lines = a.stdout().trim().split("\n");
    assertEquals("pid=1", lines[0]);
    // sh itself, ls and wc: nothing of the host.
    assertTrue(Integer.parseInt(lines[1].trim()) <= 3, "processes visible: " + a.stdout());
  }

  @Test
  void hostnameEnvWorkdirAndUserApply() throws Exception {
    Attached a = run(spec("sh", "-c", "hostname; echo $GREETING; pwd; id -u; id -g; id -G")
        .setHostname("web1").addEnv("GREETING=hello world").setWorkingDir("/data").setUser("app"));
    assertEquals(0, a.exitCode(), a.stderr());
    assertEquals(List.of("web1", "hello world", "/data", "1000", "1000", "1000 2000"), List.of(a.stdout().trim().split("\n")));

    Attached numeric = run(spec("sh", "-c", "id -u; id -g").setUser("4242:4343"));
    assertEquals("4242\n4343\n", numeric.stdout());
  }

  @Test
  void unknownUserFailsTheStartAndLeavesNothing() throws Exception {
    Container c = create(spec("true").setUser("nosuchuser"));
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> agent.containers().start(ContainerRef.newBuilder().setId(c.getId()).build()));
    assertTrue(e.getStatus().getDescription().contains("nosuchuser"), e.getStatus().toString());
    assertNoRunLeftovers(c.getId());
    rm(c.getId());
  }

  @Test
  void writesStayInTheContainersOwnLayer() throws Exception {
    Attached writer = run(spec("sh", "-c", "echo changed > /etc/image-file; rm /bin/not-executable; echo new > /new"));
    assertEquals(0, writer.exitCode(), writer.stderr());
    Attached reader = run(spec("sh", "-c", "cat /etc/image-file; ls /bin/not-executable /new"));
    assertEquals("from the image\n/bin/not-executable\n", reader.stdout());
    assertTrue(reader.stderr().contains("/new"), reader.stderr());
  }

  @Test
  void missingCommandExits127WithTheReason() throws Exception {
    Attached a = run(spec("no-such-command"));
    ExitStatus s = a.await();
    assertEquals(127, s.getExitCode());
    assertTrue((a.stderr() + s.getError()).contains("no-such-command"), a.stderr() + s.getError());

    Attached notExec = run(spec("/bin/not-executable"));
    assertEquals(126, notExec.exitCode());
  }

  @Test
  void exitCodesAndSignalsFollowDocker() throws Exception {
    assertEquals(3, run(spec("sh", "-c", "exit 3")).exitCode());
    // A container's init ignores signals it has no handler for, even from the host, except SIGKILL.
    Container c = create(spec("sleep", "1000"));
    Attached a = Attached.start(agent.containersAsync(), c.getId());
    waitRunning(c.getId());
    agent.containers().kill(KillContainerRequest.newBuilder().setId(c.getId()).setSignal("KILL").build());
    ExitStatus s = a.await();
    assertEquals(137, s.getExitCode());
    assertFalse(s.getOomKilled());
    rm(c.getId());
  }

  @Test
  void signalsReachTheContainersOwnHandlers() throws Exception {
    Container c = create(spec("sh", "-c", "trap 'echo got INT; exit 130' INT; echo ready; while true; do sleep 0.1; done"));
    Attached a = Attached.start(agent.containersAsync(), c.getId());
    for (int i = 0; i < 100 && !a.stdout().contains("ready"); i++) {
      Thread.sleep(20);
    }
    agent.containers().kill(KillContainerRequest.newBuilder().setId(c.getId()).setSignal("SIGINT").build());
    assertEquals(130, a.exitCode());
    assertEquals("ready\ngot INT\n", a.stdout());
    rm(c.getId());
  }

  @Test
  void memoryLimitOomKillsAndReportsIt() throws Exception {
    // tail buffers /dev/zero looking for a newline that never comes: it grows until killed.
    Attached a = run(spec("tail", "/dev/zero").setResources(Resources.newBuilder().setMemory("20m")));
    ExitStatus s = a.await();
    assertEquals(137, s.getExitCode());
    assertTrue(s.getOomKilled(), "not reported as OOM: " + s);
  }

  @Test
  void pidsLimitStopsAForkBomb() throws Exception {
    // Each round forks one more sleeper; the shell reports how many it got before fork failed.
    Attached a = run(spec("sh", "-c", "n=0; while [ $n -lt 200 ]; do sleep 5 & n=$((n+1)); echo $n; done")
        .setResources(Resources.newBuilder().setPidsLimit(20)));
    assertTrue(a.stderr().contains("can't fork"), "no fork failure: " + a.stderr());
    String[] counts = a.stdout().trim().split("\n");
    int forked = Integer.parseInt(counts[counts.length - 1]);
    assertTrue(forked < 20, "forked " + forked + " processes under a limit of 20");
  }

  @Test
  void cpuLimitThrottles() throws Exception {
    Container c = create(spec("sh", "-c", "while :; do :; done").setResources(Resources.newBuilder().setCpus("0.5")));
    try {
      agent.containers().start(ContainerRef.newBuilder().setId(c.getId()).build());
      Container running = agent.containers().inspect(ContainerRef.newBuilder().setId(c.getId()).build());
      assertEquals(50_000, running.getCpuQuotaMicros());
      Path stat = cgroupFile("cpu", running.getCgroupPath(), "cpu.stat");
      Path usage = cgroupFile("cpuacct", running.getCgroupPath(), "cpuacct.usage");
      long usedBefore = Long.parseLong(Files.readString(usage).trim());
      long t0 = System.nanoTime();
      long throttled = 0;
      for (int i = 0; i < 50 && throttled == 0; i++) {
        Thread.sleep(100);
        throttled = Files.readAllLines(stat).stream().filter(l -> l.startsWith("nr_throttled "))
            .mapToLong(l -> Long.parseLong(l.split(" ")[1])).findFirst().orElse(0);
      }
      double cores = (Long.parseLong(Files.readString(usage).trim()) - usedBefore) / (double) (System.nanoTime() - t0);
      // Throttled as soon as the loop gets more than half a core in a period; on a machine so
      // busy that it never gets that much, it must at least never have used more.
      assertTrue(throttled > 0 || cores < 0.55, "not throttled, using " + cores + " cores: " + Files.readString(stat));
    } finally {
      rm(c.getId());
    }
  }

  @Test
  void stopEscalatesToSigkillAfterTheTimeout() throws Exception {
    // PID 1 has no handler for SIGTERM, so the kernel ignores it: only SIGKILL ends it.
    Container c = create(spec("sleep", "1000"));
    agent.containers().start(ContainerRef.newBuilder().setId(c.getId()).build());
    long t0 = System.nanoTime();
    Container stopped = agent.containers().stop(StopContainerRequest.newBuilder().setId(c.getId())
        .setTimeoutSeconds(1).setHasTimeout(true).build());
    long ms = (System.nanoTime() - t0) / 1_000_000;
    assertEquals(ContainerStatus.EXITED, stopped.getStatus());
    assertEquals(137, stopped.getExitCode());
    assertTrue(ms >= 1000 && ms < 8000, "stop took " + ms + " ms");
    assertNoRunLeftovers(c.getId());
    rm(c.getId());
  }

  @Test
  void removeLeavesNoMountOrCgroup() throws Exception {
    Container c = create(spec("sleep", "1000"));
    agent.containers().start(ContainerRef.newBuilder().setId(c.getId()).build());
    assertFalse(agent.mounts().isEmpty());
    rm(c.getId());
    assertNoRunLeftovers(c.getId());
    assertFalse(Files.exists(agent.dataDir().resolve("containers").resolve(c.getId())));
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> agent.containers().inspect(ContainerRef.newBuilder().setId(c.getId()).build()));
    assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());
  }

  @Test
  void symlinkedWorkdirStaysInsideTheRootfs() throws Exception {
    String name = "bt-escape-" + Integer.toHexString(ThreadLocalRandom.current().nextInt());
    Path onHost = Path.of("/tmp", name);
    Attached a = run(spec("sh", "-c", "pwd; touch marker").setWorkingDir("/escape/" + name));
    assertEquals(0, a.exitCode(), a.stderr());
    assertFalse(Files.exists(onHost), "the workdir escaped to the host's " + onHost);
  }

  @Test
  void seccompForbidsNamespaceCreationUnlessUnconfined() throws Exception {
    Attached confined = run(spec("unshare", "-U", "true"));
    assertEquals(1, confined.exitCode());
    assertTrue(confined.stderr().contains("Operation not permitted"), confined.stderr());

    Attached unconfined = run(spec("unshare", "-U", "true").addSecurityOpt("seccomp=unconfined"));
    assertEquals(0, unconfined.exitCode(), unconfined.stderr());
  }

  @Test
  void hostDevicesStayOutOfReachEvenWithMknod() throws Exception {
    // CAP_MKNOD is a default capability: the devices cgroup is what keeps the host's disks away.
    Attached a = run(spec("sh", "-c", "mknod /tmp/disk b 8 0 && head -c 1 /tmp/disk; echo > /dev/null && echo null-ok"));
    assertTrue(a.stderr().contains("Operation not permitted"), a.stderr());
    assertTrue(a.stdout().contains("null-ok"), a.stdout());
  }

  @Test
  void networkNoneSeesLoopbackOnlyAndHostSeesTheHosts() throws Exception {
    Attached none = run(spec("ls", "/sys/class/net").setNetworkMode("none"));
    assertEquals(List.of("lo"), List.of(none.stdout().trim().split("\\s+")));

    // The agent's network namespace is the "host" here: the one the test made for it.
    Attached host = run(spec("ls", "/sys/class/net").setNetworkMode("host"));
    List<String> agentInterfaces = java.util.Arrays.stream(agent.inNetns("ip", "-o", "link").output().split("\n"))
        .filter(l -> l.matches("\\d+: .*")).map(l -> l.split(":\\s+")[1].split("@")[0]).sorted().toList();
    assertEquals(agentInterfaces, List.of(host.stdout().trim().split("\\s+")));
    assertTrue(agentInterfaces.size() > 1, "the agent's namespace has its bridge too: " + agentInterfaces);

    StatusRuntimeException bad = assertThrows(StatusRuntimeException.class, () -> create(spec("true").setNetworkMode("overlay")));
    assertEquals(Status.Code.NOT_FOUND, bad.getStatus().getCode());
    assertTrue(bad.getStatus().getDescription().contains("network overlay not found"), bad.getStatus().getDescription());
  }

  @Test
  void noDescriptorLeaksIntoTheContainer() throws Exception {
    Attached a = run(spec("ls", "/proc/self/fd"));
    // 0, 1, 2 and the directory ls itself reads.
    assertEquals(List.of("0", "1", "2", "3"), List.of(a.stdout().trim().split("\\s+")));
  }

  @Test
  void execRunsInsideARunningContainer() throws Exception {
    Container c = create(spec("sh", "-c", "echo ready > /tmp/state; sleep 1000").setHostname("box"));
    try {
      agent.containers().start(ContainerRef.newBuilder().setId(c.getId()).build());
      Attached e = Attached.exec(agent.containersAsync(), ExecSpec.newBuilder().setContainerId(c.getId())
          .addAllCmd(List.of("sh", "-c", "while [ ! -f /tmp/state ]; do sleep 0.05; done; cat /tmp/state; hostname; id -u; exit 7"))
          .setUser("app").build());
      assertEquals(7, e.exitCode());
      assertEquals("ready\nbox\n1000\n", e.stdout());
    } finally {
      rm(c.getId());
    }
  }

  @Test
  void logsAreKeptAfterExitWithTimestamps() throws Exception {
    Container c = create(spec("sh", "-c", "echo out1; echo err1 >&2; echo out2"));
    agent.containers().start(ContainerRef.newBuilder().setId(c.getId()).build());
    WaitResponse w = agent.containers().wait(ContainerRef.newBuilder().setId(c.getId()).build());
    assertEquals(0, w.getExitCode());
    List<LogEntry> entries = new ArrayList<>();
    agent.containers().logs(LogsRequest.newBuilder().setId(c.getId()).setTail(-1).build()).forEachRemaining(entries::add);
    List<String> text = entries.stream().map(e -> e.getStream() + ":" + e.getData().toStringUtf8()).toList();
    assertTrue(text.containsAll(List.of("STDOUT:out1\n", "STDERR:err1\n", "STDOUT:out2\n")), text.toString());
    assertTrue(entries.stream().allMatch(e -> e.getTimeUnixNanos() > 0));
    List<LogEntry> tail = new ArrayList<>();
    agent.containers().logs(LogsRequest.newBuilder().setId(c.getId()).setTail(1).build()).forEachRemaining(tail::add);
    assertEquals(1, tail.size());
    rm(c.getId());
  }

  @Test
  void badInputGetsClearErrors() {
    StatusRuntimeException noImage = assertThrows(StatusRuntimeException.class, () -> create(spec("true").setImage("nope:1")));
    assertEquals(Status.Code.NOT_FOUND, noImage.getStatus().getCode());
    assertTrue(noImage.getStatus().getDescription().contains("nope:1"));

    StatusRuntimeException badMem = assertThrows(StatusRuntimeException.class,
        () -> create(spec("true").setResources(Resources.newBuilder().setMemory("lots"))));
    assertEquals(Status.Code.INVALID_ARGUMENT, badMem.getStatus().getCode());
    assertTrue(badMem.getStatus().getDescription().contains("512m"), badMem.getStatus().getDescription());

    StatusRuntimeException badCpu = assertThrows(StatusRuntimeException.class,
        () -> create(spec("true").setResources(Resources.newBuilder().setCpus("half"))));
    assertEquals(Status.Code.INVALID_ARGUMENT, badCpu.getStatus().getCode());

    Container named = create(spec("true").setName("taken"));
    StatusRuntimeException dup = assertThrows(StatusRuntimeException.class, () -> create(spec("true").setName("taken")));
    assertEquals(Status.Code.ALREADY_EXISTS, dup.getStatus().getCode());
    rm(named.getId());

    StatusRuntimeException noContainer = assertThrows(StatusRuntimeException.class,
        () -> agent.containers().kill(KillContainerRequest.newBuilder().setId("ghost").build()));
    assertEquals(Status.Code.NOT_FOUND, noContainer.getStatus().getCode());
    assertTrue(noContainer.getStatus().getDescription().contains("ghost"));
  }

  @Test
  void fiftyContainersAtOnceAllRunAndAllAreCleanedUp() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(10);
    List<Future<String>> started = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      started.add(pool.submit(() -> {
        Container c = create(spec("sleep", "1000").putLabels("batch", "fifty"));
        agent.containers().start(ContainerRef.newBuilder().setId(c.getId()).build());
        return c.getId();
      }));
    }
    List<String> ids = new ArrayList<>();
    try {
      for (Future<String> f : started) {
        ids.add(f.get());
      }
      long running = agent.containers().list(ListContainersRequest.getDefaultInstance()).getContainersList().stream()
          .filter(c -> c.getStatus() == ContainerStatus.RUNNING && "fifty".equals(c.getLabelsMap().get("batch"))).count();
      assertEquals(50, running);
    } finally {
      List<Future<?>> removed = new ArrayList<>();
      for (String id : ids) {
        removed.add(pool.submit(() -> rm(id)));
      }
      for (Future<?> f : removed) {
        f.get();
      }
      pool.shutdown();
    }
    for (String id : ids) {
      assertNoRunLeftovers(id);
    }
  }

  static void waitRunning(String id) throws InterruptedException {
    for (int i = 0; i < 100; i++) {
      if (agent.containers().inspect(ContainerRef.newBuilder().setId(id).build()).getStatus() == ContainerStatus.RUNNING) {
        return;
      }
      Thread.sleep(20);
    }
    throw new AssertionError(id + " did not start");
  }

  static void assertNoRunLeftovers(String id) throws Exception {
    assertTrue(agent.mounts().stream().noneMatch(m -> m.contains(id)), "mounts left: " + agent.mounts());
    assertTrue(agent.cgroupDirs().stream().noneMatch(p -> p.toString().contains(id)), "cgroups left: " + agent.cgroupDirs());
  }

  static Path cgroupFile(String controller, String cgroupPath, String file) {
    return Path.of("/sys/fs/cgroup", controller, cgroupPath, file);
  }

  static <T> List<T> all(Iterator<T> it) {
    List<T> l = new ArrayList<>();
    it.forEachRemaining(l::add);
    return l;
  }
}
