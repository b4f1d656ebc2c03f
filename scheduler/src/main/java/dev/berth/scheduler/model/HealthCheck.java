package dev.berth.scheduler.model;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * A task group's health check: a command run in each of its containers every {@code interval};
 * {@code retries} failures in a row (not counting those within {@code startPeriod} of the start)
 * make the allocation unhealthy, and its node then reports it failed, so that it is replaced
 * under its job's {@link ReschedulePolicy}. A rolling update waits for new allocations to pass it.
 *
 * @param command     the command and its arguments, run as they are (exec form), or one shell
 *                    command when {@code shell}
 * @param shell       run {@code command}'s one element with {@code /bin/sh -c}
 * @param interval    between the end of one check and the start of the next
 * @param timeout     a check slower than this failed
 * @param retries     failures in a row that make it unhealthy
 * @param startPeriod failures this soon after the start do not count (the service warms up)
 */
public record HealthCheck(List<String> command, boolean shell, Duration interval,
    Duration timeout, int retries, Duration startPeriod) {

  /** Docker's defaults, as the agent's own health checks have them: 30 s, 30 s, 3, none. */
  public static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(30);
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);
  public static final int DEFAULT_RETRIES = 3;

  /** @throws IllegalArgumentException with the reason when a field is unusable */
  public HealthCheck {
    command = List.copyOf(command == null ? List.of() : command);
    if (command.isEmpty()) {
      throw new IllegalArgumentException("a health check needs a command");
    }
    if (shell && command.size() != 1) {
      throw new IllegalArgumentException("a shell health check is one command line");
    }
    Objects.requireNonNull(interval, "interval");
    Objects.requireNonNull(timeout, "timeout");
    Objects.requireNonNull(startPeriod, "startPeriod");
    if (interval.isZero() || interval.isNegative() || timeout.isZero() || timeout.isNegative()) {
      throw new IllegalArgumentException("a health check's interval and timeout must be positive");
    }
    if (startPeriod.isNegative()) {
      throw new IllegalArgumentException("a health check's start period must not be negative");
    }
    if (retries < 1) {
      throw new IllegalArgumentException("a health check's retries must be at least 1");
    }
  }
}
