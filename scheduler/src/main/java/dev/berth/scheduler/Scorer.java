package dev.berth.scheduler;

/**
 * A soft preference among feasible nodes. Each scorer yields a score in [−1, 1] (most in [0, 1]);
 * the scheduler combines them as a weighted mean, so no one scorer's scale can drown the others,
 * and picks the highest (the first in sample order on a tie).
 *
 * <p>Prepared once per task group and evaluation, like a {@link FeasibilityFilter}. A scorer
 * reads the {@link GroupContext} (what is used on each node, where the group's replicas are) as
 * it stands when the score is asked for.
 */
public interface Scorer {

  /** The name explanations and weights use. */
  String name();

  /** How much it counts in the weighted mean, from {@link SchedulerConfig}; positive. */
  double weight();

  /**
   * Whether the score depends only on the node, the task group and what this plan has placed on
   * that node: not on other nodes (a spread's tallies), nor on which replica is placed (a
   * reschedule's failed nodes). The scheduler then keeps a node's score until a placement lands
   * on it, rather than asking again on every visit.
   */
  default boolean isNodeLocal() {
    return false;
  }

  /** The score for one task group, or null when the scorer has nothing to say about it. */
  NodeScore prepare(GroupContext group);

  /** A scorer bound to one task group. */
  @FunctionalInterface
  interface NodeScore {
    /** The score, in [−1, 1], of placing one more replica on the node at {@code node}. */
    double score(int node);
  }
}
