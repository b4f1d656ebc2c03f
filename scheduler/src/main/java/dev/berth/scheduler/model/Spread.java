package dev.berth.scheduler.model;

import java.util.List;
import java.util.Objects;

/**
 * Spread a task group's replicas across the values of a node property (e.g. {@code label.zone}).
 * With targets, each named value should get its percentage of the replicas, and values not named
 * share what is left evenly; without, all values seen on feasible nodes get an equal share.
 *
 * @param target  the property, as in {@link Constraint#target()}
 * @param weight  1..100: how much it counts against the other scorers and other spreads; the
 *                spread with the highest weight also steers candidate sampling (see the
 *                scheduler's README)
 * @param targets the percentages, summing to at most 100
 */
public record Spread(String target, int weight, List<SpreadTarget> targets) {

  /** One value's share. */
  public record SpreadTarget(String value, int percent) {
    public SpreadTarget {
      Objects.requireNonNull(value, "value");
      if (percent < 0 || percent > 100) {
        throw new IllegalArgumentException("percent " + percent + " out of range (0..100)");
      }
    }
  }

  /** @throws IllegalArgumentException with the reason when a field is unusable */
  public Spread {
    Objects.requireNonNull(target, "target");
    if (!Node.isPropertyTarget(target)) {
      throw new IllegalArgumentException("unknown attribute \"" + target
          + "\" (use label.KEY, attr.KEY, node.id or node.name)");
    }
    if (weight < 1 || weight > 100) {
      throw new IllegalArgumentException("weight " + weight + " out of range (1..100)");
    }
    targets = List.copyOf(targets == null ? List.of() : targets);
    int sum = targets.stream().mapToInt(SpreadTarget::percent).sum();
    if (sum > 100) {
      throw new IllegalArgumentException("target percentages sum to " + sum + ", more than 100");
    }
  }
}
