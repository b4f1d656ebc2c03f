package dev.berth.agent.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.berth.agent.BerthException;
import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class DurationsTest {
  @ParameterizedTest
  @CsvSource({"100ms, 100000000", "1s, 1000000000", "1.5s, 1500000000", "1m30s, 90000000000", "2h, 7200000000000",
      "10us, 10000", "7ns, 7", "0, 0", "0s, 0"})
  void parsesGoDurations(String text, long nanos) {
    assertEquals(Duration.ofNanos(nanos), Durations.parse(text));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "5", "1x", "s", "-1s", "1s ", "1 s"})
  void refusesTheRest(String text) {
    assertThrows(BerthException.class, () -> Durations.parse(text));
  }
}
