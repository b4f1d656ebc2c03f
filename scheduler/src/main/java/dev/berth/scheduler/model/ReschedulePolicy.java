package dev.berth.scheduler.model;

import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * When an allocation that failed for good on its node (its container ended and its node gave up
 * restarting it, or it turned unhealthy) is placed again, as Nomad's {@code reschedule} block:
 * after a delay that grows with each attempt, at most {@code attempts} times within
 * {@code interval}, or without limit. The placement engine prefers another node than the ones a
 * replica failed on; this record decides only when.
 *
 * @param attempts      how many reschedules are allowed within {@code interval} (unless unlimited)
 * @param interval      the window {@code attempts} is counted over
 * @param delay         the wait before the first reschedule, and the unit the others grow by
 * @param delayFunction how the wait grows with each further attempt
 * @param maxDelay      the longest wait
 * @param unlimited     reschedule for ever; {@code attempts} and {@code interval} do not count
 */
public record ReschedulePolicy(int attempts, Duration interval, Duration delay,
    DelayFunction delayFunction, Duration maxDelay, boolean unlimited) {

  /** How the delay grows from one attempt to the next. */
  public enum DelayFunction {
    /** Always {@code delay}. */
    CONSTANT,
    /** {@code delay}, 2×, 4×, 8× … */
    EXPONENTIAL,
    /** {@code delay}, 1×, 2×, 3×, 5×, 8× … */
    FIBONACCI;

    /** How job files spell it. */
    public String word() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /**
   * Services: without limit, 30 s, doubling up to an hour. Nomad's service defaults: a service
   * should come back somewhere, and the growing delay keeps a broken image from churning the
   * cluster.
   */
  public static final ReschedulePolicy SERVICE_DEFAULT = new ReschedulePolicy(0, Duration.ZERO,
      Duration.ofSeconds(30), DelayFunction.EXPONENTIAL, Duration.ofHours(1), true);

  /**
   * Batch: once a day, after 5 s. Nomad's batch defaults: a batch replica that fails twice in a
   * row is more likely broken than unlucky.
   */
  public static final ReschedulePolicy BATCH_DEFAULT = new ReschedulePolicy(1,
      Duration.ofHours(24), Duration.ofSeconds(5), DelayFunction.CONSTANT, Duration.ofHours(1),
      false);

  /** The service default, for callers that know no job type. */
  public static final ReschedulePolicy DEFAULT = SERVICE_DEFAULT;

  /** @throws IllegalArgumentException with the reason when a field is unusable */
  public ReschedulePolicy {
    Objects.requireNonNull(interval, "interval");
    Objects.requireNonNull(delay, "delay");
    Objects.requireNonNull(delayFunction, "delayFunction");
    Objects.requireNonNull(maxDelay, "maxDelay");
    if (attempts < 0) {
      throw new IllegalArgumentException("attempts " + attempts + " must not be negative");
    }
    if (interval.isNegative() || delay.isNegative() || maxDelay.isNegative()) {
      throw new IllegalArgumentException("durations must not be negative");
    }
    if (maxDelay.compareTo(delay) < 0) {
      throw new IllegalArgumentException("max_delay " + maxDelay.toSeconds()
          + " s is shorter than delay " + delay.toSeconds() + " s");
    }
    if (!unlimited && attempts > 0 && interval.isZero()) {
      throw new IllegalArgumentException("an interval is needed to count " + attempts
          + " attempts over");
    }
  }

  /** The defaults of a job type: system jobs are replaced on their node, with the service's delays. */
  public static ReschedulePolicy defaultFor(JobType type) {
    return type == JobType.BATCH ? BATCH_DEFAULT : SERVICE_DEFAULT;
  }

  /** Whether it ever reschedules. */
  public boolean enabled() {
    return unlimited || attempts > 0;
  }

  /** The wait before reschedule number {@code previous + 1}, given {@code previous} before it. */
  public Duration delayAfter(int previous) {
    long unit = delay.toMillis();
    long max = maxDelay.toMillis();
    long factor = switch (delayFunction) {
      case CONSTANT -> 1;
      case EXPONENTIAL -> previous >= 62 ? Long.MAX_VALUE : 1L << previous;
      case FIBONACCI -> fibonacci(previous);
    };
    if (unit != 0 && factor > max / unit) {
      return maxDelay;
    }
    return Duration.ofMillis(Math.min(max, unit * factor));
  }

  private static long fibonacci(int n) {
    long a = 1;
    long b = 1;
    for (int i = 0; i < n; i++) {
      long c = a + b;
      a = b;
      b = c < 0 ? Long.MAX_VALUE : c;
    }
    return a;
  }

  /**
   * What to do about a replica whose allocation failed.
   *
   * @param earlierMillis when the replica was rescheduled before (each time a failed allocation of
   *                      it was placed again), oldest first
   * @param failedAtMillis when this allocation failed
   * @param nowMillis      now
   */
  public Decision decide(List<Long> earlierMillis, long failedAtMillis, long nowMillis) {
    if (!enabled()) {
      return Decision.never("its job does not reschedule");
    }
    int previous = earlierMillis.size();
    if (!unlimited) {
      long since = nowMillis - interval.toMillis();
      int recent = (int) earlierMillis.stream().filter(t -> t > since).count();
      if (recent >= attempts) {
        return Decision.never("rescheduled " + recent + (recent == 1 ? " time" : " times")
            + " within " + Durations.format(interval) + " already (attempts: " + attempts + ")");
      }
      previous = recent;
    }
    long at = failedAtMillis + delayAfter(previous).toMillis();
    return at <= nowMillis ? Decision.now() : Decision.at(at);
  }

  /**
   * A reschedule verdict: now, at a time ({@code atMillis}), or never (with why).
   *
   * @param atMillis 0 for now, the time for later, −1 for never
   */
  public record Decision(long atMillis, String why) {

    static Decision now() {
      return new Decision(0, "");
    }

    static Decision at(long millis) {
      return new Decision(millis, "");
    }

    static Decision never(String why) {
      return new Decision(-1, why);
    }

    public boolean isNow() {
      return atMillis == 0;
    }

    public boolean isNever() {
      return atMillis < 0;
    }
  }

  /** Short durations for messages: "1h", "90s", "250ms". */
  static final class Durations {
    private Durations() {
    }

    static String format(Duration d) {
      long ms = d.toMillis();
      if (ms % 3_600_000 == 0 && ms > 0) {
        return ms / 3_600_000 + "h";
      }
      if (ms % 60_000 == 0 && ms > 0) {
        return ms / 60_000 + "m";
      }
      if (ms % 1000 == 0) {
        return ms / 1000 + "s";
      }
      return ms + "ms";
    }
  }
}
