package dev.berth.scheduler.score;

import dev.berth.scheduler.GroupContext;
import dev.berth.scheduler.Scorer;

/**
 * Keeps a group's replicas apart, so one host failing takes few of them: a node scores
 * {@code −replicas already there / replicas wanted}, in [−1, 0]. Soft, unlike
 * {@code distinct_hosts}.
 */
public final class JobAntiAffinityScorer implements Scorer {

  private final double weight;

  public JobAntiAffinityScorer(double weight) {
    this.weight = weight;
  }

  @Override
  public String name() {
    return "anti_affinity";
  }

  @Override
  public boolean isNodeLocal() {
    return true;
  }

  @Override
  public double weight() {
    return weight;
  }

  @Override
  public NodeScore prepare(GroupContext group) {
    int total = group.replicaTotal();
    if (total <= 1) {
      return null;
    }
    double inv = 1.0 / total;
    return node -> -Math.min(1.0, group.replicasOn(node) * inv);
  }
}
