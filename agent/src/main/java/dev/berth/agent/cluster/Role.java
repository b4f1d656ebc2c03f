package dev.berth.agent.cluster;

/** What an agent is in the cluster. */
public enum Role {
  /** Holds a Raft vote and a copy of the replicated state; the set is fixed at creation. */
  SERVER,
  /** Reads and writes the replicated state through the servers; comes and goes freely. */
  MEMBER
}
