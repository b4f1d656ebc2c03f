package dev.berth.agent.cluster;

import dev.berth.agent.BerthException;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;

/**
 * The node registry and each node's admin state (labels, drain, eligibility), kept in the
 * {@link ClusterStore} table {@value #TABLE} as protobuf ({@link ClusterCodec}), one key per node.
 *
 * <p>Changes are compare-and-set with retries, so two agents updating one node's labels at once
 * both land. Thread-safe; blocks as the store does; throws what the store throws, and
 * {@code NOT_FOUND} for a node that never registered.
 */
public final class NodeRegistry {
  public static final String TABLE = "nodes";
  /** Enough for any honest contention on one node's record; more means a bug, better reported. */
  private static final int CAS_ATTEMPTS = 16;

  private final ClusterStore store;

  public NodeRegistry(ClusterStore store) {
    this.store = store;
  }

  public Optional<NodeRecord> get(String name) {
    return store.get(TABLE, name).map(e -> ClusterCodec.node(e.value()));
  }

  public List<NodeRecord> list() {
    return store.list(TABLE).stream().map(e -> ClusterCodec.node(e.value())).toList();
  }

  /** {@link #register(String, String, String, Role, long)} of a node that serves no API over TCP. */
  public NodeRecord register(String name, String address, Role role, long nowMillis) {
    return register(name, address, "", role, nowMillis);
  }

  /**
   * Registers a node, or updates its addresses and role if it registered before; its admin state
   * is kept. A new node is eligible, not draining, without labels.
   *
   * @param apiAddress host:port of its API over TCP that other agents reach; empty for none
   */
  public NodeRecord register(String name, String address, String apiAddress, Role role, long nowMillis) {
    for (int i = 0; i < CAS_ATTEMPTS; i++) {
      Optional<ClusterStore.Entry> cur = store.get(TABLE, name);
      NodeRecord next = cur.map(e -> ClusterCodec.node(e.value()).withAddress(address, role).withApiAddress(apiAddress))
          .orElseGet(() -> new NodeRecord(name, address, apiAddress, role, java.util.Map.of(), false, true, nowMillis));
      if (cur.isPresent() && ClusterCodec.node(cur.get().value()).equals(next)) {
        return next;
      }
      if (store.compareAndSet(TABLE, name, cur.map(ClusterStore.Entry::version).orElse(ClusterStore.ABSENT),
          ClusterCodec.node(next)).isPresent()) {
        return next;
      }
    }
    throw contention(name);
  }

  /** Applies {@code change} to a registered node's record; the name cannot change. */
  public NodeRecord update(String name, UnaryOperator<NodeRecord> change) {
    for (int i = 0; i < CAS_ATTEMPTS; i++) {
      ClusterStore.Entry cur = store.get(TABLE, name)
          .orElseThrow(() -> BerthException.notFound("No such node: " + name));
      NodeRecord before = ClusterCodec.node(cur.value());
      NodeRecord after = change.apply(before);
      if (!after.name().equals(name)) {
        throw BerthException.invalid("a node's name cannot change");
      }
      if (after.equals(before) || store.compareAndSet(TABLE, name, cur.version(), ClusterCodec.node(after)).isPresent()) {
        return after;
      }
    }
    throw contention(name);
  }

  private static BerthException contention(String name) {
    return new BerthException(BerthException.Kind.UNAVAILABLE,
        "node " + name + " changed " + CAS_ATTEMPTS + " times while this update was retried; try again");
  }
}
