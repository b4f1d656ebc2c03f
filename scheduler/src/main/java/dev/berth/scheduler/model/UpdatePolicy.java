package dev.berth.scheduler.model;

import java.time.Duration;

/**
 * How a new version of a job replaces the old one. Carried for the scheduling loop; the placement
 * engine does not read it yet.
 */
public record UpdatePolicy(int maxParallel, Duration minHealthyTime, Duration healthyDeadline,
    boolean autoRevert) {

  /** One at a time, 10 s healthy, 5 min deadline, no auto revert: Nomad's defaults. */
  public static final UpdatePolicy DEFAULT =
      new UpdatePolicy(1, Duration.ofSeconds(10), Duration.ofMinutes(5), false);
}
