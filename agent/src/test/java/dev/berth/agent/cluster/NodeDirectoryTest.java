package dev.berth.agent.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Registration gates membership: gossip (plaintext UDP, forgeable) about a node the registry does
 * not hold is ignored — not listed, not inspectable, not updatable — while a registered node is
 * shown with the liveness and facts gossip brings.
 */
@Timeout(10)
class NodeDirectoryTest {
  private final NodeRegistry registry = new NodeRegistry(new InMemoryClusterStore());
  private final Map<String, Member> members = Map.of(
      "a", new Member("a", "10.0.0.1:7946", Role.SERVER, MemberState.ALIVE, 1),
      "rogue", new Member("rogue", "10.0.0.66:7946", Role.SERVER, MemberState.ALIVE, 1));
  private final Map<String, NodeFacts> facts = Map.of(
      "a", new NodeFacts("a", 4, 1L << 30, 3.5, 1L << 29, List.of(), List.of(), 1),
      "rogue", new NodeFacts("rogue", 64, 1L << 40, 64, 1L << 40, List.of(), List.of(), 1),
      "ghost", new NodeFacts("ghost", 8, 1L << 33, 8, 1L << 33, List.of(), List.of(), 1));
  private final NodeDirectory directory = new NodeDirectory(registry, membership(), gossip());

  @Test
  void onlyRegisteredNodesAreListed() {
    registry.register("a", "10.0.0.1:7946", "", Role.SERVER, 1);
    registry.register("b", "10.0.0.2:7946", "", Role.MEMBER, 1);
    List<NodeInfo> listed = directory.list();
    assertEquals(List.of("a", "b"), listed.stream().map(NodeInfo::name).toList());
    NodeInfo a = listed.get(0);
    assertEquals(MemberState.ALIVE, a.member().state());
    assertEquals(4, a.facts().orElseThrow().cpus());
    // Registered but not heard of: down, no facts.
    NodeInfo b = listed.get(1);
    assertEquals(MemberState.DOWN, b.member().state());
    assertTrue(b.facts().isEmpty());
    assertTrue(listed.stream().allMatch(n -> n.record().isPresent()));
  }

  @Test
  void gossipAboutAnUnregisteredNodeIsIgnored() {
    registry.register("a", "10.0.0.1:7946", "", Role.SERVER, 1);
    for (String name : List.of("rogue", "ghost")) {
      BerthException e = assertThrows(BerthException.class, () -> directory.inspect(name));
      assertEquals(BerthException.Kind.NOT_FOUND, e.kind());
      assertEquals(BerthException.Kind.NOT_FOUND,
          assertThrows(BerthException.class, () -> directory.update(name, r -> r.withDrain(true))).kind());
    }
    assertEquals(List.of("a"), directory.list().stream().map(NodeInfo::name).toList());
  }

  private Membership membership() {
    return new Membership() {
      @Override
      public Member local() {
        return members.get("a");
      }

      @Override
      public List<Member> members() {
        return members.values().stream().sorted(java.util.Comparator.comparing(Member::name)).toList();
      }

      @Override
      public Optional<Member> member(String name) {
        return Optional.ofNullable(members.get(name));
      }

      @Override
      public void addListener(Consumer<Member> listener) {}

      @Override
      public void removeListener(Consumer<Member> listener) {}
    };
  }

  private GossipView gossip() {
    return new GossipView() {
      @Override
      public Map<String, NodeFacts> all() {
        return facts;
      }

      @Override
      public Optional<NodeFacts> of(String node) {
        return Optional.ofNullable(facts.get(node));
      }
    };
  }
}
