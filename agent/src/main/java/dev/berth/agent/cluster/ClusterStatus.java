package dev.berth.agent.cluster;

import java.util.List;
import java.util.Optional;

/**
 * What {@code berth cluster status} shows: this agent's view of the cluster's health.
 *
 * @param cluster the cluster's name
 * @param node this agent's node name
 * @param role this agent's role
 * @param phase starting, ready or failed
 * @param message why the cluster failed to start, or empty
 * @param servers the Raft servers (as far as known) and their liveness
 * @param leader the node leading the data group's Raft, if known
 * @param term the Raft term of that leader, 0 if unknown
 * @param quorum whether a majority of the servers is alive: writes can succeed
 * @param startupMillis how long the cluster took to start, 0 until it has
 */
public record ClusterStatus(String cluster, String node, Role role, Phase phase, String message, List<Member> servers,
    Optional<String> leader, long term, boolean quorum, long startupMillis) {

  /** Lifecycle of the cluster layer in this agent. */
  public enum Phase { STARTING, READY, FAILED, STOPPED }
}
