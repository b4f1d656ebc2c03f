package dev.berth.scheduler.model;

import java.util.Objects;
import java.util.function.Predicate;

/**
 * A soft preference on a node property, as Nomad's affinity: nodes that satisfy it score higher
 * (positive weight) or lower (negative weight), but any feasible node may still be chosen.
 *
 * @param weight −100..100, not 0
 */
public record Affinity(String target, Operator operator, String value, int weight) {

  /** @throws IllegalArgumentException with the reason when a field is unusable */
  public Affinity {
    Objects.requireNonNull(target, "target");
    Objects.requireNonNull(operator, "operator");
    value = value == null ? "" : value;
    if (weight < -100 || weight > 100 || weight == 0) {
      throw new IllegalArgumentException("weight " + weight + " out of range (-100..100, not 0)");
    }
    new Constraint(target, operator, value); // validates target and value
  }

  public Predicate<String> matcher() {
    return Constraint.matcher(operator, value);
  }
}
