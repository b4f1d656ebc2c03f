package dev.berth.agent.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.berth.agent.BerthException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class BackoffTest {
  /** A clock the test moves. */
  static final class FakeClock extends Clock {
    Instant now = Instant.parse("2026-01-01T00:00:00Z");

    void advance(Duration d) {
      now = now.plus(d);
    }

    @Override
    public ZoneOffset getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }
  }

  static final Backoff.Settings DOCKER = Backoff.Settings.DEFAULT;

  /** How long each run lasted (ms) → the delay after it (ms), with Docker's settings (100 ms, 1 min, 10 s). */
  static Stream<Arguments> sequences() {
    return Stream.of(
        Arguments.of("a crash loop doubles", List.of(0L, 0L, 0L, 0L), List.of(100L, 200L, 400L, 800L)),
        Arguments.of("up to the cap", List.of(0L, 0L, 0L, 0L, 0L, 0L, 0L, 0L, 0L, 0L, 0L),
            List.of(100L, 200L, 400L, 800L, 1600L, 3200L, 6400L, 12800L, 25600L, 51200L, 60000L)),
        Arguments.of("a stable run resets", List.of(0L, 0L, 0L, 10_000L, 0L), List.of(100L, 200L, 400L, 100L, 200L)),
        Arguments.of("just short of stable does not", List.of(0L, 9_999L), List.of(100L, 200L)),
        Arguments.of("runs that grow, never stable", List.of(1000L, 2000L, 4000L), List.of(100L, 200L, 400L)));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("sequences")
  void delays(String name, List<Long> runs, List<Long> expected) {
    FakeClock clock = new FakeClock();
    Backoff b = new Backoff(DOCKER, clock);
    List<Long> delays = new ArrayList<>();
    for (long run : runs) {
      b.started(null);
      clock.advance(Duration.ofMillis(run));
      Duration d = b.next();
      delays.add(d.toMillis());
      clock.advance(d);
    }
    assertEquals(expected, delays);
  }

  @Test
  void aUserStartForgetsTheDelays() {
    FakeClock clock = new FakeClock();
    Backoff b = new Backoff(new Backoff.Settings(Duration.ofMillis(50), Duration.ofMillis(150), Duration.ofSeconds(1)), clock);
    b.started(clock.instant());
    assertEquals(List.of(50L, 100L, 150L, 150L), List.of(b.next().toMillis(), b.next().toMillis(), b.next().toMillis(),
        b.next().toMillis()));
    b.reset();
    assertEquals(50, b.next().toMillis());
  }

  @Test
  void anAdoptedRunCountsFromItsOwnStart() {
    FakeClock clock = new FakeClock();
    Backoff b = new Backoff(DOCKER, clock);
    b.started(clock.instant());
    b.next();
    b.next();
    b.started(clock.instant().minusSeconds(60)); // re-adopted: it has run for a minute already
    assertEquals(100, b.next().toMillis());
  }

  @Test
  void settingsAreChecked() {
    assertThrows(BerthException.class, () -> new Backoff.Settings(Duration.ZERO, Duration.ofSeconds(1), Duration.ZERO));
    assertThrows(BerthException.class,
        () -> new Backoff.Settings(Duration.ofSeconds(2), Duration.ofSeconds(1), Duration.ZERO));
    assertThrows(BerthException.class,
        () -> new Backoff.Settings(Duration.ofSeconds(1), Duration.ofSeconds(1), Duration.ofSeconds(-1)));
  }
}
