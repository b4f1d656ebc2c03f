package dev.berth.agent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerRef;
import dev.berth.proto.v1.ContainerSpec;
import dev.berth.proto.v1.ContainerStatus;
import dev.berth.proto.v1.CreateContainerRequest;
import dev.berth.proto.v1.Event;
import dev.berth.proto.v1.EventFilter;
import dev.berth.proto.v1.EventServiceGrpc;
import dev.berth.proto.v1.EventsRequest;
import dev.berth.proto.v1.LogEntry;
import dev.berth.proto.v1.LogsRequest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** kill -9 of berthd leaves its containers running; the next berthd re-adopts them. */
@Tag("linux")
@Timeout(120)
class AgentRestartLinuxTest {
  AgentProcess agent;

  @AfterEach
  void cleanup() throws Exception {
    if (agent != null) {
      agent.close();
      assertTrue(agent.cgroupDirs().isEmpty(), "cgroups left behind: " + agent.cgroupDirs());
      assertTrue(agent.mounts().isEmpty(), "mounts left behind: " + agent.mounts());
    }
  }

  @Test
  void containersSurviveAKilledAgentAndAreReadopted() throws Exception {
    assumeTrue(Linux.isRoot(), "needs root for namespaces, cgroups and mounts");
    assumeTrue(BusyboxImage.available(), "needs Debian's busybox-static at /bin/busybox");
    agent = AgentProcess.start();
    agent.importBusybox("busybox");
    Container ticker = start(ContainerSpec.newBuilder().setImage("busybox").setName("ticker")
        .addAllCmd(List.of("sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done")));
    Container quitter = start(ContainerSpec.newBuilder().setImage("busybox").setName("quitter")
        .addAllCmd(List.of("sh", "-c", "sleep 1; exit 3")));
    Thread.sleep(300);

    // As an agent killed in the middle of a commit leaves it: frozen.
    java.nio.file.Path freezer = java.nio.file.Path.of("/sys/fs/cgroup/freezer", agent.prefix(), ticker.getId(),
        "freezer.state");
    boolean v1Freezer = java.nio.file.Files.exists(freezer);
    assertEquals(java.nio.file.Files.isDirectory(java.nio.file.Path.of("/sys/fs/cgroup/freezer")), v1Freezer,
        "on a v1 freezer hierarchy every container has a freezer cgroup: " + freezer);
    if (v1Freezer) {
      java.nio.file.Files.writeString(freezer, "FROZEN");
    }
    agent.killHard();
    long killed = System.currentTimeMillis();
    Thread.sleep(1500); // the quitter ends while no agent is there
    assertTrue(ProcessHandle.of(ticker.getPid()).map(ProcessHandle::isAlive).orElse(false), "the container died with the agent");

    agent.launch();
    if (v1Freezer) {
      assertEquals("THAWED", java.nio.file.Files.readString(freezer).trim(), "a paused container stays paused");
    }
    Container t = agent.containers().inspect(ContainerRef.newBuilder().setId("ticker").build());
    assertEquals(ContainerStatus.RUNNING, t.getStatus());
    agent.containers().wait(ContainerRef.newBuilder().setId("quitter").build());
    Container q = agent.containers().inspect(ContainerRef.newBuilder().setId("quitter").build());
    assertEquals(ContainerStatus.EXITED, q.getStatus());
    assertEquals(3, q.getExitCode());
    // Its end was seen only by the next agent: reported then, with when it really happened.
    List<Event> died = new ArrayList<>();
    EventServiceGrpc.newBlockingStub(agent.channel()).withDeadlineAfter(30, TimeUnit.SECONDS).stream(EventsRequest
        .newBuilder().setSinceUnixNanos(1).setUntilUnixNanos(System.currentTimeMillis() * 1_000_000L)
        .addFilters(EventFilter.newBuilder().setKey("container").setValue("quitter"))
        .addFilters(EventFilter.newBuilder().setKey("event").setValue("die")).build()).forEachRemaining(died::add);
    died.removeIf(e -> e.getType().equals("warning"));
    assertEquals(1, died.size(), "one die event for the quitter: " + died);
    assertEquals("3", died.get(0).getAttributesOrThrow("exitCode"));
    assertEquals("true", died.get(0).getAttributesOrThrow("whileAgentDown"));
    assertTrue(Instant.parse(died.get(0).getAttributesOrThrow("finishedAt")).toEpochMilli() < killed + 1_500,
        "finishedAt says when it ended: " + died.get(0));

    int before = logLines("ticker");
    Thread.sleep(500);
    int after = logLines("ticker");
    assertTrue(after > before && before > 10, "logs did not continue: " + before + " → " + after);
  }

  private Container start(ContainerSpec.Builder spec) {
    Container c = agent.containers().create(CreateContainerRequest.newBuilder().setSpec(spec).build());
    return agent.containers().start(ContainerRef.newBuilder().setId(c.getId()).build());
  }

  private int logLines(String id) {
    List<LogEntry> l = new ArrayList<>();
    agent.containers().logs(LogsRequest.newBuilder().setId(id).setTail(-1).build()).forEachRemaining(l::add);
    return l.size();
  }
}
