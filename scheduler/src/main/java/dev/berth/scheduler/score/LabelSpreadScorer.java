package dev.berth.scheduler.score;

import dev.berth.scheduler.GroupContext;
import dev.berth.scheduler.Scorer;
import dev.berth.scheduler.SpreadTally;
import java.util.List;

/**
 * Spread across the values of a label or attribute with target percentages: a node scores by how
 * far its value is below its share, {@code (desired − count) / desired} clamped to [−1, 1]; a
 * value at or over its share scores zero or less, and a node lacking the property −1. Several
 * spreads combine by their weights.
 *
 * <p>The scorer alone cannot keep a spread within one of its target when the sample holds no node
 * of the value that is short; the scheduler's sampler therefore draws candidates from the value
 * furthest below its share first (see {@code CandidateSampler}).
 */
public final class LabelSpreadScorer implements Scorer {

  private final double weight;

  public LabelSpreadScorer(double weight) {
    this.weight = weight;
  }

  @Override
  public String name() {
    return "spread";
  }

  @Override
  public double weight() {
    return weight;
  }

  @Override
  public NodeScore prepare(GroupContext group) {
    List<SpreadTally> tallies = group.spreadTallies();
    if (tallies.isEmpty()) {
      return null;
    }
    SpreadTally[] t = tallies.toArray(new SpreadTally[0]);
    double total = 0;
    for (SpreadTally s : t) {
      total += s.spread().weight();
    }
    double weightSum = total;
    return node -> {
      double sum = 0;
      for (SpreadTally s : t) {
        sum += s.spread().weight() * score(s, node);
      }
      return sum / weightSum;
    };
  }

  static double score(SpreadTally s, int node) {
    int v = s.valueOf(node);
    if (v < 0) {
      return -1;
    }
    double desired = s.desired(v);
    if (desired <= 0) {
      return -1;
    }
    double d = (desired - s.count(v)) / desired;
    return Math.max(-1, Math.min(1, d));
  }
}
