package dev.berth.agent.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.berth.agent.BerthException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class SignalsTest {
  @ParameterizedTest(name = "{0} = {1}")
  @CsvSource({"KILL, 9", "SIGKILL, 9", "sigterm, 15", "term, 15", "9, 9", "HUP, 1", "USR1, 10", "WINCH, 28",
      "RTMIN, 34", "RTMIN+3, 37", "'', 15"})
  void parsesNamesAndNumbers(String text, int number) {
    assertEquals(number, Signals.parse(text, 15));
  }

  @ParameterizedTest
  @ValueSource(strings = {"NOPE", "0", "65", "SIGRTMIN+99", "-1"})
  void rejectsUnknownSignals(String text) {
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, assertThrows(BerthException.class, () -> Signals.parse(text, 15)).kind());
  }
}
