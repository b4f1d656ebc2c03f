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
 * into {@link NodeInfo}s: the cluster's nodes as {@code berth nodes} shows them and placement
 * counts them. Stateless; blocks as the registry does, and throws what it throws (UNAVAILABLE
 * while the cluster is starting).
 *
 * <p>Only registered nodes are nodes. Registration is a write to the Raft store, which only an
 * agent whose messaging the cluster authenticated (mutual TLS from the cluster CA) can make;
 * SWIM's gossip travels as plaintext UDP, so anyone who can send a datagram to the cluster's
 * port can make Atomix believe in a member. Such a member — and any gossiped facts under a name
 * the registry does not hold — is ignored here: never listed, never inspected, never counted.
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

  /** Every registered node, sorted by name; members known only from gossip are left out. */
  public List<NodeInfo> list() {
    Map<String, NodeRecord> records = new TreeMap<>();
    registry.list().forEach(r -> records.put(r.name(), r));
    Map<String, Member> members = new TreeMap<>();
    membership.members().forEach(m -> members.put(m.name(), m));
    Map<String, NodeFacts> facts = gossip.all();
    List<NodeInfo> out = new ArrayList<>();
    for (NodeRecord r : records.values()) {
      String n = r.name();
      out.add(info(n, Optional.of(r), Optional.ofNullable(members.get(n)), Optional.ofNullable(facts.get(n))));
    }
    return out;
  }

  /** A registered node; {@code NOT_FOUND} for any other name, also one that gossip speaks of. */
  public NodeInfo inspect(String name) {
    NodeRecord r = registry.get(name).orElseThrow(() -> BerthException.notFound("No such node: " + name));
    return info(name, Optional.of(r), membership.member(name), gossip.of(name));
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
