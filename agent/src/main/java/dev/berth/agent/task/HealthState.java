package dev.berth.agent.task;

import dev.berth.agent.image.Healthcheck;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The health of a container's current run, as Docker keeps it: a status, the number of
 * failures in a row, and the last {@link #LOG_SIZE} results. Immutable and pure:
 * {@link #next} says what one more result makes of it.
 */
public record HealthState(Status status, int failingStreak, List<HealthResult> log) {
  /** Docker's three words. */
  public enum Status {
    /** No check passed yet, and not enough failed after the start period. */
    STARTING("starting"),
    HEALTHY("healthy"),
    /** {@code retries} checks in a row failed. */
    UNHEALTHY("unhealthy");

    private final String word;

    Status(String word) {
      this.word = word;
    }

    public String word() {
      return word;
    }
  }

  /** Results kept, as Docker keeps them. */
  public static final int LOG_SIZE = 5;
  /** Docker's default: a check every 30 s is cheap and still notices a hung service within two minutes. */
  public static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(30);
  /** Docker's default: a check slower than this counts as failed. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);
  /** Docker's default: failures count from the start. */
  public static final Duration DEFAULT_START_PERIOD = Duration.ZERO;
  /** Docker's default: one slow answer is not an outage, three in a row are. */
  public static final int DEFAULT_RETRIES = 3;

  public HealthState {
    log = List.copyOf(log);
  }

  /** A run that just started. */
  public static HealthState starting() {
    return new HealthState(Status.STARTING, 0, List.of());
  }

  /**
   * The state after {@code r}: a pass makes it healthy and clears the streak; a failure adds to
   * the streak, except while it is still starting within {@code startPeriod} of the container's
   * start, and {@code retries} failures in a row make it unhealthy.
   *
   * @param sinceStart from the container's start to the start of {@code r}
   */
  public HealthState next(HealthResult r, Duration sinceStart, int retries, Duration startPeriod) {
    List<HealthResult> l = new ArrayList<>(log);
    l.add(r);
    if (l.size() > LOG_SIZE) {
      l = l.subList(l.size() - LOG_SIZE, l.size());
    }
    if (r.passed()) {
      return new HealthState(Status.HEALTHY, 0, l);
    }
    if (status == Status.STARTING && sinceStart.compareTo(startPeriod) < 0) {
      return new HealthState(status, failingStreak, l);
    }
    int streak = failingStreak + 1;
    return new HealthState(streak >= retries ? Status.UNHEALTHY : status, streak, l);
  }

  /** The check's interval, or the default. */
  public static Duration interval(Healthcheck h) {
    return h.interval().isZero() ? DEFAULT_INTERVAL : h.interval();
  }

  public static Duration timeout(Healthcheck h) {
    return h.timeout().isZero() ? DEFAULT_TIMEOUT : h.timeout();
  }

  public static Duration startPeriod(Healthcheck h) {
    return h.startPeriod().isZero() ? DEFAULT_START_PERIOD : h.startPeriod();
  }

  public static int retries(Healthcheck h) {
    return h.retries() == 0 ? DEFAULT_RETRIES : h.retries();
  }
}
