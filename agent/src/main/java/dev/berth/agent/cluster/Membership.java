package dev.berth.agent.cluster;

import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Which agents are in the cluster and whether they are alive. The state is the servers' verdict
 * (heartbeats to the servers plus SWIM reachability, judged by the Raft leader: a node is
 * {@link MemberState#SUSPECT} after a missed heartbeat or when SWIM cannot reach it, and
 * {@link MemberState#DOWN} when the servers have not heard from it for the grace period); while
 * no server's verdict is at hand, SWIM's view from this agent. Those that left are remembered as down.
 *
 * <p>Read-only and thread-safe. Before the cluster has started it knows only the local member.
 */
public interface Membership {
  /** This agent. */
  Member local();

  /** Every member known, sorted by name, including down ones. */
  List<Member> members();

  Optional<Member> member(String name);

  /**
   * Calls {@code listener} with a member's new view after each change of its state or address.
   * Called on Atomix's event thread: it must return quickly and never block on the cluster.
   */
  void addListener(Consumer<Member> listener);

  void removeListener(Consumer<Member> listener);
}
