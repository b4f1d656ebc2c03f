/**
 * Cluster membership, shared state and leader election, over Atomix.
 *
 * <p>Consumers see Berth's own read-only interfaces: {@link dev.berth.agent.cluster.Membership}
 * (which agents exist and whether they are alive), {@link dev.berth.agent.cluster.ClusterStore}
 * (versioned, Raft-replicated state), {@link dev.berth.agent.cluster.NodeRegistry} (the node
 * registry and each node's admin state, on top of the store), {@link dev.berth.agent.cluster.GossipView}
 * (each node's fast-changing facts, spread by gossip) and {@link dev.berth.agent.cluster.LeaderElections}.
 * Only the composition root sees {@link dev.berth.agent.cluster.Cluster}, which starts and stops it all.
 *
 * <pre>
 *   AgentMain ── Cluster.start() ──► background thread: Atomix (SWIM + Raft groups "system", "data")
 *                  │                        │
 *                  ├─ Membership ◄──────────┤ membership events, and the servers' verdicts:
 *                  │                        │   heartbeats every 250 ms to each server (AtomixHeartbeats,
 *                  │                        │   direct messages, never Raft), judged there (Liveness)
 *                  ├─ ClusterStore ─────────┤ AtomicMap per table (Raft, group "data")
 *                  ├─ GossipView ◄──────────┤ anti-entropy map "berth-facts" (gossip)
 *                  └─ LeaderElections ──────┘ LeaderElection per topic (Raft)
 * </pre>
 *
 * <p>No Atomix type leaves this package: values go through Atomix as bytes (protobuf of Berth
 * records, {@code cluster_state.proto}), because Atomix's Kryo cannot serialize records and must never define Berth's formats.
 * Until Atomix has started, every call that needs it throws {@code BerthException} of kind
 * {@code UNAVAILABLE} ("the cluster is still starting"); nothing here blocks the local API.
 * Depends on {@code dev.berth.agent} (the domain error) and Atomix; nothing of {@code api},
 * {@code runtime} or {@code image}.
 */
package dev.berth.agent.cluster;
