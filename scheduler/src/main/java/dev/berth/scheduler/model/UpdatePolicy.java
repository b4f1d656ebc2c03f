package dev.berth.scheduler.model;

import java.time.Duration;
import java.util.Locale;
import java.util.Objects;

/**
 * How a new version of a job replaces the old one, as Nomad's {@code update} block: at most
 * {@code maxParallel} replicas of a task group are in transition at a time (replaced and not yet
 * healthy, or waiting for a node), a new allocation counts as healthy once it has run (and passed
 * its health check, if the group has one) for {@code minHealthyTime}, and one that is not healthy
 * within {@code healthyDeadline} of its placement fails the update, which {@code autoRevert}
 * answers by going back to the job's last stable version. A node drain moves allocations at the
 * same pace. The scheduling loop applies it; the placement engine replaces what it is told to.
 *
 * <p>{@code order} says whether a replica's old allocation is stopped before its new one is
 * placed ({@link Order#STOP_FIRST}: healthy capacity dips by up to {@code maxParallel}), or the new
 * one is placed and must become healthy before the old one is stopped ({@link Order#START_FIRST}:
 * capacity never drops below the count, at the price of room for a second copy).
 */
public record UpdatePolicy(int maxParallel, Duration minHealthyTime, Duration healthyDeadline,
    boolean autoRevert, Order order) {

  /** Which copy of a replica goes first during a rolling update. */
  public enum Order {
    STOP_FIRST, START_FIRST;

    /** As a job file spells it: {@code stop-first}, {@code start-first}. */
    public String word() {
      return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** The order a job file names, or null for an unknown word. */
    public static Order parse(String word) {
      for (Order o : values()) {
        if (o.word().equals(word)) {
          return o;
        }
      }
      return null;
    }
  }

  /**
   * One at a time, 10 s healthy, 5 min deadline, no auto revert: Nomad's defaults; stop-first,
   * because start-first needs room for a second copy of the replica, which a full cluster or a
   * fixed host port does not give.
   */
  public static final UpdatePolicy DEFAULT =
      new UpdatePolicy(1, Duration.ofSeconds(10), Duration.ofMinutes(5), false, Order.STOP_FIRST);

  /** @throws IllegalArgumentException with the reason when a field is unusable */
  public UpdatePolicy {
    Objects.requireNonNull(minHealthyTime, "minHealthyTime");
    Objects.requireNonNull(healthyDeadline, "healthyDeadline");
    order = order == null ? Order.STOP_FIRST : order;
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

  /** A stop-first policy. */
  public UpdatePolicy(int maxParallel, Duration minHealthyTime, Duration healthyDeadline,
      boolean autoRevert) {
    this(maxParallel, minHealthyTime, healthyDeadline, autoRevert, Order.STOP_FIRST);
  }
}
