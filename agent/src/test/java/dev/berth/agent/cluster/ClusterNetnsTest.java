package dev.berth.agent.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.agent.it.ScriptCluster;
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
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
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
  private static final int START_SECONDS = 120;

  private ScriptCluster cluster;

  @BeforeAll
  @Timeout(2 * START_SECONDS + 60) // start-up takes 15-40 s; ScriptCluster.up may try twice
  void startCluster() throws Exception {
    assumeTrue(ScriptCluster.available(), "network namespaces and berthd need root and iproute2");
    cluster = ScriptCluster.up(5, 3, START_SECONDS);
    awaitAllReady(HOSTS);
  }

  @AfterAll
  void stopCluster() throws Exception {
    if (cluster != null) {
      cluster.close();
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
    cluster.disconnect("n5");
    assertEquals(0, cluster.run(30, "kill", "n5").code());
    long t0 = System.nanoTime();
    List<String> observers = List.of("n1", "n2", "n3", "n4");
    Map<String, List<NodeStatus>> seen = new LinkedHashMap<>();
    observers.forEach(o -> seen.put(o, new ArrayList<>()));
    long deadline = t0 + TimeUnit.SECONDS.toNanos(60);
    while (!observers.stream().allMatch(o -> last(seen.get(o)) == NodeStatus.NODE_STATUS_DOWN)) {
      assertTrue(System.nanoTime() < deadline, "n5 not down everywhere within 60 s: " + seen + cluster.logs());
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

    assertEquals(0, cluster.run(30, "start", "n5").code());
    awaitAllReady(HOSTS);
    assertTrue(list("n5").stream().allMatch(n -> n.getStatus() == NodeStatus.NODE_STATUS_READY),
        "n5 rejoined (it was down everywhere after " + downMillis + " ms)");
  }

  @Test
  @Order(3)
  void aCutOffServerRefusesWritesWhileTheMajorityAcceptsThemAndConvergesWhenHealed() throws Exception {
    String leader = leader();
    String other = SERVERS.stream().filter(s -> !s.equals(leader)).findFirst().orElseThrow();
    assertEquals(0, cluster.run(30, "cut", leader).code());
    try {
      // The majority elects a new leader (a few seconds) and takes writes again.
      cluster.await(90, () -> {
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
      cluster.await(60, () -> statusOf("n4", leader) == NodeStatus.NODE_STATUS_DOWN, leader + " down as seen by n4");
      // No answer names a server it shows down as the leader.
      cluster.await(60, () -> {
        dev.berth.proto.v1.ClusterStatus st = cluster("n4").status(ClusterStatusRequest.getDefaultInstance());
        for (dev.berth.proto.v1.ClusterServer v : st.getServersList()) {
          assertFalse(v.getLeader() && v.getStatus() == NodeStatus.NODE_STATUS_DOWN, "named leader while down: " + st);
        }
        return st.getServersList().stream().anyMatch(v -> v.getName().equals(leader) && v.getStatus() == NodeStatus.NODE_STATUS_DOWN);
      }, leader + " down in n4's cluster status");
    } finally {
      assertEquals(0, cluster.run(30, "heal", leader).code());
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
    cluster.disconnect(dead);
    assertEquals(0, cluster.run(30, "kill", dead).code());
    nodes(leader).update(UpdateNodeRequest.newBuilder().setName("n5").putLabelAdd("written", "while-" + dead + "-dead").build());
    ScriptCluster.Result fresh = cluster.run(60, "start", dead, "--fresh");
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
    cluster.await(60, () -> {
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
    cluster.await(60, () -> {
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
      cluster.await(START_SECONDS, () -> {
        try {
          List<Node> l = list(h);
          return l.size() == HOSTS.size() && l.stream().allMatch(n -> n.getStatus() == NodeStatus.NODE_STATUS_READY && n.getRegistered());
        } catch (StatusRuntimeException e) {
          return false;  // still starting
        }
      }, "every host ready as seen from " + h);
    }
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
    return NodeServiceGrpc.newBlockingStub(cluster.channel(h)).withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  private ClusterServiceGrpc.ClusterServiceBlockingStub cluster(String h) {
    return ClusterServiceGrpc.newBlockingStub(cluster.channel(h)).withDeadlineAfter(20, TimeUnit.SECONDS);
  }
}
