package dev.berth.agent.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.cluster.NodeFacts;
import dev.berth.agent.cluster.NodeRegistry;
import dev.berth.agent.cluster.Role;
import dev.berth.agent.cluster.TestClusterViews;
import dev.berth.agent.image.ImageStore;
import dev.berth.agent.image.LayerLimits;
import dev.berth.agent.it.AgentProcess;
import dev.berth.agent.it.Attached;
import dev.berth.agent.it.BusyboxImage;
import dev.berth.agent.registry.Puller;
import dev.berth.agent.registry.Pusher;
import dev.berth.agent.registry.RegistryClient;
import dev.berth.agent.runtime.ContainerRuntime;
import dev.berth.agent.runtime.RecordingSyscalls;
import dev.berth.agent.runtime.VolumeStore;
import dev.berth.agent.runtime.cgroup.Cgroups;
import dev.berth.agent.runtime.net.NetworkManager;
import dev.berth.agent.runtime.net.NetworkStore;
import dev.berth.agent.runtime.net.PortReservations;
import dev.berth.agent.runtime.net.RecordingFirewall;
import dev.berth.agent.runtime.net.RecordingNetworkDriver;
import dev.berth.agent.runtime.net.RouteTable;
import dev.berth.agent.runtime.net.Subnet;
import dev.berth.agent.task.Supervision;
import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerRef;
import dev.berth.proto.v1.ContainerServiceGrpc;
import dev.berth.proto.v1.ContainerSpec;
import dev.berth.proto.v1.ContainerStatsRequest;
import dev.berth.proto.v1.ContainerStatus;
import dev.berth.proto.v1.ContainerTopRequest;
import dev.berth.proto.v1.CreateContainerRequest;
import dev.berth.proto.v1.ExecSpec;
import dev.berth.proto.v1.ExitStatus;
import dev.berth.proto.v1.KillContainerRequest;
import dev.berth.proto.v1.ListContainersRequest;
import dev.berth.proto.v1.LogEntry;
import dev.berth.proto.v1.LogsRequest;
import dev.berth.proto.v1.RemoveContainerRequest;
import dev.berth.proto.v1.StopContainerRequest;
import dev.berth.proto.v1.SystemServiceGrpc;
import dev.berth.proto.v1.WaitResponse;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.MetadataUtils;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two agents in one JVM, each with its real container service, runtime and image store (below
 * them the recording syscalls and a launcher that reports a missing command), its API on an
 * in-process server registered as its API address, and the cluster's views in memory. A request
 * to agent a about b's container is answered by b, through a: unary calls, the logs stream,
 * attach and exec; a forwarded request is never forwarded again.
 */
@Timeout(60)
class ForwardingInProcessTest {
  @TempDir
  Path tmp;
  private final NodeRegistry registry = TestClusterViews.registry();
  private final TestClusterViews.Gossip gossip = new TestClusterViews.Gossip();
  private final TestClusterViews.Members members = new TestClusterViews.Members();
  private final List<AutoCloseable> closing = new ArrayList<>();
  private InProcessAgent a;
  private InProcessAgent b;

  @BeforeEach
  void start() throws Exception {
    a = new InProcessAgent("a");
    b = new InProcessAgent("b");
  }

  @AfterEach
  void stop() throws Exception {
    Exception first = null;
    for (int i = closing.size() - 1; i >= 0; i--) {
      try {
        closing.get(i).close();
      } catch (Exception e) {
        first = first == null ? e : first;
      }
    }
    if (first != null) {
      throw first;
    }
  }

  /** One agent: a runtime over its own data dir and the services that serve it, in process. */
  private final class InProcessAgent {
    final String node;
    final Path data;
    final ContainerRuntime runtime;
    final ContainerForwarder forwarder;
    final String address = InProcessServerBuilder.generateName();
    final ManagedChannel channel;
    /** Every call this agent served: "forwarded by X" or "direct", with its method. */
    final List<String> served = new CopyOnWriteArrayList<>();

    InProcessAgent(String node) throws Exception {
      this.node = node;
      RecordingSyscalls syscalls = new RecordingSyscalls();
      Path root = Files.createDirectories(tmp.resolve(node));
      Path cgroupRoot = Files.createDirectories(root.resolve("cgroup"));
      Files.writeString(cgroupRoot.resolve("cgroup.controllers"), "cpuset cpu io memory pids\n");
      Files.writeString(cgroupRoot.resolve("cgroup.subtree_control"), "");
      Path launcher = root.resolve("launcher");
      Files.writeString(launcher, "#!/bin/sh\necho 'failed 127 exec: \"nope\": executable file not found in $PATH'\nexit 1\n");
      Files.setPosixFilePermissions(launcher, PosixFilePermissions.fromString("rwx------"));
      data = Files.createDirectories(root.resolve("data"));
      Cgroups cgroups = Cgroups.detect(cgroupRoot, syscalls);
      ImageStore images = new ImageStore(data.resolve("images"), syscalls, LayerLimits.DEFAULT);
      RegistryClient registries = new RegistryClient(Set.of());
      Puller puller = new Puller(registries, images);
      Pusher pusher = new Pusher(registries, images);
      closing.addAll(List.of(registries, puller, pusher));
      PortReservations ports = new PortReservations();
      closing.add(ports);
      NetworkManager networks = new NetworkManager(new NetworkStore(data.resolve("networks"), "bt-" + node,
          new NetworkStore.DefaultBridge("", Subnet.parse("172.17.0.0/16")), () -> new RouteTable(List.of())),
          new RecordingNetworkDriver(), new RecordingFirewall(), ports, "bt-" + node);
      VolumeStore volumes = new VolumeStore(data.resolve("volumes"));
      runtime = new ContainerRuntime(new ContainerRuntime.Settings(data, "bt-" + node, launcher, 1 << 20, 2), syscalls,
          cgroups, images, volumes, networks);
      closing.add(runtime);
      networks.start();
      forwarder = new ContainerForwarder(node, registry, gossip, members,
          (to, address) -> InProcessChannelBuilder.forName(address).build());
      closing.add(forwarder);
      ServerInterceptor record = new ServerInterceptor() {
        @Override
        public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
            ServerCallHandler<Q, R> next) {
          String by = headers.get(ContainerForwarder.FORWARDED_BY);
          served.add((by == null ? "direct " : "forwarded by " + by + " ") + call.getMethodDescriptor().getBareMethodName());
          return next.startCall(call, headers);
        }
      };
      Server server = InProcessServerBuilder.forName(address)
          .addService(ServerInterceptors.intercept(new ContainerGrpcService(runtime, Supervision.NONE, node, forwarder),
              new ErrorInterceptor(), new ForwardedCallInterceptor(node), record))
          .addService(ServerInterceptors.intercept(SystemGrpcService.withLiveViews(runtime, images, cgroups, "test", node, data,
              "bt-" + node, volumes).forwarding(forwarder), new ErrorInterceptor(), new ForwardedCallInterceptor(node), record))
          .addService(ServerInterceptors.intercept(new ImageGrpcService(images, runtime, data.resolve("tmp"), puller, pusher,
              registries), new ErrorInterceptor()))
          .build().start();
      closing.add(() -> {
        server.shutdownNow();
        server.awaitTermination(5, TimeUnit.SECONDS);
      });
      channel = InProcessChannelBuilder.forName(address).build();
      closing.add(() -> {
        channel.shutdownNow();
        channel.awaitTermination(5, TimeUnit.SECONDS);
      });
      registry.register(node, "127.0.0.1:7946", address, Role.SERVER, 1);
      AgentProcess.importTar(channel, "busybox", BusyboxImage.tar());
      publish();
    }

    ContainerServiceGrpc.ContainerServiceBlockingStub containers() {
      return ContainerServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    SystemServiceGrpc.SystemServiceBlockingStub system() {
      return SystemServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    Container create(String name) {
      Container c = containers().create(CreateContainerRequest.newBuilder()
          .setSpec(ContainerSpec.newBuilder().setImage("busybox").setName(name).addCmd("nope")).build());
      publish();
      return c;
    }

    /** What the agent would gossip now ({@code LocalFacts}' container list). */
    void publish() {
      gossip.put(node, runtime.list(true).stream().map(v -> new NodeFacts.ContainerFact(v.id(), v.config().name(),
          v.config().image(), v.state().status().name().toLowerCase(Locale.ROOT))).toList());
    }
  }

  private static ContainerRef ref(String id) {
    return ContainerRef.newBuilder().setId(id).build();
  }

  private static void assertStatus(Status.Code code, String text, Runnable call) {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call::run);
    assertEquals(code, e.getStatus().getCode(), e.getStatus().toString());
    assertTrue(e.getStatus().getDescription().contains(text), e.getStatus().getDescription());
  }

  @Test
  void unaryRequestsAboutAnotherNodesContainerAreAnsweredByIt() {
    Container web = b.create("web");
    assertEquals("b", web.getNode());
    Container seen = a.containers().inspect(ref("web"));
    assertEquals(web.getId(), seen.getId());
    assertEquals("b", seen.getNode());
    assertEquals(web.getId(), a.containers().inspect(ref(web.getId().substring(0, 7))).getId(), "by id prefix");
    assertEquals(List.of("direct Inspect", "direct Inspect"), a.served);
    assertEquals(List.of("direct Create", "forwarded by a Inspect", "forwarded by a Inspect"), b.served);

    // Errors come back as b gave them.
    assertStatus(Status.Code.FAILED_PRECONDITION, "Container web is not running",
        () -> a.containers().kill(KillContainerRequest.newBuilder().setId("web").build()));
    Container stopped = a.containers().stop(StopContainerRequest.newBuilder().setId("web").build());
    assertEquals(ContainerStatus.CREATED, stopped.getStatus());
    WaitResponse w = a.containers().wait(ref("web"));
    assertEquals(0, w.getExitCode());
    assertStatus(Status.Code.FAILED_PRECONDITION, "executable file not found", () -> a.containers().start(ref("web")));
    assertEquals(ContainerStatus.EXITED, a.containers().inspect(ref("web")).getStatus());
    assertEquals(127, a.containers().wait(ref("web")).getExitCode());

    assertEquals(web.getId(), a.containers().remove(RemoveContainerRequest.newBuilder().setId("web").build()).getId());
    assertTrue(b.runtime.list(true).isEmpty(), "removed on b");
    b.publish();
    assertStatus(Status.Code.NOT_FOUND, "No such container: web", () -> a.containers().inspect(ref("web")));
  }

  @Test
  void aContainerOfThisNodeIsServedHereAndNamesItsNode() {
    Container mine = a.create("web");
    b.create("web");
    assertEquals("a", a.containers().inspect(ref("web")).getNode(), "this node's container wins over a namesake elsewhere");
    assertEquals(mine.getId(), a.containers().inspect(ref("web")).getId());
    assertTrue(b.served.stream().noneMatch(s -> s.startsWith("forwarded")), b.served.toString());
    assertStatus(Status.Code.NOT_FOUND, "No such container: nope", () -> a.containers().inspect(ref("nope")));
  }

  @Test
  void theLogsStreamIsRelayedInFull() throws Exception {
    Container web = b.create("web");
    StringBuilder log = new StringBuilder();
    int lines = 5_000;
    for (int i = 0; i < lines; i++) {
      log.append("{\"log\":\"line ").append(i).append("\\n\",\"stream\":\"").append(i % 2 == 0 ? "stdout" : "stderr")
          .append("\",\"time\":\"2026-01-02T03:04:05.").append(String.format("%09d", i)).append("Z\"}\n");
    }
    Files.writeString(b.data.resolve("containers").resolve(web.getId().substring(0, 12)).resolve("container.log"), log);
    Iterator<LogEntry> it = a.containers().logs(LogsRequest.newBuilder().setId("web").setTail(-1).setFollow(true).build());
    int n = 0;
    while (it.hasNext()) {
      LogEntry e = it.next();
      assertEquals("line " + n + "\n", e.getData().toString(StandardCharsets.UTF_8));
      n++;
    }
    assertEquals(lines, n, "the follow ends with the stopped container's last line");
    assertEquals(List.of("line 4998\n", "line 4999\n"), toList(a.containers()
        .logs(LogsRequest.newBuilder().setId(web.getId().substring(0, 5)).setTail(2).build())));
    assertStatus(Status.Code.NOT_FOUND, "No such container: nope",
        () -> a.containers().logs(LogsRequest.newBuilder().setId("nope").setTail(-1).build()).hasNext());
  }

  private static List<String> toList(Iterator<LogEntry> it) {
    List<String> out = new ArrayList<>();
    it.forEachRemaining(e -> out.add(e.getData().toString(StandardCharsets.UTF_8)));
    return out;
  }

  @Test
  void attachAndExecAreRelayedBothWays() throws Exception {
    b.create("web");
    // The open message goes to b, which starts the container; its exit comes back through a.
    Attached run = Attached.start(ContainerServiceGrpc.newStub(a.channel), "web");
    ExitStatus s = run.await();
    assertEquals(127, s.getExitCode());
    assertTrue(s.getError().contains("executable file not found"), s.getError());
    assertTrue(b.served.contains("forwarded by a Attach"), b.served.toString());

    Attached exec = Attached.exec(ContainerServiceGrpc.newStub(a.channel),
        ExecSpec.newBuilder().setContainerId("web").addCmd("true").build());
    StatusRuntimeException e = (StatusRuntimeException) assertThrows(ExecutionException.class, exec::await).getCause();
    assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode(), "b's own answer: " + e.getStatus());
    assertEquals("Container web is not running", e.getStatus().getDescription());
    assertTrue(b.served.contains("forwarded by a Exec"), b.served.toString());

    Attached none = Attached.exec(ContainerServiceGrpc.newStub(a.channel),
        ExecSpec.newBuilder().setContainerId("nope").addCmd("true").build());
    StatusRuntimeException missing = (StatusRuntimeException) assertThrows(ExecutionException.class, none::await).getCause();
    assertEquals(Status.Code.NOT_FOUND, missing.getStatus().getCode());
    assertEquals("No such container: nope", missing.getStatus().getDescription());
  }

  @Test
  void statsAndTopOfAnotherNodesContainerAreAnsweredByIt() {
    b.create("web");
    a.create("db");
    assertStatus(Status.Code.FAILED_PRECONDITION, "Container web is not running",
        () -> a.system().containerTop(ContainerTopRequest.newBuilder().setId("web").build()));
    assertEquals("web", a.system().containerStats(ContainerStatsRequest.newBuilder().addIds("web").build())
        .getStats(0).getName());
    assertTrue(b.served.contains("forwarded by a ContainerStats"), b.served.toString());
    assertStatus(Status.Code.FAILED_PRECONDITION, "web on node b, db on node a (this node)",
        () -> a.system().containerStats(ContainerStatsRequest.newBuilder().addIds("web").addIds("db").build()));
  }

  @Test
  void aForwardedRequestIsNeverForwardedAgain() {
    // Gossip that contradicts itself: each node says the other has "ghost"; neither has it.
    gossip.put("a", List.of(new NodeFacts.ContainerFact("ab".repeat(32), "ghost", "busybox", "running")));
    gossip.put("b", List.of(new NodeFacts.ContainerFact("ba".repeat(32), "ghost", "busybox", "running")));
    assertStatus(Status.Code.NOT_FOUND, "No such container: ghost", () -> a.containers().inspect(ref("ghost")));
    assertEquals(List.of("direct Inspect"), a.served, "never back to a");
    assertEquals(List.of("forwarded by a Inspect"), b.served, "b answered from its own containers");

    // A call that says it was forwarded is answered here, whatever gossip says.
    a.create("web");
    Metadata h = new Metadata();
    h.put(ContainerForwarder.FORWARDED_BY, "c");
    assertStatus(Status.Code.NOT_FOUND, "No such container: web", () -> b.containers()
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(h)).inspect(ref("web")));
    // ... and refused when it was meant for another node.
    h.put(ContainerForwarder.FORWARDED_TO, "a");
    assertStatus(Status.Code.FAILED_PRECONDITION, "this agent is node b", () -> b.containers()
        .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(h)).inspect(ref("web")));
  }

  @Test
  void aNodeThatCannotBeReachedIsNamed() {
    registry.register("c", "10.0.0.3:7946", "no-such-server-" + System.nanoTime(), Role.MEMBER, 1);
    gossip.put("c", List.of(new NodeFacts.ContainerFact("c".repeat(64), "api", "busybox", "running")));
    assertStatus(Status.Code.UNAVAILABLE, "container api is on node c, whose agent at no-such-server-",
        () -> a.containers().inspect(ref("api")));
    registry.register("c", "10.0.0.3:7946", "", Role.MEMBER, 1);
    assertStatus(Status.Code.FAILED_PRECONDITION, "start berthd on c with --tcp", () -> a.containers().inspect(ref("api")));
  }

  @Test
  void listingAllNodesAddsTheOthersGossipedContainers() {
    a.create("db");
    b.create("web");
    List<Container> here = a.containers().list(ListContainersRequest.newBuilder().setAll(true).build()).getContainersList();
    assertEquals(List.of("a/db"), here.stream().map(c -> c.getNode() + "/" + c.getName()).toList());
    List<Container> all = a.containers().list(ListContainersRequest.newBuilder().setAll(true).setAllNodes(true).build())
        .getContainersList();
    assertEquals(List.of("a/db", "b/web"), all.stream().map(c -> c.getNode() + "/" + c.getName()).toList());
    assertEquals(ContainerStatus.CREATED, all.get(1).getStatus());
    assertTrue(a.containers().list(ListContainersRequest.newBuilder().setAllNodes(true).build()).getContainersList().isEmpty(),
        "running only without --all");
  }
}
