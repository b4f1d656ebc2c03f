package dev.berth.agent.cluster;

import java.util.Map;
import java.util.Optional;

/**
 * Every node's latest {@link NodeFacts}, spread by gossip (an eventually consistent map, one key
 * per node, each node writing only its own). Reads are local and never block: what a node
 * published arrives within about a second or two, and a node that left keeps its last facts.
 *
 * <p>Thread-safe. Empty before the cluster has started (the local node's own facts excepted).
 */
public interface GossipView {
  /** The latest facts of every node heard of, by node name. */
  Map<String, NodeFacts> all();

  Optional<NodeFacts> of(String node);
}
