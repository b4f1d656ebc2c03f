package dev.berth.agent.task;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.berth.agent.image.Healthcheck;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class HealthStateTest {
  static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");

  /**
   * Results as "P" (passed) or "F" (failed), each at the given seconds after the container's
   * start, with retries 3 and a start period of 10 s → the status and streak after each.
   */
  static Stream<Arguments> sequences() {
    return Stream.of(
        Arguments.of("a pass makes it healthy", "P@1", "healthy/0"),
        Arguments.of("failures after the start period count", "F@11 F@12 F@13", "starting/1 starting/2 unhealthy/3"),
        Arguments.of("failures in the start period do not", "F@1 F@2 F@3 F@4", "starting/0 starting/0 starting/0 starting/0"),
        Arguments.of("...until it ends", "F@9 F@10 F@11 F@12", "starting/0 starting/1 starting/2 unhealthy/3"),
        Arguments.of("once healthy the start period is over", "P@1 F@2 F@3 F@4", "healthy/0 healthy/1 healthy/2 unhealthy/3"),
        Arguments.of("a pass heals", "P@1 F@2 F@3 F@4 P@5", "healthy/0 healthy/1 healthy/2 unhealthy/3 healthy/0"),
        Arguments.of("a pass between failures clears the streak", "P@1 F@2 F@3 P@4 F@5 F@6",
            "healthy/0 healthy/1 healthy/2 healthy/0 healthy/1 healthy/2"),
        Arguments.of("unhealthy stays so while it fails", "F@20 F@21 F@22 F@23", "starting/1 starting/2 unhealthy/3 unhealthy/4"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("sequences")
  void follows(String name, String results, String expected) {
    HealthState h = HealthState.starting();
    StringBuilder got = new StringBuilder();
    for (String r : results.split(" ")) {
      int at = Integer.parseInt(r.substring(2));
      HealthResult res = new HealthResult(T0.plusSeconds(at), T0.plusSeconds(at), r.charAt(0) == 'P' ? 0 : 1, "");
      h = h.next(res, Duration.ofSeconds(at), 3, Duration.ofSeconds(10));
      got.append(got.length() == 0 ? "" : " ").append(h.status().word()).append('/').append(h.failingStreak());
    }
    assertEquals(expected, got.toString());
  }

  @Test
  void keepsTheLastFiveResults() {
    HealthState h = HealthState.starting();
    for (int i = 0; i < 7; i++) {
      h = h.next(new HealthResult(T0.plusSeconds(i), T0.plusSeconds(i), i % 2, "run " + i), Duration.ofSeconds(i), 3,
          Duration.ZERO);
    }
    assertEquals(List.of("run 2", "run 3", "run 4", "run 5", "run 6"), h.log().stream().map(HealthResult::output).toList());
  }

  @Test
  void anyExitCodeButZeroFails() {
    HealthState h = HealthState.starting();
    for (int code : new int[] {1, 2, 127, -1}) {
      h = h.next(new HealthResult(T0, T0, code, ""), Duration.ofSeconds(1), 9, Duration.ZERO);
    }
    assertEquals(4, h.failingStreak());
  }

  @Test
  void unsetFieldsTakeDockersDefaults() {
    Healthcheck none = new Healthcheck(List.of("CMD", "true"), null, null, null, 0);
    assertEquals(Duration.ofSeconds(30), HealthState.interval(none));
    assertEquals(Duration.ofSeconds(30), HealthState.timeout(none));
    assertEquals(Duration.ZERO, HealthState.startPeriod(none));
    assertEquals(3, HealthState.retries(none));
  }
}
