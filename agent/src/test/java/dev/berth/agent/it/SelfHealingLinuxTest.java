package dev.berth.agent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerRef;
import dev.berth.proto.v1.ContainerSpec;
import dev.berth.proto.v1.ContainerStatus;
import dev.berth.proto.v1.CreateContainerRequest;
import dev.berth.proto.v1.HealthConfig;
import dev.berth.proto.v1.HealthLogEntry;
import dev.berth.proto.v1.HealthStatus;
import dev.berth.proto.v1.RestartPolicy;
import dev.berth.proto.v1.StopContainerRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Restart policies and health checks on a real berthd with real containers: a crash loop backs
 * off and gives up, {@code always} outlives a killed process but not a stop, a health check
 * turns a container unhealthy and healthy again, and a "reboot" (the agent, every shim and
 * every container killed) brings back what its policy says.
 */
@Tag("linux")
@Timeout(120)
class SelfHealingLinuxTest {
  /** Small, so the crash loop's backoff shows in a second or two. */
  static final List<String> FLAGS = List.of("--restart-backoff-base", "300ms", "--restart-backoff-cap", "5s");
  /** One agent for the tests that only add containers (each names its own); the reboot test has its own. */
  static AgentProcess shared;
  AgentProcess agent;

  @BeforeAll
  static void startShared() throws Exception {
    if (Linux.isRoot() && BusyboxImage.available()) {
      shared = start();
    }
  }

  @AfterAll
  static void closeShared() throws Exception {
    close(shared);
  }

  @BeforeEach
  void pick() {
    assumeTrue(Linux.isRoot(), "needs root for namespaces, cgroups and mounts");
    assumeTrue(BusyboxImage.available(), "needs Debian's busybox-static at /bin/busybox");
    agent = shared;
  }

  private static AgentProcess start() throws Exception {
    AgentProcess a = AgentProcess.start(FLAGS);
    try {
      a.importBusybox("busybox");
    } catch (Exception e) {
      a.close();
      throw e;
    }
    return a;
  }

  private static void close(AgentProcess a) throws Exception {
    if (a != null) {
      a.close();
      assertTrue(a.cgroupDirs().isEmpty(), "cgroups left behind: " + a.cgroupDirs());
      assertTrue(a.mounts().isEmpty(), "mounts left behind: " + a.mounts());
    }
  }

  @Test
  void aCrashLoopBacksOffAndGivesUpAfterItsRetries() throws Exception {
    Container c = run(spec("crasher", "sh", "-c", "exit 3").setRestartPolicy(policy("on-failure", 3)));
    // Each run's start and end, as recorded: the delay before a restart is from one's end to the next's start.
    List<long[]> runs = new ArrayList<>();
    boolean sawRestarting = false;
    long deadline = System.nanoTime() + 30_000_000_000L;
    Container now = c;
    while (true) {
      assertTrue(System.nanoTime() < deadline, "no end to the crash loop: " + now);
      long started = now.getStartedAtUnixNanos();
      if (started != 0 && (runs.isEmpty() || runs.get(runs.size() - 1)[0] != started)) {
        runs.add(new long[] {started, 0});
      }
      if (now.getFinishedAtUnixNanos() != 0 && now.getStatus() == ContainerStatus.EXITED) {
        runs.get(runs.size() - 1)[1] = now.getFinishedAtUnixNanos();
      }
      sawRestarting |= now.getRestarting();
      if (now.getRestartCount() == 3 && now.getStatus() == ContainerStatus.EXITED && !now.getRestarting()) {
        break;
      }
      Thread.sleep(10);
      now = inspect("crasher");
    }
    assertTrue(sawRestarting, "restarting was never shown");
    assertEquals(4, runs.size(), "the run and three restarts");
    List<Long> delays = new ArrayList<>();
    for (int i = 1; i < runs.size(); i++) {
      delays.add((runs.get(i)[0] - runs.get(i - 1)[1]) / 1_000_000);
    }
    // 300, 600, 1200 ms of backoff at least (plus noticing the exit and launching: the machine's load)
    assertTrue(delays.get(0) >= 295 && delays.get(1) >= 595 && delays.get(2) >= 1195, "delays " + delays);
    assertTrue(delays.get(2) > delays.get(0), "the delays do not grow: " + delays);

    Thread.sleep(2500); // a fourth restart would have come after 2.4 s
    Container done = inspect("crasher");
    assertEquals(3, done.getRestartCount());
    assertEquals(ContainerStatus.EXITED, done.getStatus());
    assertEquals(3, done.getExitCode());
    assertFalse(done.getRestarting());
  }

  @Test
  void alwaysOutlivesAKilledProcessButNotAStop() throws Exception {
    Container c = run(spec("keeper", "sleep", "1000").setRestartPolicy(policy("always", 0)));
    int pid = c.getPid();
    new ProcessBuilder("kill", "-9", String.valueOf(pid)).start().waitFor();
    Container again = await("keeper", x -> x.getStatus() == ContainerStatus.RUNNING && x.getPid() != pid,
        "running again after its process was killed");
    assertEquals(1, again.getRestartCount());
    assertEquals(137, again.getExitCode() == 0 ? 137 : again.getExitCode(), "the exit that caused it");

    agent.containers().stop(StopContainerRequest.newBuilder().setId("keeper").setTimeoutSeconds(1).setHasTimeout(true)
        .build());
    Thread.sleep(1000);
    Container stopped = inspect("keeper");
    assertEquals(ContainerStatus.EXITED, stopped.getStatus(), "a stop is for good");
    assertFalse(stopped.getRestarting());
    assertEquals(1, stopped.getRestartCount());
  }

  @Test
  void aFailingHealthCheckMakesItUnhealthyAndAPassingOneHealthyAgain() throws Exception {
    // ok for 3 s, failing for 3 s, ok again.
    run(spec("patient", "sh", "-c", "touch /tmp/ok; sleep 3; rm /tmp/ok; sleep 3; touch /tmp/ok; sleep 1000")
        .setHealthcheck(HealthConfig.newBuilder().addTest("CMD-SHELL").addTest("test -e /tmp/ok && echo fine")
            .setIntervalNanos(200_000_000L).setTimeoutNanos(2_000_000_000L).setRetries(2)));
    assertEquals(HealthStatus.HEALTH_STARTING, inspect("patient").getHealth().getStatus());
    Container healthy = await("patient", x -> x.getHealth().getStatus() == HealthStatus.HEALTH_HEALTHY, "healthy");
    HealthLogEntry pass = healthy.getHealth().getLog(healthy.getHealth().getLogCount() - 1);
    assertEquals(0, pass.getExitCode());
    assertEquals("fine\n", pass.getOutput());
    Container sick = await("patient", x -> x.getHealth().getStatus() == HealthStatus.HEALTH_UNHEALTHY, "unhealthy");
    assertTrue(sick.getHealth().getFailingStreak() >= 2, sick.getHealth().toString());
    assertEquals(1, sick.getHealth().getLog(sick.getHealth().getLogCount() - 1).getExitCode());
    assertTrue(sick.getHealth().getLogCount() <= 5);
    Container well = await("patient", x -> x.getHealth().getStatus() == HealthStatus.HEALTH_HEALTHY, "healthy again");
    assertEquals(0, well.getHealth().getFailingStreak());
    assertEquals(ContainerStatus.RUNNING, well.getStatus(), "unhealthy is not a reason to restart on one host");
    assertEquals(0, well.getRestartCount());
  }

  @Test
  void aCheckThatHangsTimesOutAndIsKilled() throws Exception {
    run(spec("hung", "sleep", "1000").setHealthcheck(HealthConfig.newBuilder().addTest("CMD").addTest("sleep")
        .addTest("30").setIntervalNanos(100_000_000L).setTimeoutNanos(300_000_000L).setRetries(1)));
    Container sick = await("hung", x -> x.getHealth().getStatus() == HealthStatus.HEALTH_UNHEALTHY, "unhealthy");
    HealthLogEntry e = sick.getHealth().getLog(0);
    assertEquals(-1, e.getExitCode());
    assertEquals("Health check exceeded timeout (300ms)", e.getOutput());
    long took = (e.getEndUnixNanos() - e.getStartUnixNanos()) / 1_000_000;
    assertTrue(took >= 290 && took < 2000, "took " + took + " ms");
    Thread.sleep(1500);
    // Killed when they timed out: the container's cgroup holds its init and at most the one check in flight.
    java.nio.file.Path cg = agent.cgroupDirs().stream().filter(d -> d.endsWith(sick.getId()))
        .filter(d -> java.nio.file.Files.exists(d.resolve("cgroup.procs"))).findFirst().orElseThrow();
    List<String> procs = java.nio.file.Files.readAllLines(cg.resolve("cgroup.procs"));
    assertTrue(procs.size() <= 2, "timed-out checks are left running: " + procs);
  }

  @Test
  void aRebootBringsBackAlwaysAndUnlessStoppedButNotTheRest() throws Exception {
    agent = start();
    try {
      reboot();
    } finally {
      close(agent);
    }
  }

  private void reboot() throws Exception {
    Container always = run(spec("always", "sleep", "1000").setRestartPolicy(policy("always", 0)));
    Container unless = run(spec("unless", "sleep", "1000").setRestartPolicy(policy("unless-stopped", 0)));
    Container plain = run(spec("plain", "sleep", "1000"));
    Container failing = run(spec("failing", "sleep", "1000").setRestartPolicy(policy("on-failure", 0)));
    run(spec("stopped-unless", "sleep", "1000").setRestartPolicy(policy("unless-stopped", 0)));
    run(spec("stopped-always", "sleep", "1000").setRestartPolicy(policy("always", 0)));
    for (String name : List.of("stopped-unless", "stopped-always")) {
      agent.containers().stop(StopContainerRequest.newBuilder().setId(name).setTimeoutSeconds(0).setHasTimeout(true)
          .build());
    }

    // A restart of the agent alone restarts nothing: the containers are adopted as they run.
    agent.killHard();
    agent.launch();
    Container adopted = inspect("always");
    assertEquals(always.getPid(), adopted.getPid());
    assertEquals(0, adopted.getRestartCount());
    assertEquals(ContainerStatus.RUNNING, inspect("plain").getStatus());

    agent.killAsInAReboot();
    agent.launch();
    Container a = await("always", x -> x.getStatus() == ContainerStatus.RUNNING && x.getPid() != always.getPid(),
        "always running again");
    assertTrue(a.getExitUnknown() || a.getRestartCount() == 1, a.toString());
    await("unless", x -> x.getStatus() == ContainerStatus.RUNNING && x.getPid() != unless.getPid(), "unless-stopped running again");
    await("failing", x -> x.getStatus() == ContainerStatus.RUNNING && x.getPid() != failing.getPid(),
        "on-failure running again: an unknown exit is a failure");
    await("stopped-always", x -> x.getStatus() == ContainerStatus.RUNNING, "a stopped always container, as Docker's");
    Container p = inspect("plain");
    assertEquals(ContainerStatus.EXITED, p.getStatus());
    assertTrue(p.getExitUnknown(), "its launcher is gone: the exit is unknown, not invented");
    assertNotEquals(plain.getPid(), 0);
    Thread.sleep(500);
    assertEquals(ContainerStatus.EXITED, inspect("stopped-unless").getStatus(), "stopped by the user: stays down");
    assertEquals(ContainerStatus.EXITED, inspect("plain").getStatus());
  }

  private static ContainerSpec.Builder spec(String name, String... cmd) {
    return ContainerSpec.newBuilder().setImage("busybox").setName(name).addAllCmd(List.of(cmd));
  }

  private static RestartPolicy policy(String name, int max) {
    return RestartPolicy.newBuilder().setName(name).setMaxRetries(max).build();
  }

  private Container run(ContainerSpec.Builder spec) {
    Container c = agent.containers().create(CreateContainerRequest.newBuilder().setSpec(spec).build());
    return agent.containers().start(ContainerRef.newBuilder().setId(c.getId()).build());
  }

  private Container inspect(String id) {
    return agent.containers().inspect(ContainerRef.newBuilder().setId(id).build());
  }

  private Container await(String id, Predicate<Container> p, String what) throws Exception {
    long deadline = System.nanoTime() + 20_000_000_000L;
    Container c = inspect(id);
    while (!p.test(c)) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting until " + what + ": " + c + "\n" + agent.log());
      }
      Thread.sleep(20);
      c = inspect(id);
    }
    return c;
  }
}
