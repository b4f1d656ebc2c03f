package dev.berth.agent.cluster;

/**
 * Liveness of a member as the servers judge it (see {@link Liveness}): heartbeats to the servers
 * plus SWIM reachability. Without a server's word at hand, SWIM alone as this agent sees it.
 */
public enum MemberState {
  /** Heard from by the servers within the last second, and reachable by SWIM. */
  ALIVE,
  /** A heartbeat missed, or unreachable by SWIM, but the grace period has not run out. Not yet re-placeable. */
  SUSPECT,
  /**
   * No heartbeat reached the servers for the grace period (or registered and never heard of).
   * Its allocations may be re-placed.
   */
  DOWN
}
