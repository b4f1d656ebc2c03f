package dev.berth.agent.cluster;

import dev.berth.agent.BerthException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.UnaryOperator;

/**
 * Joins the three views of a node — the replicated registry, SWIM liveness and gossiped facts —
 * into {@link NodeInfo}s. Stateless; blocks as the registry does, and throws what it throws
 * (UNAVAILABLE while the cluster is starting).
 */
public final class NodeDirectory {
  private final NodeRegistry registry;
  private final Membership membership;
  private final GossipView gossip;

  public NodeDirectory(NodeRegistry registry, Membership membership, GossipView gossip) {
    this.registry = registry;
    this.membership = membership;
    this.gossip = gossip;
  }

  /** Every registered node and every member heard of, sorted by name. */
  public List<NodeInfo> list() {
    Map<String, NodeRecord> records = new TreeMap<>();
    registry.list().forEach(r -> records.put(r.name(), r));
    Map<String, Member> members = new TreeMap<>();
    membership.members().forEach(m -> members.put(m.name(), m));
    Map<String, NodeFacts> facts = gossip.all();
    java.util.SortedSet<String> names = new java.util.TreeSet<>(records.keySet());
    names.addAll(members.keySet());
    List<NodeInfo> out = new ArrayList<>();
    for (String n : names) {
      out.add(info(n, Optional.ofNullable(records.get(n)), Optional.ofNullable(members.get(n)), Optional.ofNullable(facts.get(n))));
    }
    return out;
  }

  public NodeInfo inspect(String name) {
    Optional<NodeRecord> r = registry.get(name);
    Optional<Member> m = membership.member(name);
    if (r.isEmpty() && m.isEmpty()) {
      throw BerthException.notFound("No such node: " + name);
    }
    return info(name, r, m, gossip.of(name));
  }

  /** Changes a registered node's admin state; {@code NOT_FOUND} if it never registered. */
  public NodeInfo update(String name, UnaryOperator<NodeRecord> change) {
    NodeRecord r = registry.update(name, change);
    return info(name, Optional.of(r), membership.member(name), gossip.of(name));
  }

  private static NodeInfo info(String name, Optional<NodeRecord> r, Optional<Member> m, Optional<NodeFacts> f) {
    Member member = m.orElseGet(() -> new Member(name, r.map(NodeRecord::address).orElse(""),
        r.map(NodeRecord::role).orElse(Role.MEMBER), MemberState.DOWN, 0));
    return new NodeInfo(name, r, member, f);
  }
}
