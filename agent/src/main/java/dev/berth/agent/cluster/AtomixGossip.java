package dev.berth.agent.cluster;

import io.atomix.core.Atomix;
import io.atomix.core.map.AsyncDistributedMap;
import io.atomix.core.map.DistributedMap;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * {@link GossipView} over an anti-entropy (eventually consistent) Atomix map, {@value #MAP}: one
 * key per node, written only by that node, as protobuf of {@link NodeFacts} ({@link ClusterCodec}).
 */
final class AtomixGossip implements GossipView {
  static final String MAP = "berth-facts";
  private static final Logger LOG = Logger.getLogger(AtomixGossip.class.getName());

  private final String node;
  private final Supplier<NodeFacts> localFacts;
  private volatile DistributedMap<String, byte[]> map;
  private volatile NodeFacts lastLocal;

  AtomixGossip(String node, Supplier<NodeFacts> localFacts) {
    this.node = node;
    this.localFacts = localFacts;
  }

  /** Creates the map; a Raft write in Atomix's primitive registry, so only once the cluster has started. */
  void attach(Atomix atomix, Duration timeout) throws Exception {
    AsyncDistributedMap<String, byte[]> m = atomix.<String, byte[]>mapBuilder(MAP)
        .withProtocol(AtomixNode.gossip())
        .buildAsync()
        .thenApply(DistributedMap::async)
        .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    map = m.sync(timeout);
  }

  /** Takes and publishes the local facts; called about once a second from the cluster's timer. */
  void publish() {
    try {
      NodeFacts f = localFacts.get();
      lastLocal = f;
      DistributedMap<String, byte[]> m = map;
      if (m != null) {
        m.put(node, ClusterCodec.facts(f));
      }
    } catch (RuntimeException e) {
      LOG.log(Level.FINE, "publishing node facts", e);
    }
  }

  @Override
  public Map<String, NodeFacts> all() {
    Map<String, NodeFacts> out = new TreeMap<>();
    DistributedMap<String, byte[]> m = map;
    if (m != null) {
      // Reads of an anti-entropy map are local: no network round trip.
      for (Map.Entry<String, byte[]> e : m.entrySet()) {
        try {
          out.put(e.getKey(), ClusterCodec.facts(e.getValue()));
        } catch (RuntimeException ex) {
          LOG.log(Level.FINE, "undecodable facts of " + e.getKey(), ex);
        }
      }
    }
    NodeFacts own = lastLocal;
    if (own != null) {
      out.put(node, own);
    }
    return out;
  }

  @Override
  public Optional<NodeFacts> of(String name) {
    return Optional.ofNullable(all().get(name));
  }
}
