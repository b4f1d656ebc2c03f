package dev.berth.agent.cluster;

/** Liveness of a member as this agent sees it. */
public enum MemberState {
  /** Answers SWIM probes. */
  ALIVE,
  /** Missed probes: unreachable, but the failure timeout has not run out. Not yet re-placeable. */
  SUSPECT,
  /** Gone from the membership after the failure timeout, or registered and never seen. Its allocations may be re-placed. */
  DOWN
}
