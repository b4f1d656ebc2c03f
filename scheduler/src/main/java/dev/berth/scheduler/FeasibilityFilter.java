package dev.berth.scheduler;

/**
 * A hard test of a node for one task group: a node any filter rejects is never chosen, and the
 * rejection is recorded with a reason a person can act on ("memory 512 MiB needed, 200 MiB
 * free"), kept compactly and put into words when read.
 *
 * <p>A filter is prepared once per task group and evaluation ({@link #prepare}), so that work
 * which does not depend on the node (compiling a regular expression, summing requests) is done
 * once, and the returned {@link Check} runs per node. Implementations hold no state between
 * evaluations and never mutate the {@link GroupContext}.
 *
 * <p>Within one evaluation a filter's verdict may only get worse for a node as replicas are
 * placed (resources are consumed, ports taken), never better: the scheduler relies on that to
 * reject each node at most once per task group (see {@link Scheduler}).
 */
public interface FeasibilityFilter {

  /** The name explanations use ("resources", "constraints"). */
  String name();

  /**
   * Whether the verdict depends only on the node and the task group, not on what this plan has
   * placed so far (readiness, constraints, volumes). The scheduler checks such a filter once per
   * node and task group. For a system job, a node a static filter rejects is simply not a target;
   * one a dynamic filter rejects is a replica that could not be placed.
   */
  boolean isStatic();

  /**
   * Whether the verdict depends only on the node, the task group and what this plan has placed on
   * or stopped on that node: not on other nodes (a per-zone cap would not be), nor on which
   * replica is placed. The scheduler then takes a node that passed for still passing until a
   * placement lands on it, rather than asking again on every visit. Static filters are; dynamic
   * ones say so themselves.
   */
  default boolean isNodeLocal() {
    return isStatic();
  }

  /** The check for one task group, or null when the filter has nothing to check for it. */
  Check prepare(GroupContext group);

  /** A filter bound to one task group. */
  @FunctionalInterface
  interface Check {
    /**
     * Null when the node at {@code node} (a position in the snapshot) passes; else why not. The
     * rejection keeps what the filter saw (numbers, the value that failed) and puts it into words
     * only when read: most rejections of a large evaluation are never read, and a plan must not
     * pay for formatting them.
     */
    Rejection reject(int node);
  }

  /**
   * Why a filter rejected a node, as it stood at the time of the check: immutable, formatted on
   * each call to {@link #reason()}.
   */
  @FunctionalInterface
  interface Rejection {
    /** The reason in words ("memory 512 MiB needed, 200 MiB free"). */
    String reason();
  }
}
