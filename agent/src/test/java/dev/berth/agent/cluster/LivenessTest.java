package dev.berth.agent.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/** The servers' verdicts against a clock the test moves: suspect after 1 s of silence, down after 2 s. */
class LivenessTest {
  private static final long MS = 1_000_000L;
  private static final long START = 1_000_000 * MS;

  static Stream<Arguments> cases() {
    return Stream.of(
        // last heartbeat (ms after start, -1: never), SWIM reachable (null: unknown to SWIM), now (ms after start), verdict
        Arguments.of("heard just now, reachable", 5000L, true, 5100L, MemberState.ALIVE),
        Arguments.of("heard 900 ms ago", 5000L, true, 5900L, MemberState.ALIVE),
        Arguments.of("a heartbeat missed", 5000L, true, 6100L, MemberState.SUSPECT),
        Arguments.of("heard, but SWIM finds it unreachable", 5000L, false, 5100L, MemberState.SUSPECT),
        Arguments.of("heard, but SWIM removed it", 5000L, null, 5100L, MemberState.SUSPECT),
        Arguments.of("silent for the grace period, SWIM still reachable", 5000L, true, 7100L, MemberState.DOWN),
        Arguments.of("silent and removed", 5000L, null, 9000L, MemberState.DOWN),
        Arguments.of("never heard, server just started", -1L, true, 500L, MemberState.ALIVE),
        Arguments.of("never heard, within a grace period of the server's start", -1L, null, 1500L, MemberState.SUSPECT),
        Arguments.of("never heard, a grace period after the server's start", -1L, true, 2100L, MemberState.DOWN));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void verdict(String name, long heardMs, Boolean reachable, long nowMs, MemberState expected) {
    Liveness l = new Liveness(Duration.ofSeconds(1), Duration.ofSeconds(2), START);
    if (heardMs >= 0) {
      l.heard("n1", START + heardMs * MS);
    }
    Map<String, Boolean> swim = reachable == null ? Map.of() : Map.of("n1", reachable);
    assertEquals(expected, l.evaluate(swim, List.of("n1"), START + nowMs * MS, 42).get("n1").state());
  }

  @Test
  void theVersionGrowsOnlyWithAChangeAndSinceIsTheTimeOfTheChange() {
    Liveness l = new Liveness(Duration.ofSeconds(1), Duration.ofSeconds(2), START);
    l.heard("n1", START);
    Map<String, Liveness.Verdict> first = l.evaluate(Map.of("n1", true), List.of(), START + 100 * MS, 1000);
    long v = l.version();
    assertSame(first, l.evaluate(Map.of("n1", true), List.of(), START + 200 * MS, 1100), "nothing changed");
    assertEquals(v, l.version());
    assertEquals(new Liveness.Verdict(MemberState.SUSPECT, 2200),
        l.evaluate(Map.of("n1", true), List.of(), START + 1200 * MS, 2200).get("n1"));
    assertEquals(v + 1, l.version());
    assertEquals(new Liveness.Verdict(MemberState.DOWN, 3100),
        l.evaluate(Map.of(), List.of(), START + 2100 * MS, 3100).get("n1"));
    l.heard("n1", START + 2500 * MS);
    assertEquals(MemberState.ALIVE, l.evaluate(Map.of("n1", true), List.of(), START + 2600 * MS, 3600).get("n1").state(),
        "a node that comes back is alive again");
  }

  @Test
  void suspicionMustComeBeforeTheGracePeriodEnds() {
    assertThrows(IllegalArgumentException.class, () -> new Liveness(Duration.ofSeconds(2), Duration.ofSeconds(2), 0));
  }
}
