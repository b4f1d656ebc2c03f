package dev.berth.scheduler.model;

import java.time.Duration;

/**
 * How often a failed allocation is placed again elsewhere. Carried for the scheduling loop; the
 * placement engine replaces what the snapshot says needs replacing.
 */
public record ReschedulePolicy(int attempts, Duration interval, Duration delay) {

  /** Unlimited attempts, 30 s apart, counted over an hour: Nomad's service defaults. */
  public static final ReschedulePolicy DEFAULT =
      new ReschedulePolicy(0, Duration.ofHours(1), Duration.ofSeconds(30));
}
