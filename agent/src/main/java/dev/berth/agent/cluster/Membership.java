package dev.berth.agent.cluster;

import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Which agents are in the cluster and whether they are alive: SWIM membership plus, for those
 * that left it, the memory that they were there (state {@link MemberState#DOWN}).
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
