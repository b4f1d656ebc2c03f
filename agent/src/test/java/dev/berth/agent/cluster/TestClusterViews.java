package dev.berth.agent.cluster;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * The cluster's views in memory, for tests outside this package: the {@link InMemoryClusterStore}
 * (under a registry), and a gossip view and membership the test sets as it likes.
 */
public final class TestClusterViews {
  private TestClusterViews() {}

  /** A registry over a fresh {@link InMemoryClusterStore}. */
  public static NodeRegistry registry() {
    return new NodeRegistry(new InMemoryClusterStore());
  }

  /** Gossiped facts as the test puts them. Thread-safe. */
  public static final class Gossip implements GossipView {
    private final Map<String, NodeFacts> facts = new ConcurrentHashMap<>();

    /** Node {@code node} gossips these containers (as {@code LocalFacts} makes them). */
    public void put(String node, List<NodeFacts.ContainerFact> containers) {
      facts.put(node, new NodeFacts(node, 2, 1L << 30, 2, 1L << 30, containers, List.of(), System.currentTimeMillis()));
    }

    @Override
    public Map<String, NodeFacts> all() {
      return Map.copyOf(facts);
    }

    @Override
    public Optional<NodeFacts> of(String node) {
      return Optional.ofNullable(facts.get(node));
    }
  }

  /** Every node alive, but those the test marks down. Thread-safe. */
  public static final class Members implements Membership {
    private final Map<String, MemberState> states = new ConcurrentHashMap<>();

    public void set(String node, MemberState state) {
      states.put(node, state);
    }

    @Override
    public Member local() {
      return new Member("local", "", Role.SERVER, MemberState.ALIVE, 1);
    }

    @Override
    public List<Member> members() {
      return states.entrySet().stream().map(e -> new Member(e.getKey(), "", Role.MEMBER, e.getValue(), 1)).toList();
    }

    @Override
    public Optional<Member> member(String name) {
      return Optional.ofNullable(states.get(name)).map(s -> new Member(name, "", Role.MEMBER, s, 1));
    }

    @Override
    public void addListener(Consumer<Member> listener) {}

    @Override
    public void removeListener(Consumer<Member> listener) {}
  }
}
