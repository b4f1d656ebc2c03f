package dev.berth.agent.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.protobuf.ByteString;
import dev.berth.agent.it.AgentProcess;
import dev.berth.agent.it.Attached;
import dev.berth.agent.it.Linux;
import dev.berth.agent.tls.TestPki;
import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerRef;
import dev.berth.proto.v1.ContainerServiceGrpc;
import dev.berth.proto.v1.ContainerSpec;
import dev.berth.proto.v1.ContainerStatus;
import dev.berth.proto.v1.CreateContainerRequest;
import dev.berth.proto.v1.ExecInput;
import dev.berth.proto.v1.ExecSpec;
import dev.berth.proto.v1.ExitStatus;
import dev.berth.proto.v1.ListContainersRequest;
import dev.berth.proto.v1.ListNodesRequest;
import dev.berth.proto.v1.LogEntry;
import dev.berth.proto.v1.LogsRequest;
import dev.berth.proto.v1.Node;
import dev.berth.proto.v1.NodeServiceGrpc;
import dev.berth.proto.v1.NodeStatus;
import dev.berth.proto.v1.RemoveContainerRequest;
import dev.berth.proto.v1.StopContainerRequest;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * Two real berthd processes on 127.0.0.1, a one-server cluster "a" and a member "b", both over
 * mutual TLS and both serving their API on TCP: the CLI's requests to a about containers that live
 * on b — ps of every node, inspect, logs (also followed), exec with stdin, stop, rm — are answered
 * by b, through a, over a's node certificate. The class reuses one cluster, in order; the last
 * test kills b.
 */
@Tag("cluster")
@Timeout(120)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ForwardingLinuxTest {
  /** A one-server cluster measured 0.8-2 s to start, a joining member a few more; room for a busy host. */
  private static final long START_SECONDS = 60;
  private Path pkiDir;
  private AgentProcess a;
  private AgentProcess b;
  private final List<AgentProcess> all = new ArrayList<>();
  private Container web;

  @BeforeAll
  @Timeout(300) // a cluster's start-up, slower on a machine busy with other tests
  void startCluster() throws Exception {
    assumeTrue(Linux.isRoot(), "berthd needs root (cgroups, mounts)");
    pkiDir = Files.createTempDirectory("berth-fwd");
    TestPki pki = new TestPki(pkiDir, "cluster-ca");
    List<Integer> ports = new ArrayList<>();
    while (ports.size() < 4) {
      int p = AgentProcess.freeClusterPort();
      if (!ports.contains(p)) {
        ports.add(p);
      }
    }
    a = AgentProcess.create(ports.get(0), with(TestPki.flags(pki.node("a")), "--cluster", "fwd", "--node", "a",
        "--tcp", "127.0.0.1:" + ports.get(2)));
    all.add(a);
    b = AgentProcess.create(ports.get(1), with(TestPki.flags(pki.node("b")), "--cluster", "fwd", "--node", "b",
        "--join", "127.0.0.1:" + ports.get(0), "--tcp", "127.0.0.1:" + ports.get(3)));
    all.add(b);
    a.launch();
    b.launch();
    b.importBusybox("busybox");
    web = run(b, "web", "trap 'exit 0' TERM; echo hello from b; while true; do sleep 0.1; done");
    run(b, "other", "trap 'exit 0' TERM; while true; do sleep 0.1; done");
    await(START_SECONDS, () -> registered(a) && seen(a, "web") && seen(a, "other"),
        "a and b registered, and b's containers gossiped to a");
  }

  private static List<String> with(List<String> tls, String... more) {
    List<String> out = new ArrayList<>(tls);
    out.addAll(List.of(more));
    return out;
  }

  private static Container run(AgentProcess on, String name, String script) {
    Container c = on.containers().create(CreateContainerRequest.newBuilder().setSpec(ContainerSpec.newBuilder()
        .setImage("busybox").setName(name).addAllCmd(List.of("sh", "-c", script))).build());
    return on.containers().start(ContainerRef.newBuilder().setId(c.getId()).build());
  }

  @AfterAll
  void stopCluster() throws Exception {
    AgentProcess.closeAll(all, pkiDir);
  }

  @Test
  @Order(1)
  void psOfEveryNodeAndInspectThroughA() {
    List<Container> listed = a.containers().list(ListContainersRequest.newBuilder().setAllNodes(true).build())
        .getContainersList();
    assertEquals(List.of("b/other", "b/web"), listed.stream().map(c -> c.getNode() + "/" + c.getName()).sorted().toList());
    Container seen = a.containers().inspect(ContainerRef.newBuilder().setId("web").build());
    assertEquals(web.getId(), seen.getId());
    assertEquals("b", seen.getNode());
    assertEquals(ContainerStatus.RUNNING, seen.getStatus());
    assertTrue(seen.getPid() > 0, "b's full answer, not the gossiped summary");
    assertEquals(web.getId(), a.containers().inspect(ContainerRef.newBuilder().setId(web.getId().substring(0, 8)).build()).getId());
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> a.containers().inspect(ContainerRef.newBuilder().setId("nope").build()));
    assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());
    assertEquals("No such container: nope", e.getStatus().getDescription());
  }

  @Test
  @Order(2)
  void logsThroughA() throws Exception {
    List<String> lines = new ArrayList<>();
    a.containers().logs(LogsRequest.newBuilder().setId("web").setTail(-1).build())
        .forEachRemaining(l -> lines.add(l.getData().toStringUtf8()));
    assertEquals(List.of("hello from b\n"), lines);
    // Followed, then cancelled by the client: the relay ends, and a keeps answering.
    Context.CancellableContext follow = Context.current().withCancellation();
    try {
      Iterator<LogEntry> it = follow.call(() -> a.containers().logs(LogsRequest.newBuilder().setId("web").setTail(-1)
          .setFollow(true).build()));
      assertEquals("hello from b\n", it.next().getData().toStringUtf8());
    } finally {
      follow.cancel(null);
    }
    assertEquals("b", a.containers().inspect(ContainerRef.newBuilder().setId("web").build()).getNode());
  }

  @Test
  @Order(3)
  void execWithStdinThroughA() throws Exception {
    Attached out = new Attached();
    StreamObserver<ExecInput> in = ContainerServiceGrpc.newStub(a.channel()).withDeadlineAfter(60, TimeUnit.SECONDS)
        .exec(out);
    in.onNext(ExecInput.newBuilder().setExec(ExecSpec.newBuilder().setContainerId("web").setStdin(true)
        .addAllCmd(List.of("sh", "-c", "read line; echo \"got $line on $(hostname)\"; exit 3"))).build());
    in.onNext(ExecInput.newBuilder().setStdin(ByteString.copyFromUtf8("ping\n")).build());
    in.onNext(ExecInput.newBuilder().setCloseStdin(true).build());
    ExitStatus s = out.await();
    in.onCompleted();
    assertEquals(3, s.getExitCode());
    assertEquals("got ping on " + web.getHostname() + "\n", out.stdout());
  }

  @Test
  @Order(4)
  void stopAndRmThroughA() throws Exception {
    Container stopped = a.containers().stop(StopContainerRequest.newBuilder().setId("web").build());
    assertEquals(ContainerStatus.EXITED, stopped.getStatus());
    assertEquals("b", stopped.getNode());
    assertEquals(ContainerStatus.EXITED, b.containers().inspect(ContainerRef.newBuilder().setId(web.getId()).build()).getStatus());
    assertEquals(web.getId(), a.containers().remove(RemoveContainerRequest.newBuilder().setId("web").build()).getId());
    assertTrue(b.containers().list(ListContainersRequest.newBuilder().setAll(true).build()).getContainersList().stream()
        .noneMatch(c -> c.getName().equals("web")), "gone from b");
    await(30, () -> !seen(a, "web"), "b's gossip without web");
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> a.containers().inspect(ContainerRef.newBuilder().setId("web").build()));
    assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());
  }

  @Test
  @Order(5)
  void aNodeThatIsGoneIsNamed() throws Exception {
    b.killHard();
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> a.containers().inspect(ContainerRef.newBuilder().setId("other").build()));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.getStatus().toString());
    assertTrue(e.getStatus().getDescription().contains("container other is on node b"), e.getStatus().getDescription());
  }

  private static boolean registered(AgentProcess p) {
    try {
      List<Node> nodes = NodeServiceGrpc.newBlockingStub(p.channel()).withDeadlineAfter(20, TimeUnit.SECONDS)
          .list(ListNodesRequest.getDefaultInstance()).getNodesList();
      return nodes.size() == 2 && nodes.stream().allMatch(n -> n.getRegistered() && n.getStatus() == NodeStatus.NODE_STATUS_READY);
    } catch (StatusRuntimeException e) {
      return false;  // still starting
    }
  }

  private static boolean seen(AgentProcess p, String name) {
    try {
      return p.containers().list(ListContainersRequest.newBuilder().setAll(true).setAllNodes(true).build()).getContainersList()
          .stream().anyMatch(c -> c.getName().equals(name) && c.getNode().equals("b"));
    } catch (StatusRuntimeException e) {
      return false;  // the registry is not readable yet
    }
  }

  private void await(long seconds, BooleanSupplier condition, String what) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        StringBuilder logs = new StringBuilder();
        for (AgentProcess p : all) {
          String log = p.log();
          logs.append("\n--- agent log (tail) ---\n").append(log.substring(Math.max(0, log.length() - 3000)));
        }
        throw new AssertionError("not within " + seconds + " s: " + what + logs);
      }
      Thread.sleep(200);
    }
  }
}
