package dev.berth.agent.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import dev.berth.agent.cluster.ClusterStore;
import dev.berth.agent.cluster.MemberState;
import dev.berth.agent.cluster.NodeFacts.ContainerFact;
import dev.berth.agent.cluster.NodeRegistry;
import dev.berth.agent.cluster.Role;
import dev.berth.agent.cluster.TestClusterViews;
import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerStatus;
import io.grpc.Context;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * How an agent finds a container that is not its own among the other nodes' gossiped containers:
 * exact id, then name, then unique id prefix, registered nodes only, never its own stale gossip;
 * ambiguity names every candidate and its node. Against the in-memory registry and gossip.
 */
@Timeout(10)
class ContainerLookupTest {
  private static final String B_WEB = "b1b1b1b1b1b1" + "0".repeat(52);
  private static final String B_C3 = "0c0c0c0c0c0c" + "0".repeat(52);
  private static final String C_API = "c3c3c3c3c3c3" + "0".repeat(52);
  private static final String C_DUP = "c4c4c4c4c4c4" + "0".repeat(52);
  private static final String D_DUP = "d4d4d4d4d4d4" + "0".repeat(52);
  private static final String D_X = "dd11dd11dd11" + "0".repeat(52);
  private static final String D_Y = "dd22dd22dd22" + "0".repeat(52);
  private static final String A_OLD = "a0a0a0a0a0a0" + "0".repeat(52);

  private final NodeRegistry registry = TestClusterViews.registry();
  private final TestClusterViews.Gossip gossip = new TestClusterViews.Gossip();
  private final TestClusterViews.Members members = new TestClusterViews.Members();
  private final ContainerForwarder forwarder = new ContainerForwarder("a", registry, gossip, members,
      (node, address) -> {
        throw new AssertionError("no call is made here");
      });

  @BeforeEach
  void cluster() {
    registry.register("a", "10.0.0.1:7946", "10.0.0.1:2377", Role.SERVER, 1);
    registry.register("b", "10.0.0.2:7946", "10.0.0.2:2377", Role.MEMBER, 1);
    registry.register("c", "10.0.0.3:7946", "10.0.0.3:2377", Role.MEMBER, 1);
    registry.register("d", "10.0.0.4:7946", "10.0.0.4:2377", Role.MEMBER, 1);
    registry.register("e", "10.0.0.5:7946", "", Role.MEMBER, 1);
    // This node's own gossip may lag behind its runtime: never a target.
    gossip.put("a", List.of(fact(A_OLD, "removed-here", "exited")));
    gossip.put("b", List.of(fact(B_WEB, "web", "running"), fact(B_C3, "c3", "exited")));
    gossip.put("c", List.of(fact(C_API, "api", "running"), fact(C_DUP, "dup", "running")));
    gossip.put("d", List.of(fact(D_DUP, "dup", "exited"), fact(D_X, "x", "running"), fact(D_Y, "y", "created")));
    gossip.put("e", List.of(fact("e5e5e5e5e5e5" + "0".repeat(52), "quiet", "running")));
    // Gossip is forgeable UDP: a node the registry does not hold is never believed.
    gossip.put("rogue", List.of(fact("f6f6f6f6f6f6" + "0".repeat(52), "web", "running"),
        fact("f7f7f7f7f7f7" + "0".repeat(52), "evil", "running")));
  }

  private static ContainerFact fact(String id, String name, String state) {
    return new ContainerFact(id, name, "busybox:latest", state);
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(delimiter = '|', nullValues = "-", textBlock = """
      # reference                                                          | node | container
      b1b1b1b1b1b10000000000000000000000000000000000000000000000000000     | b    | web
      web                                                                  | b    | web
      /web                                                                 | b    | web
      b1b1                                                                 | b    | web
      c3c3c3                                                               | c    | api
      api                                                                  | c    | api
      # a name before an id prefix, as the runtime's own lookup
      c3                                                                   | b    | c3
      y                                                                    | d    | y
      nope                                                                 | -    | -
      evil                                                                 | -    | -
      removed-here                                                         | -    | -
      a0a0                                                                 | -    | -
      """)
  void aReferenceNamesOneContainerOfAnotherNodeOrNone(String ref, String node, String name) {
    Optional<ContainerForwarder.Remote> r = forwarder.locate(ref);
    if (node == null) {
      assertEquals(Optional.empty(), r);
    } else {
      assertEquals(node, r.orElseThrow().node());
      assertEquals(name, r.get().name());
      assertEquals("10.0.0." + (node.charAt(0) - 'a' + 1) + ":2377", r.get().address(), "as registered");
      assertEquals(Map.of("web", B_WEB, "api", C_API, "c3", B_C3, "y", D_Y).get(name), r.get().id());
    }
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', textBlock = """
      dup  | the container name "dup" is taken on several nodes: dup (c4c4c4c4c4c4) on node c, dup (d4d4d4d4d4d4) on node d; give the id instead
      dd   | multiple containers match the id prefix "dd": x (dd11dd11dd11) on node d, y (dd22dd22dd22) on node d; give more of the id
      """)
  void anAmbiguousReferenceNamesEveryCandidate(String ref, String message) {
    BerthException e = assertThrows(BerthException.class, () -> forwarder.locate(ref));
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind());
    assertEquals(message, e.getMessage());
  }

  @Test
  void aNodeWithoutAnApiOnTcpIsNamedWithTheFix() {
    BerthException e = assertThrows(BerthException.class, () -> forwarder.locate("quiet"));
    assertEquals(BerthException.Kind.FAILED_PRECONDITION, e.kind());
    assertTrue(e.getMessage().contains("container quiet is on node e") && e.getMessage().contains("start berthd on e with --tcp"),
        e.getMessage());
  }

  @Test
  void aNodeThatIsDownIsNamed() {
    members.set("b", MemberState.DOWN);
    BerthException e = assertThrows(BerthException.class, () -> forwarder.locate("web"));
    assertEquals(BerthException.Kind.UNAVAILABLE, e.kind());
    assertTrue(e.getMessage().contains("node b, which is down"), e.getMessage());
    members.set("b", MemberState.SUSPECT);
    assertEquals("b", forwarder.locate("web").orElseThrow().node(), "suspect is not down: worth a try");
  }

  @Test
  void aForwardedCallIsNeverForwardedAgain() throws Exception {
    Optional<ContainerForwarder.Remote> r = Context.current().withValue(ContainerForwarder.FORWARDED, "c")
        .call(() -> forwarder.locate("web"));
    assertEquals(Optional.empty(), r);
  }

  @Test
  void aContainerFoundNowhereNeverWaitsOnTheCluster() {
    ClusterStore starting = new ClusterStore() {
      private BerthException starting() {
        return new BerthException(BerthException.Kind.UNAVAILABLE, "the cluster is still starting");
      }

      @Override
      public Optional<Entry> get(String table, String key) {
        throw starting();
      }

      @Override
      public List<Entry> list(String table) {
        throw starting();
      }

      @Override
      public Entry put(String table, String key, byte[] value) {
        throw starting();
      }

      @Override
      public Optional<Entry> compareAndSet(String table, String key, long expectedVersion, byte[] value) {
        throw starting();
      }

      @Override
      public boolean remove(String table, String key, long expectedVersion) {
        throw starting();
      }
    };
    ContainerForwarder f = new ContainerForwarder("a", new NodeRegistry(starting), gossip, members, (n, a) -> {
      throw new AssertionError();
    });
    assertEquals(Optional.empty(), f.locate("nope"), "gossip names no candidate: no registry read");
    BerthException e = assertThrows(BerthException.class, () -> f.locate("web"));
    assertEquals(BerthException.Kind.UNAVAILABLE, e.kind());
  }

  @Test
  void otherNodesContainersAreListedAsGossipedFromRegisteredNodesOnly() {
    List<Container> all = forwarder.listElsewhere(true);
    assertEquals(List.of("b/web", "b/c3", "c/api", "c/dup", "d/dup", "d/x", "d/y", "e/quiet"),
        all.stream().map(c -> c.getNode() + "/" + c.getName()).toList());
    Container web = all.get(0);
    assertEquals(Container.newBuilder().setId(B_WEB).setName("web").setImage("busybox:latest")
        .setStatus(ContainerStatus.RUNNING).setNode("b").build(), web);
    assertEquals(ContainerStatus.CREATED, all.get(6).getStatus());
    assertEquals(List.of("b/web", "c/api", "c/dup", "d/x", "e/quiet"),
        forwarder.listElsewhere(false).stream().map(c -> c.getNode() + "/" + c.getName()).toList(), "running only");
  }

  @ParameterizedTest
  @CsvSource({"running, RUNNING", "exited, EXITED", "created, CREATED", "removing, REMOVING", "paused, CONTAINER_STATUS_UNSPECIFIED",
      "'', CONTAINER_STATUS_UNSPECIFIED"})
  void gossipedStatesMapToTheApisStatus(String state, ContainerStatus status) {
    assertEquals(status, ContainerForwarder.status(state));
  }
}
