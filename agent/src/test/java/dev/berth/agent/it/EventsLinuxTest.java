package dev.berth.agent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerRef;
import dev.berth.proto.v1.ContainerSpec;
import dev.berth.proto.v1.CreateContainerRequest;
import dev.berth.proto.v1.Event;
import dev.berth.proto.v1.EventFilter;
import dev.berth.proto.v1.EventServiceGrpc;
import dev.berth.proto.v1.EventsRequest;
import dev.berth.proto.v1.KillContainerRequest;
import dev.berth.proto.v1.RemoveContainerRequest;
import io.grpc.Context;
import io.grpc.stub.StreamObserver;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A real berthd's events: a container run, killed and removed is seen live as create, start, die
 * (137) and destroy, in order; the agent's log on disk still has them after the agent was killed
 * and started again, and goes on with its sequence.
 */
@Tag("linux")
@Timeout(180)
class EventsLinuxTest {
  AgentProcess agent;
  Context.CancellableContext follow;

  @AfterEach
  void cleanup() throws Exception {
    if (follow != null) {
      follow.cancel(null);
    }
    if (agent != null) {
      agent.close();
      assertTrue(agent.cgroupDirs().isEmpty(), "cgroups left behind: " + agent.cgroupDirs());
      assertTrue(agent.mounts().isEmpty(), "mounts left behind: " + agent.mounts());
    }
  }

  private static long now() {
    Instant t = Instant.now();
    return t.getEpochSecond() * 1_000_000_000L + t.getNano();
  }

  private static EventFilter filter(String key, String value) {
    return EventFilter.newBuilder().setKey(key).setValue(value).build();
  }

  @Test
  void runKillRmIsCreateStartDieDestroyLiveAndStillAfterTheAgentRestarts() throws Exception {
    assumeTrue(Linux.isRoot(), "needs root for namespaces, cgroups and mounts");
    assumeTrue(BusyboxImage.available(), "needs Debian's busybox-static at /bin/busybox");
    agent = AgentProcess.start(List.of("--node", "ev1", "--events-max-age", "1h", "--events-max-size", "1MiB"));
    agent.importBusybox("busybox");
    long before = now();

    BlockingQueue<Event> live = new LinkedBlockingQueue<>();
    follow = Context.current().withCancellation();
    follow.run(() -> EventServiceGrpc.newStub(agent.channel()).stream(EventsRequest.newBuilder()
        .addFilters(filter("type", "container")).build(), new StreamObserver<>() {
          @Override
          public void onNext(Event e) {
            if (!e.getType().equals("warning")) {  // e.g. the cluster still starting: this node's events only
              live.add(e);
            }
          }

          @Override
          public void onError(Throwable t) {}

          @Override
          public void onCompleted() {}
        }));
    Thread.sleep(500);  // the stream is open

    Container c = agent.containers().create(CreateContainerRequest.newBuilder().setSpec(ContainerSpec.newBuilder()
        .setImage("busybox").setName("victim").addAllCmd(List.of("sleep", "1d"))).build());
    agent.containers().start(ContainerRef.newBuilder().setId(c.getId()).build());
    agent.containers().kill(KillContainerRequest.newBuilder().setId(c.getId()).setSignal("KILL").build());
    agent.containers().remove(RemoveContainerRequest.newBuilder().setId(c.getId()).build());

    List<Event> got = until(live, e -> e.getAction().equals("destroy"));
    assertEquals(List.of("create", "start", "die", "destroy"), got.stream().map(Event::getAction).toList(), got.toString());
    for (Event e : got) {
      assertEquals(c.getId(), e.getActor().getId());
      assertEquals("victim", e.getActor().getName());
      assertEquals("busybox", e.getAttributesMap().get("image"));
      assertEquals("ev1", e.getNode());
      assertEquals("ev1", e.getSource());
    }
    assertEquals("137", got.get(2).getAttributesMap().get("exitCode"), "SIGKILL: 128 + 9");
    follow.cancel(null);

    // kill -9 of the agent: its log was never closed; the next agent reads it and goes on.
    agent.killHard();
    agent.launch();
    EventsRequest since = EventsRequest.newBuilder().setSinceUnixNanos(before).setUntilUnixNanos(now())
        .addFilters(filter("container", "victim")).build();
    List<Event> replay = new ArrayList<>();
    EventServiceGrpc.newBlockingStub(agent.channel()).withDeadlineAfter(30, TimeUnit.SECONDS).stream(since)
        .forEachRemaining(replay::add);
    replay.removeIf(e -> e.getType().equals("warning"));
    assertEquals(got, replay);

    Container next = agent.containers().create(CreateContainerRequest.newBuilder().setSpec(ContainerSpec.newBuilder()
        .setImage("busybox").setName("next").addAllCmd(List.of("true"))).build());
    List<Event> after = new ArrayList<>();
    EventServiceGrpc.newBlockingStub(agent.channel()).withDeadlineAfter(30, TimeUnit.SECONDS).stream(EventsRequest
        .newBuilder().setSinceUnixNanos(before).setUntilUnixNanos(now()).addFilters(filter("container", "next")).build())
        .forEachRemaining(after::add);
    after.removeIf(e -> e.getType().equals("warning"));
    assertEquals(List.of("create"), after.stream().map(Event::getAction).toList());
    assertEquals(next.getId(), after.get(0).getActor().getId());
    assertTrue(after.get(0).getSequence() > got.get(3).getSequence(), "the sequence goes on after the restart");

    Path events = agent.dataDir().resolve("events");
    try (var files = Files.list(events)) {
      assertEquals(2, files.filter(p -> p.toString().endsWith(".events")).count(), "a new segment for the new agent");
    }
  }

  private static List<Event> until(BlockingQueue<Event> q, Predicate<Event> last) throws InterruptedException {
    List<Event> got = new ArrayList<>();
    while (true) {
      Event e = q.poll(30, TimeUnit.SECONDS);
      if (e == null) {
        throw new AssertionError("timed out; got " + got);
      }
      got.add(e);
      if (last.test(e)) {
        return got;
      }
    }
  }
}
