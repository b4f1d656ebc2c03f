package dev.berth.scheduler.score;

import dev.berth.scheduler.GroupContext;
import dev.berth.scheduler.Scorer;

/**
 * Steers a replica that is placed again after failing away from the nodes it failed on, as
 * Nomad's node-reschedule penalty: such a node scores −1, any other 0. A failure is often the
 * node's (a full disk, a bad kernel module, a port someone else holds), so another node is the
 * better bet; still a soft preference, so a replica whose only feasible node is the one it failed
 * on is placed there rather than left pending.
 *
 * <p>Bound only to groups with a failed allocation in the snapshot, so that it dilutes no other
 * group's scores.
 */
public final class ReschedulePenaltyScorer implements Scorer {

  private final double weight;

  public ReschedulePenaltyScorer(double weight) {
    this.weight = weight;
  }

  @Override
  public String name() {
    return "reschedule_penalty";
  }

  @Override
  public double weight() {
    return weight;
  }

  @Override
  public NodeScore prepare(GroupContext group) {
    if (!group.hasFailures()) {
      return null;
    }
    return node -> group.failedBefore(node) ? -1 : 0;
  }
}
