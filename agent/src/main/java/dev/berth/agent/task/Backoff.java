package dev.berth.agent.task;

import dev.berth.agent.BerthException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;

/**
 * The delay before a container is restarted: {@code base} after the first exit, doubled after
 * each further one up to {@code cap}, and back to {@code base} once a run lasted
 * {@code resetAfter} (a stable run), as Docker's restart manager does.
 *
 * <p>One per container. Not thread-safe: its owner serialises the calls.
 */
public final class Backoff {
  /**
   * Its parameters.
   *
   * @param base the first delay; Docker's 100 ms restarts a crashed service at once to a human
   *     and still keeps a crash loop from burning a core
   * @param cap the longest delay; Docker's 1 min bounds how long a fixed fault (a database
   *     back up) leaves a service down
   * @param resetAfter a run this long counts as stable; Docker's 10 s outlasts a typical start-up crash
   */
  public record Settings(Duration base, Duration cap, Duration resetAfter) {
    public static final Settings DEFAULT = new Settings(Duration.ofMillis(100), Duration.ofMinutes(1), Duration.ofSeconds(10));

    /** @throws BerthException INVALID_ARGUMENT unless 0 &lt; base ≤ cap and resetAfter ≥ 0 */
    public Settings {
      if (base == null || base.isNegative() || base.isZero()) {
        throw BerthException.invalid("the restart backoff base must be positive, got " + base);
      }
      if (cap == null || cap.compareTo(base) < 0) {
        throw BerthException.invalid("the restart backoff cap (" + cap + ") must be at least its base (" + base + ")");
      }
      if (resetAfter == null || resetAfter.isNegative()) {
        throw BerthException.invalid("the restart backoff reset must not be negative, got " + resetAfter);
      }
    }
  }

  private final Settings settings;
  private final Clock clock;
  private Duration current = Duration.ZERO;
  private Instant runStarted;

  public Backoff(Settings settings, Clock clock) {
    this.settings = settings;
    this.clock = clock;
  }

  /** A run began at {@code at}; null: now. */
  public void started(Instant at) {
    runStarted = at != null ? at : clock.instant();
  }

  /** The delay before the next restart, the run that just ended taken into account. */
  public Duration next() {
    if (runStarted != null && Duration.between(runStarted, clock.instant()).compareTo(settings.resetAfter()) >= 0) {
      current = Duration.ZERO;
    }
    current = current.isZero() ? settings.base() : min(current.multipliedBy(2), settings.cap());
    return current;
  }

  /** Forgets the delays so far (the user started the container). */
  public void reset() {
    current = Duration.ZERO;
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }
}
