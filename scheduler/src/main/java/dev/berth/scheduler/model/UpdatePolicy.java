package dev.berth.scheduler.model;

import java.time.Duration;
import java.util.Objects;

/**
 * How a new version of a job replaces the old one, as Nomad's {@code update} block: at most
 * {@code maxParallel} replicas of a task group are in transition at a time (replaced and not yet
 * healthy, or waiting for a node), a new allocation counts as healthy once it has run (and passed
 * its health check, if the group has one) for {@code minHealthyTime}, and one that is not healthy
 * within {@code healthyDeadline} of its placement fails the update, which {@code autoRevert}
 * answers by going back to the job's last stable version. A node drain moves allocations at the
 * same pace. The scheduling loop applies it; the placement engine replaces what it is told to.
 */
public record UpdatePolicy(int maxParallel, Duration minHealthyTime, Duration healthyDeadline,
    boolean autoRevert) {

  /** One at a time, 10 s healthy, 5 min deadline, no auto revert: Nomad's defaults. */
  public static final UpdatePolicy DEFAULT =
      new UpdatePolicy(1, Duration.ofSeconds(10), Duration.ofMinutes(5), false);

  /** @throws IllegalArgumentException with the reason when a field is unusable */
  public UpdatePolicy {
    Objects.requireNonNull(minHealthyTime, "minHealthyTime");
    Objects.requireNonNull(healthyDeadline, "healthyDeadline");
    if (maxParallel < 1) {
      throw new IllegalArgumentException("max_parallel " + maxParallel + " must be at least 1");
    }
    if (minHealthyTime.isNegative()) {
      throw new IllegalArgumentException("min_healthy_time must not be negative");
    }
    if (healthyDeadline.compareTo(minHealthyTime) <= 0) {
      throw new IllegalArgumentException("healthy_deadline (" + healthyDeadline.toMillis()
          + " ms) must be longer than min_healthy_time (" + minHealthyTime.toMillis() + " ms)");
    }
  }
}
