package dev.berth.agent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerRef;
import dev.berth.proto.v1.ContainerServiceGrpc;
import dev.berth.proto.v1.ContainerSpec;
import dev.berth.proto.v1.CreateContainerRequest;
import dev.berth.proto.v1.Event;
import dev.berth.proto.v1.EventFilter;
import dev.berth.proto.v1.EventServiceGrpc;
import dev.berth.proto.v1.EventsRequest;
import dev.berth.proto.v1.JobServiceGrpc;
import dev.berth.proto.v1.KillContainerRequest;
import dev.berth.proto.v1.ListNodesRequest;
import dev.berth.proto.v1.NodeServiceGrpc;
import dev.berth.proto.v1.NodeStatus;
import dev.berth.proto.v1.RemoveContainerRequest;
import dev.berth.proto.v1.StopJobRequest;
import dev.berth.proto.v1.SubmitJobRequest;
import io.grpc.Context;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * One event stream for a cluster made by {@code deploy/cluster.sh --tls} (n1 the server and the
 * scheduler's leader, n2 and n3 plain members, each serving its API over mutual TLS): a
 * container's events on n2 and a job's on the leader are seen through n3, live and from a time;
 * a node killed is seen going down, then left out of a new stream with one warning.
 */
@Tag("cluster")
@Timeout(400)
class EventsNetnsTest {
  private static final int START_SECONDS = 120;

  private static long now() {
    Instant t = Instant.now();
    return t.getEpochSecond() * 1_000_000_000L + t.getNano();
  }

  private static EventFilter filter(String key, String value) {
    return EventFilter.newBuilder().setKey(key).setValue(value).build();
  }

  @Test
  void eventsOfEveryNodeAreSeenThroughAnyAndADeadNodeIsReportedOnce() throws Exception {
    assumeTrue(ScriptCluster.available(), "network namespaces and berthd need root and iproute2");
    assumeTrue(BusyboxImage.available(), "needs Debian's busybox-static at /bin/busybox");
    try (ScriptCluster cluster = ScriptCluster.up(3, 1, START_SECONDS, "--tls")) {
      AgentProcess.importTar(cluster.channel("n2"), "busybox", BusyboxImage.tar());
      cluster.await(START_SECONDS, () -> {
        try {
          var nodes = NodeServiceGrpc.newBlockingStub(cluster.channel("n3")).list(ListNodesRequest.getDefaultInstance())
              .getNodesList();
          return nodes.size() == 3 && nodes.stream().allMatch(n -> n.getStatus() == NodeStatus.NODE_STATUS_READY);
        } catch (StatusRuntimeException e) {
          return false;
        }
      }, "every node ready, as n3 sees it");
      long before = now();

      // Live, through n3: n2's container and the leader's job events.
      BlockingQueue<Event> live = new LinkedBlockingQueue<>();
      Context.CancellableContext follow = Context.current().withCancellation();
      follow.run(() -> EventServiceGrpc.newStub(cluster.channel("n3")).stream(EventsRequest.getDefaultInstance(),
          collect(live)));
      Thread.sleep(1000);
      ContainerServiceGrpc.ContainerServiceBlockingStub n2 = ContainerServiceGrpc.newBlockingStub(cluster.channel("n2"));
      Container c = n2.create(CreateContainerRequest.newBuilder().setSpec(ContainerSpec.newBuilder().setImage("busybox")
          .setName("far").addAllCmd(List.of("sleep", "1d"))).build());
      n2.start(ContainerRef.newBuilder().setId(c.getId()).build());
      n2.kill(KillContainerRequest.newBuilder().setId(c.getId()).build());
      n2.remove(RemoveContainerRequest.newBuilder().setId(c.getId()).build());
      List<Event> seen = until(live, e -> e.getAction().equals("destroy") && e.getActor().getName().equals("far"), cluster);
      List<Event> far = seen.stream().filter(e -> e.getActor().getName().equals("far")).toList();
      assertEquals(List.of("create", "start", "die", "destroy"), far.stream().map(Event::getAction).toList(), seen.toString());
      for (Event e : far) {
        assertEquals("n2", e.getNode());
        assertEquals("n2", e.getSource());
      }
      assertEquals("137", far.get(2).getAttributesMap().get("exitCode"));
      assertTrue(seen.stream().noneMatch(e -> e.getType().equals("warning")), "every node answered: " + seen);

      JobServiceGrpc.JobServiceBlockingStub jobs = JobServiceGrpc.newBlockingStub(cluster.channel("n2"));
      jobs.submit(SubmitJobRequest.newBuilder().setSource("pause.yaml").setText("""
          name: pause
          groups:
            - name: main
              image: busybox
              command: [sleep, 1d]
              resources: {cpu: 10m, memory: 8m}
          """).build());
      List<Event> job = until(live, e -> e.getType().equals("allocation") && e.getAction().equals("placed"), cluster);
      Event registered = job.stream().filter(e -> e.getType().equals("job")).findFirst().orElseThrow(
          () -> new AssertionError("no job event before the placement: " + job));
      assertEquals("registered", registered.getAction());
      assertEquals("pause", registered.getActor().getName());
      assertEquals("n1", registered.getSource(), "recorded by the scheduler's leader");
      Event placed = job.get(job.size() - 1);
      assertEquals("pause", placed.getAttributesMap().get("job"));
      assertEquals("n1", placed.getSource());
      jobs.stop(StopJobRequest.newBuilder().setName("pause").setPurge(true).build());

      // n3 dies: the leader sees it go down (through n2 now), and a new stream leaves it out, saying so once.
      BlockingQueue<Event> fromN2 = new LinkedBlockingQueue<>();
      Context.CancellableContext follow2 = Context.current().withCancellation();
      follow2.run(() -> EventServiceGrpc.newStub(cluster.channel("n2")).stream(EventsRequest.newBuilder()
          .addFilters(filter("type", "node")).build(), collect(fromN2)));
      Thread.sleep(1000);
      follow.cancel(null);
      cluster.disconnect("n3");
      assertEquals(0, cluster.run(30, "kill", "n3").code());
      List<Event> down = until(fromN2, e -> e.getAction().equals("down"), cluster);
      Event d = down.get(down.size() - 1);
      assertEquals("n3", d.getNode());
      assertEquals("n1", d.getSource());
      follow2.cancel(null);

      List<Event> after = new ArrayList<>();
      EventServiceGrpc.newBlockingStub(cluster.channel("n1")).withDeadlineAfter(60, TimeUnit.SECONDS)
          .stream(EventsRequest.newBuilder().setSinceUnixNanos(before).setUntilUnixNanos(now())
              .addFilters(filter("container", "far")).build())
          .forEachRemaining(after::add);
      List<Event> warnings = after.stream().filter(e -> e.getType().equals("warning")).toList();
      assertEquals(1, warnings.size(), after.toString());
      assertEquals("n3", warnings.get(0).getNode());
      assertTrue(warnings.get(0).getAttributesMap().get("message").contains("n3"), warnings.toString());
      assertEquals(far, after.stream().filter(e -> !e.getType().equals("warning")).toList(),
          "n2's events from its log, through n1");
    }
  }

  private static StreamObserver<Event> collect(BlockingQueue<Event> q) {
    return new StreamObserver<>() {
      @Override
      public void onNext(Event e) {
        q.add(e);
      }

      @Override
      public void onError(Throwable t) {}

      @Override
      public void onCompleted() {}
    };
  }

  private static List<Event> until(BlockingQueue<Event> q, Predicate<Event> last, ScriptCluster cluster)
      throws InterruptedException {
    List<Event> got = new ArrayList<>();
    while (true) {
      Event e = q.poll(60, TimeUnit.SECONDS);
      if (e == null) {
        throw new AssertionError("timed out; got " + got + cluster.logs());
      }
      got.add(e);
      if (last.test(e)) {
        return got;
      }
    }
  }
}
