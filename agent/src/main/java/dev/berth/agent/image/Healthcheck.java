package dev.berth.agent.image;

import dev.berth.agent.BerthException;
import java.time.Duration;
import java.util.List;

/**
 * A container's health check, as the OCI image config's {@code Healthcheck} field holds it
 * (Docker's HealthConfig: durations in nanoseconds there) and as {@code run --health-*} gives
 * it. A zero duration or retry count means "not set": the image's value applies, then the
 * default (see {@code task.HealthState}).
 *
 * @param test empty: not set; {@code ["NONE"]}: disabled; {@code ["CMD", arg...]}: run the
 *     arguments; {@code ["CMD-SHELL", command]}: run the command with {@code /bin/sh -c}
 */
public record Healthcheck(List<String> test, Duration interval, Duration timeout, Duration startPeriod, int retries) {
  /** Health checks off, also any the image has ({@code --no-healthcheck}). */
  public static final Healthcheck NONE = new Healthcheck(List.of("NONE"), null, null, null, 0);
  /** Docker refuses intervals, timeouts and start periods below this (other than zero, "not set"). */
  public static final Duration MIN_DURATION = Duration.ofMillis(1);

  public Healthcheck {
    test = test == null ? List.of() : List.copyOf(test);
    interval = interval == null ? Duration.ZERO : interval;
    timeout = timeout == null ? Duration.ZERO : timeout;
    startPeriod = startPeriod == null ? Duration.ZERO : startPeriod;
  }

  public boolean disabled() {
    return !test.isEmpty() && test.get(0).equals("NONE");
  }

  /** True when there is a command to run. */
  public boolean enabled() {
    return !test.isEmpty() && !disabled();
  }

  /**
   * This check's fields where set and {@code base}'s where not, as Docker merges a container's
   * health check over its image's. A null {@code base} leaves this one as it is.
   */
  public Healthcheck over(Healthcheck base) {
    if (base == null) {
      return this;
    }
    return new Healthcheck(test.isEmpty() ? base.test : test, interval.isZero() ? base.interval : interval,
        timeout.isZero() ? base.timeout : timeout, startPeriod.isZero() ? base.startPeriod : startPeriod,
        retries == 0 ? base.retries : retries);
  }

  /** The argv to exec in the container: the rest of a CMD test, or {@code /bin/sh -c} with a CMD-SHELL's command. */
  public List<String> command() {
    if (!enabled()) {
      return List.of();
    }
    List<String> rest = test.subList(1, test.size());
    return test.get(0).equals("CMD-SHELL") ? List.of("/bin/sh", "-c", String.join(" ", rest)) : rest;
  }

  /**
   * Checks what Docker's daemon checks.
   *
   * @throws BerthException INVALID_ARGUMENT naming the bad field
   */
  public Healthcheck validate() {
    if (!test.isEmpty()) {
      String kind = test.get(0);
      if (!kind.equals("NONE") && !kind.equals("CMD") && !kind.equals("CMD-SHELL")) {
        throw BerthException.invalid("invalid health check test " + test + ": it must start with NONE, CMD or CMD-SHELL");
      }
      if (!kind.equals("NONE") && test.size() < 2) {
        throw BerthException.invalid("invalid health check test " + test + ": " + kind + " needs a command");
      }
    }
    duration("Interval", interval);
    duration("Timeout", timeout);
    duration("StartPeriod", startPeriod);
    if (retries < 0) {
      throw BerthException.invalid("Retries in Healthcheck cannot be negative");
    }
    return this;
  }

  private static void duration(String name, Duration d) {
    if (d.isNegative() || (!d.isZero() && d.compareTo(MIN_DURATION) < 0)) {
      throw BerthException.invalid(name + " in Healthcheck cannot be less than " + MIN_DURATION.toMillis() + "ms");
    }
  }
}
