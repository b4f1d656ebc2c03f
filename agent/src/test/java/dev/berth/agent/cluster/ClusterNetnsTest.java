package dev.berth.agent.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.agent.it.AgentProcess;
import dev.berth.agent.it.Linux;
import dev.berth.proto.v1.ClusterServiceGrpc;
import dev.berth.proto.v1.ClusterStatus;
import dev.berth.proto.v1.ClusterStatusRequest;
import dev.berth.proto.v1.ListNodesRequest;
import dev.berth.proto.v1.Node;
import dev.berth.proto.v1.NodeRef;
import dev.berth.proto.v1.NodeRole;
import dev.berth.proto.v1.NodeServiceGrpc;
import dev.berth.proto.v1.NodeStatus;
import dev.berth.proto.v1.UpdateNodeRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import java.util.stream.Collectors;
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
 * Five real berthd processes, each in a network namespace of its own (a host with its own
 * address on a bridge in a "fabric" namespace), brought up by {@code deploy/cluster.sh} as the
 * demos do: three Raft servers (n1-n3) and two plain members (n4, n5). One cluster for the class,
 * in order: everyone sees everyone; a killed member goes suspect then down and rejoins; a cut-off
 * server (the Raft leader) refuses writes while the majority accepts them, and converges once
 * healed; a dead server is replaced by a fresh agent under its name and address. Traffic stays
 * inside the namespaces the script made; {@code down} removes them after the class, also on
 * failure. Bounds are generous: the timings belong to bench/cluster.sh.
 */
@Tag("cluster")
@Timeout(300)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterNetnsTest {
  private static final List<String> HOSTS = List.of("n1", "n2", "n3", "n4", "n5");
  private static final List<String> SERVERS = List.of("n1", "n2", "n3");
  /** A 3-server start took 17-20 s on loopback; five JVMs on two cores take longer. */
  private static final int START_SECONDS = 150;
  private static final Path ROOT = Path.of("/tmp/berth-cluster");

  private final String id = HexFormat.of().formatHex(new SecureRandom().generateSeed(3));
  private final Map<String, Client> clients = new LinkedHashMap<>();
  private Path script;
  private boolean up;

  @BeforeAll
  void startCluster() throws Exception {
    assumeTrue(Linux.isRoot(), "network namespaces and berthd need root");
    assumeTrue(Files.isExecutable(Path.of("/usr/sbin/ip")) || Files.isExecutable(Path.of("/sbin/ip"))
        || Files.isExecutable(Path.of("/usr/bin/ip")), "needs iproute2's ip");
    script = Path.of(System.getProperty("user.dir")).resolveSibling("deploy").resolve("cluster.sh");
    if (!Files.exists(script)) {
      script = Path.of(System.getProperty("user.dir"), "deploy", "cluster.sh");
    }
    up = true;
    Result r = sh(START_SECONDS + 60, "up", "-n", "5", "-s", "3", "--id", id, "--timeout", String.valueOf(START_SECONDS));
    assertEquals(0, r.code(), "cluster.sh up failed:\n" + r.output());
    for (String h : HOSTS) {
      clients.put(h, new Client(ROOT.resolve(id).resolve(h).resolve("berthd.sock")));
    }
    awaitAllReady(HOSTS);
  }

  @AfterAll
  void stopCluster() throws Exception {
    clients.values().forEach(Client::close);
    if (up) {
      Result r = sh(120, "down", id);
      assertEquals(0, r.code(), "cluster.sh down left something behind:\n" + r.output());
    }
  }

  @Test
  @Order(1)
  void everyHostSeesEveryOtherReadyWithItsRole() throws Exception {
    for (String h : HOSTS) {
      Map<String, Node> seen = list(h).stream().collect(Collectors.toMap(Node::getName, n -> n));
      assertEquals(HOSTS, seen.keySet().stream().sorted().toList(), "as seen from " + h);
      for (String n : HOSTS) {
        assertEquals(NodeStatus.NODE_STATUS_READY, seen.get(n).getStatus(), n + " as seen from " + h);
        assertEquals(SERVERS.contains(n) ? NodeRole.NODE_ROLE_SERVER : NodeRole.NODE_ROLE_MEMBER, seen.get(n).getRole());
        assertTrue(seen.get(n).getAddress().startsWith("10.213.0."), seen.get(n).getAddress());
      }
      ClusterStatus s = cluster(h).status(ClusterStatusRequest.getDefaultInstance());
      assertEquals(3, s.getServersCount(), s.toString());
      assertTrue(s.getQuorum(), s.toString());
    }
  }

  @Test
  @Order(2)
  void aKilledMemberIsSuspectThenDownEverywhereAndRejoinsWhenRestarted() throws Exception {
    clients.get("n5").close();
    assertEquals(0, sh(30, "kill", id, "n5").code());
    long t0 = System.nanoTime();
    List<String> observers = List.of("n1", "n2", "n3", "n4");
    Map<String, List<NodeStatus>> seen = new LinkedHashMap<>();
    observers.forEach(o -> seen.put(o, new ArrayList<>()));
    long deadline = t0 + TimeUnit.SECONDS.toNanos(60);
    while (!observers.stream().allMatch(o -> last(seen.get(o)) == NodeStatus.NODE_STATUS_DOWN)) {
      assertTrue(System.nanoTime() < deadline, "n5 not down everywhere within 60 s: " + seen + logs());
      for (String o : observers) {
        NodeStatus s = statusOf(o, "n5");
        if (s != NodeStatus.NODE_STATUS_UNSPECIFIED && s != last(seen.get(o))) {
          seen.get(o).add(s);
        }
      }
      Thread.sleep(50);
    }
    long downMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    assertTrue(seen.values().stream().anyMatch(l -> l.contains(NodeStatus.NODE_STATUS_SUSPECT)),
        "suspect before down somewhere: " + seen);
    for (List<NodeStatus> l : seen.values()) {
      assertNotEquals(NodeStatus.NODE_STATUS_READY, l.get(l.size() - 1));
      assertEquals(-1, l.subList(Math.max(0, l.indexOf(NodeStatus.NODE_STATUS_DOWN)), l.size()).indexOf(NodeStatus.NODE_STATUS_READY),
          "never ready again once down: " + seen);
    }

    assertEquals(0, sh(30, "start", id, "n5").code());
    awaitAllReady(HOSTS);
    assertTrue(list("n5").stream().allMatch(n -> n.getStatus() == NodeStatus.NODE_STATUS_READY),
        "n5 rejoined (it was down everywhere after " + downMillis + " ms)");
  }

  @Test
  @Order(3)
  void aCutOffServerRefusesWritesWhileTheMajorityAcceptsThemAndConvergesWhenHealed() throws Exception {
    String leader = leader();
    String other = SERVERS.stream().filter(s -> !s.equals(leader)).findFirst().orElseThrow();
    assertEquals(0, sh(30, "cut", id, leader).code());
    try {
      // The majority elects a new leader (a few seconds) and takes writes again.
      await(90, () -> {
        try {
          nodes(other).update(UpdateNodeRequest.newBuilder().setName("n4").putLabelAdd("side", "majority").build());
          return true;
        } catch (StatusRuntimeException e) {
          return false;
        }
      }, "a write through " + other + " while " + leader + " is cut off");
      StatusRuntimeException refused = assertThrows(StatusRuntimeException.class,
          () -> nodes(leader).update(UpdateNodeRequest.newBuilder().setName("n4").putLabelAdd("side", "minority").build()));
      assertEquals(Status.Code.UNAVAILABLE, refused.getStatus().getCode(), refused.toString());
      // The majority's servers stop hearing from the cut-off one.
      await(60, () -> statusOf("n4", leader) == NodeStatus.NODE_STATUS_DOWN, leader + " down as seen by n4");
    } finally {
      assertEquals(0, sh(30, "heal", id, leader).code());
    }
    awaitAllReady(HOSTS);
    for (String h : HOSTS) {
      // The healed server's Raft session may take a few seconds to come back; until then its
      // reads are refused (UNAVAILABLE), never answered with the minority's value.
      assertEquals(Map.of("side", "majority"),
          whenAvailable(() -> nodes(h).inspect(NodeRef.newBuilder().setName("n4").build())).getLabelsMap(),
          "no split brain, as seen from " + h);
    }
  }

  @Test
  @Order(4)
  void aDeadServerIsReplacedByAFreshAgentUnderItsNameAndAddress() throws Exception {
    String leader = leader();
    String dead = SERVERS.stream().filter(s -> !s.equals(leader)).reduce((a, b) -> b).orElseThrow();
    clients.get(dead).close();
    assertEquals(0, sh(30, "kill", id, dead).code());
    nodes(leader).update(UpdateNodeRequest.newBuilder().setName("n5").putLabelAdd("written", "while-" + dead + "-dead").build());
    Result fresh = sh(60, "start", id, dead, "--fresh");
    assertEquals(0, fresh.code(), fresh.output());
    awaitAllReady(HOSTS);
    // The replacement started from an empty data dir and caught up from the others.
    assertEquals(Map.of("written", "while-" + dead + "-dead"),
        whenAvailable(() -> nodes(dead).inspect(NodeRef.newBuilder().setName("n5").build())).getLabelsMap());
    assertEquals(Map.of("side", "majority"),
        whenAvailable(() -> nodes(dead).inspect(NodeRef.newBuilder().setName("n4").build())).getLabelsMap());
    whenAvailable(() -> nodes(dead).update(UpdateNodeRequest.newBuilder().setName("n5").putLabelAdd("by", dead).build()));
    assertEquals("by " + dead, "by " + whenAvailable(() -> nodes("n4").inspect(NodeRef.newBuilder().setName("n5").build())).getLabelsOrThrow("by"));
  }

  /**
   * The call's answer once the agent's Raft session is up: a replaced or healed server takes a
   * few seconds to open one, and refuses with UNAVAILABLE until then. Any other error fails.
   */
  private <T> T whenAvailable(Supplier<T> call) throws Exception {
    List<T> answer = new ArrayList<>();
    await(60, () -> {
      try {
        answer.add(call.get());
        return true;
      } catch (StatusRuntimeException e) {
        assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.toString());
        return false;
      }
    }, "an answer once the Raft session is up");
    return answer.get(0);
  }

  private String leader() throws Exception {
    String[] leader = new String[1];
    await(60, () -> {
      try {
        leader[0] = cluster("n4").status(ClusterStatusRequest.getDefaultInstance()).getLeader();
        return SERVERS.contains(leader[0]);
      } catch (StatusRuntimeException e) {
        return false;
      }
    }, "a known leader");
    return leader[0];
  }

  /** Until every host's cluster is ready, registered, and sees all of {@code hosts} ready. */
  private void awaitAllReady(List<String> hosts) throws Exception {
    for (String h : hosts) {
      await(START_SECONDS, () -> {
        try {
          List<Node> l = list(h);
          return l.size() == HOSTS.size() && l.stream().allMatch(n -> n.getStatus() == NodeStatus.NODE_STATUS_READY && n.getRegistered());
        } catch (StatusRuntimeException e) {
          return false;  // still starting
        }
      }, "every host ready as seen from " + h);
    }
  }

  private void await(long seconds, BooleanSupplier condition, String what) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not within " + seconds + " s: " + what + logs());
      }
      Thread.sleep(200);
    }
  }

  private String logs() {
    StringBuilder out = new StringBuilder();
    for (String h : HOSTS) {
      try {
        String log = Files.readString(ROOT.resolve(id).resolve(h).resolve("berthd.log"));
        out.append("\n--- ").append(h).append(" log (tail) ---\n").append(log.substring(Math.max(0, log.length() - 2000)));
      } catch (IOException e) {
        out.append("\n--- ").append(h).append(": no log: ").append(e);
      }
    }
    return out.toString();
  }

  private static NodeStatus last(List<NodeStatus> l) {
    return l.isEmpty() ? NodeStatus.NODE_STATUS_UNSPECIFIED : l.get(l.size() - 1);
  }

  private NodeStatus statusOf(String observer, String node) {
    try {
      return list(observer).stream().filter(n -> n.getName().equals(node)).map(Node::getStatus).findFirst()
          .orElse(NodeStatus.NODE_STATUS_UNSPECIFIED);
    } catch (StatusRuntimeException e) {
      return NodeStatus.NODE_STATUS_UNSPECIFIED;
    }
  }

  private List<Node> list(String h) {
    return nodes(h).list(ListNodesRequest.getDefaultInstance()).getNodesList();
  }

  private NodeServiceGrpc.NodeServiceBlockingStub nodes(String h) {
    return NodeServiceGrpc.newBlockingStub(clients.get(h).channel()).withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  private ClusterServiceGrpc.ClusterServiceBlockingStub cluster(String h) {
    return ClusterServiceGrpc.newBlockingStub(clients.get(h).channel()).withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  private record Result(int code, String output) {}

  /** Runs deploy/cluster.sh with the berthd of this build (the test's class path and launcher). */
  private Result sh(int seconds, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("sh", script.toString()));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    List<String> berthd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"));
    berthd.addAll(AgentProcess.atomixJvmFlags());
    berthd.addAll(List.of("-cp", System.getProperty("java.class.path"), "dev.berth.agent.AgentMain",
        "--launcher", System.getProperty("berth.launcher")));
    pb.environment().put("BERTHD", String.join(" ", berthd));
    pb.environment().put("BERTH_CLUSTER_ROOT", ROOT.toString());
    Process p = pb.start();
    p.getOutputStream().close();
    byte[] out = p.getInputStream().readAllBytes();
    if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      return new Result(-1, "timed out: " + cmd);
    }
    return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
  }

  /** A gRPC channel to one agent's unix socket, opened on first use, closed before a kill. */
  private static final class Client {
    private final Path socket;
    private ManagedChannel channel;
    private EpollEventLoopGroup group;

    Client(Path socket) {
      this.socket = socket;
    }

    synchronized ManagedChannel channel() {
      if (channel == null) {
        group = new EpollEventLoopGroup(1);
        channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
            .channelType(EpollDomainSocketChannel.class).eventLoopGroup(group).usePlaintext().build();
      }
      return channel;
    }

    synchronized void close() {
      if (channel != null) {
        channel.shutdownNow();
        channel = null;
        group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
        group = null;
      }
    }
  }
}
