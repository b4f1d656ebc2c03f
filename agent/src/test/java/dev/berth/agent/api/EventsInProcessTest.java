package dev.berth.agent.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.cluster.MemberState;
import dev.berth.agent.cluster.NodeRegistry;
import dev.berth.agent.cluster.Role;
import dev.berth.agent.cluster.TestClusterViews;
import dev.berth.agent.events.ContainerRecorder;
import dev.berth.agent.events.EventLog;
import dev.berth.agent.events.EventStream;
import dev.berth.agent.events.ImageEvents;
import dev.berth.agent.events.Listeners;
import dev.berth.agent.image.ImageStore;
import dev.berth.agent.image.LayerLimits;
import dev.berth.agent.it.AgentProcess;
import dev.berth.agent.it.BusyboxImage;
import dev.berth.agent.registry.Puller;
import dev.berth.agent.registry.Pusher;
import dev.berth.agent.registry.RegistryClient;
import dev.berth.agent.runtime.ContainerEvents;
import dev.berth.agent.runtime.ContainerRuntime;
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
import dev.berth.agent.task.Backoff;
import dev.berth.agent.task.HealthState;
import dev.berth.agent.task.Supervisor;
import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerRef;
import dev.berth.proto.v1.ContainerServiceGrpc;
import dev.berth.proto.v1.ContainerSpec;
import dev.berth.proto.v1.CreateContainerRequest;
import dev.berth.proto.v1.Event;
import dev.berth.proto.v1.EventFilter;
import dev.berth.proto.v1.EventServiceGrpc;
import dev.berth.proto.v1.EventsRequest;
import dev.berth.proto.v1.RemoveContainerRequest;
import dev.berth.proto.v1.RestartPolicy;
import dev.berth.proto.v1.StopContainerRequest;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The event API in process: the real services, runtime, supervisor and event log of node n1 over
 * the recording Syscalls and a launcher whose every run ends at once (exit unknown), plus node
 * n2, an event log behind its own API, reached as another agent is: the merged stream, live and
 * from a time, with warnings for nodes left out. No root needed.
 */
@Timeout(60)
class EventsInProcessTest {
  @TempDir
  Path tmp;
  Path data;
  RecordingSyscalls syscalls;
  ImageStore store;
  ContainerRuntime runtime;
  Supervisor supervisor;
  ContainerRecorder recorder;
  EventLog n1Log;
  EventLog n2Log;
  NodeRegistry registry;
  TestClusterViews.Members members;
  final List<Server> servers = new ArrayList<>();
  final List<ManagedChannel> channels = new ArrayList<>();
  ManagedChannel n1;
  ContainerServiceGrpc.ContainerServiceBlockingStub containers;
  EventServiceGrpc.EventServiceBlockingStub events;
  Puller puller;
  Pusher pusher;
  RegistryClient registries;
  PortReservations ports;
  /** Calls open at n2's event API. */
  final java.util.concurrent.atomic.AtomicInteger n2Calls = new java.util.concurrent.atomic.AtomicInteger();
  final String n1Name = InProcessServerBuilder.generateName();
  final String n2Name = InProcessServerBuilder.generateName();

  @BeforeEach
  void start() throws Exception {
    syscalls = new RecordingSyscalls();
    Path cgroupRoot = Files.createDirectories(tmp.resolve("cgroup"));
    Files.writeString(cgroupRoot.resolve("cgroup.controllers"), "cpuset cpu io memory pids\n");
    Files.writeString(cgroupRoot.resolve("cgroup.subtree_control"), "");
    Path launcher = tmp.resolve("launcher");
    // "Started": the shell's own pid as shim and container; it is gone a moment later, with no exit file.
    Files.writeString(launcher, "#!/bin/sh\necho \"ok $$ $$\"\n");
    Files.setPosixFilePermissions(launcher, PosixFilePermissions.fromString("rwx------"));
    data = Files.createDirectories(tmp.resolve("data"));
    Cgroups cgroups = Cgroups.detect(cgroupRoot, syscalls);
    store = new ImageStore(data.resolve("images"), syscalls, LayerLimits.DEFAULT);
    n1Log = new EventLog(data.resolve("events"), "n1", EventLog.Settings.DEFAULT, Clock.systemUTC());
    n2Log = new EventLog(tmp.resolve("n2-events"), "n2", EventLog.Settings.DEFAULT, Clock.systemUTC());
    ImageEvents imageEvents = new ImageEvents("n1", n1Log);
    registries = new RegistryClient(Set.of());
    puller = new Puller(registries, store, imageEvents);
    pusher = new Pusher(registries, store);
    ports = new PortReservations();
    NetworkManager networks = new NetworkManager(new NetworkStore(data.resolve("networks"), "bt-test",
        new NetworkStore.DefaultBridge("", Subnet.parse("172.17.0.0/16")), () -> new RouteTable(List.of())),
        new RecordingNetworkDriver(), new RecordingFirewall(), ports, "bt-test");
    Duration backoff = Duration.ofMillis(20);
    supervisor = new Supervisor(new Backoff.Settings(backoff, backoff.multipliedBy(4), Duration.ofSeconds(10)),
        Clock.systemUTC());
    recorder = new ContainerRecorder("n1", n1Log);
    supervisor.addHealthListener(recorder);
    runtime = new ContainerRuntime(new ContainerRuntime.Settings(data, "bt-test", launcher, 1 << 20, 2), syscalls, cgroups,
        store, new dev.berth.agent.runtime.VolumeStore(data.resolve("volumes")), networks,
        Listeners.all(ContainerEvents.class, supervisor, recorder));
    supervisor.bind(runtime);
    networks.start();

    registry = TestClusterViews.registry();
    members = new TestClusterViews.Members();
    registry.register("n1", "127.0.0.1:7946", n1Name, Role.SERVER, 1);
    ContainerForwarder.Channels dial = (node, address) -> track(InProcessChannelBuilder.forName(address).build());
    servers.add(InProcessServerBuilder.forName(n1Name)
        .addService(ServerInterceptors.intercept(new ContainerGrpcService(runtime, supervisor), new ErrorInterceptor()))
        .addService(ServerInterceptors.intercept(new dev.berth.agent.api.ImageGrpcService(store, runtime,
            data.resolve("tmp"), puller, pusher, registries, imageEvents), new ErrorInterceptor()))
        .addService(ServerInterceptors.intercept(new EventGrpcService(n1Log, new EventPeers("n1", registry, members, dial),
            EventStream.forAgent("n1")), new ErrorInterceptor(), new ForwardedCallInterceptor("n1")))
        .build().start());
    // n2: another agent's event API, answering forwarded calls with its own events.
    servers.add(InProcessServerBuilder.forName(n2Name)
        .addService(ServerInterceptors.intercept(new EventGrpcService(n2Log,
            new EventPeers("n2", registry, members, dial), EventStream.forAgent("n2")),
            new ErrorInterceptor(), new ForwardedCallInterceptor("n2"), new CountingInterceptor(n2Calls)))
        .build().start());
    n1 = track(InProcessChannelBuilder.forName(n1Name).build());
    containers = ContainerServiceGrpc.newBlockingStub(n1);
    events = EventServiceGrpc.newBlockingStub(n1);
    AgentProcess.importTar(n1, "busybox", BusyboxImage.tar());
  }

  /** Counts the calls in progress: up when one starts, down when it completes or is cancelled. */
  private static final class CountingInterceptor implements io.grpc.ServerInterceptor {
    private final java.util.concurrent.atomic.AtomicInteger open;

    CountingInterceptor(java.util.concurrent.atomic.AtomicInteger open) {
      this.open = open;
    }

    @Override
    public <Q, R> io.grpc.ServerCall.Listener<Q> interceptCall(io.grpc.ServerCall<Q, R> call, Metadata headers,
        io.grpc.ServerCallHandler<Q, R> next) {
      open.incrementAndGet();
      return new io.grpc.ForwardingServerCallListener.SimpleForwardingServerCallListener<>(next.startCall(call, headers)) {
        @Override
        public void onComplete() {
          open.decrementAndGet();
          super.onComplete();
        }

        @Override
        public void onCancel() {
          open.decrementAndGet();
          super.onCancel();
        }
      };
    }
  }

  private ManagedChannel track(ManagedChannel c) {
    synchronized (channels) {
      channels.add(c);
    }
    return c;
  }

  @AfterEach
  void stop() throws Exception {
    synchronized (channels) {
      channels.forEach(ManagedChannel::shutdownNow);
    }
    servers.forEach(Server::shutdownNow);
    supervisor.close();
    runtime.close();
    n1Log.close();
    n2Log.close();
    ports.close();
    puller.close();
    pusher.close();
    registries.close();
  }

  private static long nanos(Instant t) {
    return t.getEpochSecond() * 1_000_000_000L + t.getNano();
  }

  private static long now() {
    return nanos(Instant.now());
  }

  /** A live stream, collected on the side; cancelled at the end of the test with the channel. */
  private BlockingQueue<Event> follow(EventsRequest req) {
    BlockingQueue<Event> q = new LinkedBlockingQueue<>();
    EventServiceGrpc.newStub(n1).stream(req, new StreamObserver<>() {
      @Override
      public void onNext(Event e) {
        q.add(e);
      }

      @Override
      public void onError(Throwable t) {}

      @Override
      public void onCompleted() {}
    });
    return q;
  }

  /** Events from the queue until one matches {@code last}. */
  private static List<Event> until(BlockingQueue<Event> q, Predicate<Event> last) throws InterruptedException {
    List<Event> got = new ArrayList<>();
    while (true) {
      Event e = q.poll(20, TimeUnit.SECONDS);
      if (e == null) {
        throw new AssertionError("timed out; got " + got);
      }
      got.add(e);
      if (last.test(e)) {
        return got;
      }
    }
  }

  private static List<Event> all(Iterator<Event> it) {
    List<Event> got = new ArrayList<>();
    it.forEachRemaining(got::add);
    return got;
  }

  private static List<String> actions(List<Event> events) {
    return events.stream().map(e -> e.getType() + " " + e.getAction()).toList();
  }

  private Container runOnce(String name) throws InterruptedException {
    Container c = containers.create(CreateContainerRequest.newBuilder().setSpec(ContainerSpec.newBuilder()
        .setImage("busybox").setName(name).setNetworkMode("none")).build());
    containers.start(ContainerRef.newBuilder().setId(c.getId()).build());
    long deadline = System.nanoTime() + 20_000_000_000L;
    // The exit is recorded as an event just after the state says so: wait for the event.
    EventsRequest die = EventsRequest.newBuilder().addFilters(EventFilter.newBuilder().setKey("container").setValue(c.getId()))
        .addFilters(EventFilter.newBuilder().setKey("event").setValue("die")).build();
    while (all(events.stream(die.toBuilder().setUntilUnixNanos(now()).build())).isEmpty()) {
      assertTrue(System.nanoTime() < deadline, "the run did not end");
      Thread.sleep(10);
    }
    return c;
  }

  @Test
  void aContainersLifeStreamsLiveInOrderAndASinceReplaysIt() throws Exception {
    long before = now();
    BlockingQueue<Event> live = follow(EventsRequest.newBuilder()
        .addFilters(EventFilter.newBuilder().setKey("type").setValue("container")).build());
    Thread.sleep(300);  // the stream is open
    Container c = runOnce("web");
    containers.remove(RemoveContainerRequest.newBuilder().setId(c.getId()).build());

    List<Event> got = until(live, e -> e.getAction().equals("destroy"));
    assertEquals(List.of("container create", "container start", "container die", "container destroy"), actions(got));
    for (Event e : got) {
      assertEquals(c.getId(), e.getActor().getId());
      assertEquals("web", e.getActor().getName());
      assertEquals("busybox", e.getAttributesMap().get("image"));
      assertEquals("n1", e.getNode());
      assertEquals("n1", e.getSource());
      assertFalse(e.getProgress(), "a client gets no progress marks unless it asks");
    }
    assertEquals("-1", got.get(2).getAttributesMap().get("exitCode"), "an exit nobody saw");
    for (int i = 1; i < got.size(); i++) {
      assertTrue(got.get(i).getSequence() > got.get(i - 1).getSequence());
      assertTrue(got.get(i).getTimeUnixNanos() > got.get(i - 1).getTimeUnixNanos());
    }

    // From a time, up to now: the same events, and the stream ends.
    List<Event> replay = all(events.stream(EventsRequest.newBuilder().setSinceUnixNanos(before).setUntilUnixNanos(now())
        .addFilters(EventFilter.newBuilder().setKey("container").setValue("web")).build()));
    assertEquals(got, replay);
  }

  @Test
  void aSinceStreamGoesOnLiveAfterTheHistory() throws Exception {
    long before = now();
    runOnce("first");
    BlockingQueue<Event> q = follow(EventsRequest.newBuilder().setSinceUnixNanos(before)
        .addFilters(EventFilter.newBuilder().setKey("event").setValue("die")).build());
    assertEquals("first", until(q, e -> true).get(0).getActor().getName());
    runOnce("second");
    Event second = until(q, e -> true).get(0);
    assertEquals("second", second.getActor().getName());
    assertEquals("die", second.getAction());
  }

  @Test
  void aRestartByThePolicyIsARestartThenAStart() throws Exception {
    long before = now();
    Container c = containers.create(CreateContainerRequest.newBuilder().setSpec(ContainerSpec.newBuilder()
        .setImage("busybox").setName("looper").setNetworkMode("none")
        .setRestartPolicy(RestartPolicy.newBuilder().setName("on-failure").setMaxRetries(1))).build());
    containers.start(ContainerRef.newBuilder().setId(c.getId()).build());
    BlockingQueue<Event> q = follow(EventsRequest.newBuilder().setSinceUnixNanos(before)
        .addFilters(EventFilter.newBuilder().setKey("container").setValue("looper")).build());
    int[] dies = {0};
    List<Event> got = until(q, e -> e.getAction().equals("die") && ++dies[0] == 2);
    assertEquals(List.of("container create", "container start", "container die", "container restart",
        "container start", "container die"), actions(got));
    assertEquals("1", got.get(3).getAttributesMap().get("restartCount"));
    containers.stop(StopContainerRequest.newBuilder().setId(c.getId()).build());
  }

  @Test
  void oomDieAndHealthAreRecordedAsDockerNamesThem() throws Exception {
    long before = now();
    Container c = runOnce("db");
    ContainerView v = runtime.inspect(c.getId());
    ContainerView oom = new ContainerView(v.config(), v.state().exited(137, true, false, "", Instant.now()), v.rootfs(),
        v.cgroupPath(), v.logPath(), null);
    recorder.exited(oom);
    recorder.healthChanged(c.getId(), null, HealthState.starting());
    recorder.healthChanged(c.getId(), HealthState.starting(),
        new HealthState(HealthState.Status.UNHEALTHY, 3, List.of()));
    List<Event> got = all(events.stream(EventsRequest.newBuilder().setSinceUnixNanos(before).setUntilUnixNanos(now())
        .addFilters(EventFilter.newBuilder().setKey("container").setValue("db")).build()));
    assertEquals(List.of("container create", "container start", "container die", "container oom", "container die",
        "container health_status: unhealthy"), actions(got));
    assertEquals("137", got.get(4).getAttributesMap().get("exitCode"));
    assertEquals("db", got.get(5).getActor().getName());
  }

  @Test
  void imageEventsComeFromTheImageApi() {
    List<Event> got = all(events.stream(EventsRequest.newBuilder().setUntilUnixNanos(now())
        .addFilters(EventFilter.newBuilder().setKey("type").setValue("image")).build()));
    assertEquals(List.of("image import"), actions(got));
    assertEquals("busybox:latest", got.get(0).getActor().getName());
    assertTrue(got.get(0).getActor().getId().startsWith("sha256:"));
  }

  @Test
  void theClusterStreamMergesEveryNodeByTimeAndWarnsOnceOfThoseLeftOut() throws Exception {
    registry.register("n2", "127.0.0.2:7946", n2Name, Role.MEMBER, 1);
    registry.register("n3", "127.0.0.3:7946", "no-such-agent-" + System.nanoTime(), Role.MEMBER, 1);
    registry.register("n4", "127.0.0.4:7946", "", Role.MEMBER, 1);
    registry.register("n5", "127.0.0.5:7946", "gone", Role.MEMBER, 1);
    members.set("n5", MemberState.DOWN);
    long before = now();
    // Interleaved in time across the two logs.
    for (int i = 0; i < 3; i++) {
      n1Log.append(dev.berth.agent.events.Event.of("job", "registered", "a" + i, "a" + i, "n1", Map.of()));
      Thread.sleep(2);
      n2Log.append(dev.berth.agent.events.Event.of("job", "registered", "b" + i, "b" + i, "n2", Map.of()));
      Thread.sleep(2);
    }
    List<Event> got = all(events.stream(EventsRequest.newBuilder().setSinceUnixNanos(before).setUntilUnixNanos(now())
        .addFilters(EventFilter.newBuilder().setKey("type").setValue("job")).build()));
    List<String> names = got.stream().filter(e -> !e.getType().equals("warning")).map(e -> e.getActor().getName()).toList();
    assertEquals(List.of("a0", "b0", "a1", "b1", "a2", "b2"), names);
    List<Event> warnings = got.stream().filter(e -> e.getType().equals("warning")).toList();
    assertEquals(List.of("n3", "n4", "n5"), warnings.stream().map(Event::getNode).sorted().toList());
    for (Event w : warnings) {
      assertEquals("n1", w.getSource());
      String m = w.getAttributesMap().get("message");
      switch (w.getNode()) {
        case "n3" -> assertTrue(m.contains("node n3 at no-such-agent-") && m.contains("cannot be reached"), m);
        case "n4" -> assertTrue(m.contains("serves no API over TCP"), m);
        default -> assertTrue(m.contains("node n5 is down"), m);
      }
    }

    // Live: n2's event, then n1's, in the order they happened; n3 is reported once.
    BlockingQueue<Event> q = follow(EventsRequest.newBuilder()
        .addFilters(EventFilter.newBuilder().setKey("type").setValue("job")).build());
    Thread.sleep(500);
    n2Log.append(dev.berth.agent.events.Event.of("job", "registered", "b9", "b9", "n2", Map.of()));
    Thread.sleep(2);
    n1Log.append(dev.berth.agent.events.Event.of("job", "registered", "a9", "a9", "n1", Map.of()));
    List<Event> live = until(q, e -> e.getActor().getName().equals("a9"));
    assertEquals(List.of("b9", "a9"), live.stream().filter(e -> !e.getType().equals("warning"))
        .map(e -> e.getActor().getName()).toList());
    assertEquals(3, live.stream().filter(e -> e.getType().equals("warning")).count(), live.toString());
  }

  @Test
  void aForwardedCallIsAnsweredWithThisNodesEventsAndProgressMarks() throws Exception {
    registry.register("n2", "127.0.0.2:7946", n2Name, Role.MEMBER, 1);
    long before = now();
    n1Log.append(dev.berth.agent.events.Event.of("job", "registered", "a", "a", "n1", Map.of()));
    n2Log.append(dev.berth.agent.events.Event.of("job", "registered", "b", "b", "n2", Map.of()));
    Metadata headers = new Metadata();
    headers.put(ContainerForwarder.FORWARDED_BY, "n2");
    headers.put(ContainerForwarder.FORWARDED_TO, "n1");
    long until = now() + Duration.ofMillis(600).toNanos();
    List<Event> got = all(events.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers))
        .stream(EventsRequest.newBuilder().setSinceUnixNanos(before).setUntilUnixNanos(until).setProgress(true).build()));
    List<Event> real = got.stream().filter(e -> !e.getProgress()).toList();
    assertEquals(List.of("a"), real.stream().map(e -> e.getActor().getName()).toList());
    List<Event> marks = got.stream().filter(Event::getProgress).toList();
    assertTrue(marks.size() >= 2, "marks while it waits for until: " + got);
    for (int i = 1; i < marks.size(); i++) {
      assertTrue(marks.get(i).getTimeUnixNanos() > marks.get(i - 1).getTimeUnixNanos());
    }
    assertTrue(marks.get(marks.size() - 1).getTimeUnixNanos() <= until);
    assertTrue(now() >= until, "a stream up to a time to come ends when it comes");
  }

  @Test
  void badRequestsAreRefused() {
    StatusRuntimeException filter = assertThrows(StatusRuntimeException.class, () -> all(events.stream(
        EventsRequest.newBuilder().addFilters(EventFilter.newBuilder().setKey("colour").setValue("red")).build())));
    assertEquals(Status.Code.INVALID_ARGUMENT, filter.getStatus().getCode());
    StatusRuntimeException order = assertThrows(StatusRuntimeException.class, () -> all(events.stream(
        EventsRequest.newBuilder().setSinceUnixNanos(2000).setUntilUnixNanos(1000).build())));
    assertEquals(Status.Code.INVALID_ARGUMENT, order.getStatus().getCode());
    assertEquals("until (1000) is before since (2000)", order.getStatus().getDescription());
  }

  @Test
  void cancellingTheCallCancelsTheOtherNodesStreamsToo() throws Exception {
    registry.register("n2", "127.0.0.2:7946", n2Name, Role.MEMBER, 1);
    io.grpc.Context.CancellableContext ctx = io.grpc.Context.current().withCancellation();
    CompletableFuture<Throwable> ended = new CompletableFuture<>();
    ctx.run(() -> EventServiceGrpc.newStub(n1).stream(EventsRequest.getDefaultInstance(), new StreamObserver<>() {
      @Override
      public void onNext(Event e) {}

      @Override
      public void onError(Throwable t) {
        ended.complete(t);
      }

      @Override
      public void onCompleted() {
        ended.complete(null);
      }
    }));
    awaitOpenAtN2(1);
    ctx.cancel(null);
    assertEquals(Status.Code.CANCELLED, Status.fromThrowable(ended.get(5, TimeUnit.SECONDS)).getCode());
    awaitOpenAtN2(0);
  }

  private void awaitOpenAtN2(int calls) throws InterruptedException {
    long deadline = System.nanoTime() + 5_000_000_000L;
    while (n2Calls.get() != calls) {
      assertTrue(System.nanoTime() < deadline, "calls open at n2: " + n2Calls.get() + ", not " + calls);
      Thread.sleep(10);
    }
  }
}
