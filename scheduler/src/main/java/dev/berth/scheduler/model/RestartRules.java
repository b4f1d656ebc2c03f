package dev.berth.scheduler.model;

import java.time.Duration;
import java.util.Locale;
import java.util.Objects;

/**
 * How a task group's container is restarted on its node before the node gives up on it, as
 * Nomad's {@code restart} block: up to {@code attempts} restarts within {@code interval}, each
 * after a backoff that starts at {@code delay}; one more within the interval and {@code mode}
 * decides: {@link Mode#FAIL} reports the allocation failed (the scheduler then places it again
 * under the job's reschedule policy), {@link Mode#DELAY} waits out the interval and goes on
 * restarting on the same node.
 *
 * @param delay the restart backoff's base for this container; null: the node's configured base
 */
public record RestartRules(int attempts, Duration interval, Duration delay, Mode mode) {

  /** What happens once the attempts within the interval are used up. */
  public enum Mode {
    FAIL, DELAY;

    public String word() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /**
   * Services: 2 restarts within 30 min, then failed (Nomad's defaults for services): a crash loop
   * is given up on this node and placed elsewhere; the delay is the node's backoff base.
   */
  public static final RestartRules SERVICE_DEFAULT =
      new RestartRules(2, Duration.ofMinutes(30), null, Mode.FAIL);

  /**
   * Batch: 3 restarts (Nomad's attempts for batch) within 24 h, then failed: a batch run that
   * fails three times is for the reschedule policy.
   */
  public static final RestartRules BATCH_DEFAULT =
      new RestartRules(3, Duration.ofHours(24), null, Mode.FAIL);

  /** @throws IllegalArgumentException with the reason when a field is unusable */
  public RestartRules {
    Objects.requireNonNull(interval, "interval");
    Objects.requireNonNull(mode, "mode");
    if (attempts < 0) {
      throw new IllegalArgumentException("attempts " + attempts + " must not be negative");
    }
    if (interval.isZero() || interval.isNegative()) {
      throw new IllegalArgumentException("interval must be more than 0");
    }
    if (delay != null && (delay.isZero() || delay.isNegative())) {
      throw new IllegalArgumentException("delay must be more than 0");
    }
  }

  /** The defaults of a job type. */
  public static RestartRules defaultFor(JobType type) {
    return type == JobType.BATCH ? BATCH_DEFAULT : SERVICE_DEFAULT;
  }
}
