package dev.berth.agent.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class ResourceParserTest {
  @ParameterizedTest(name = "{0} = {1} bytes")
  @CsvSource({
      "'', 0",
      "512m, 536870912",
      "512M, 536870912",
      "1g, 1073741824",
      "1.5g, 1610612736",
      "20m, 20971520",
      "64MiB, 67108864",
      "64mb, 67108864",
      "7340032, 7340032",
      "8192k, 8388608",
  })
  void memoryAcceptsDockerStyleSizes(String text, long bytes) {
    assertEquals(bytes, ResourceParser.memory(text));
  }

  @ParameterizedTest
  @ValueSource(strings = {"lots", "-5m", "5x", "1.5", "1m", "99999999999999999999g"})
  void memoryRejectsWithWhatIsAccepted(String text) {
    BerthException e = assertThrows(BerthException.class, () -> ResourceParser.memory(text));
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind());
    assertTrue(e.getMessage().contains(text), e.getMessage());
  }

  @ParameterizedTest(name = "--cpus {0} = quota {1}")
  @CsvSource({"'', 0", "0.5, 50000", "1, 100000", "0.01, 1000", "1.25, 125000"})
  void cpusBecomeAQuotaPerHundredMilliseconds(String text, long quota) {
    assertEquals(quota, ResourceParser.cpuQuotaMicros(text));
  }

  @ParameterizedTest
  @ValueSource(strings = {"half", "0", "-1", "0.001", "100000"})
  void cpusRejectsWithTheRange(String text) {
    BerthException e = assertThrows(BerthException.class, () -> ResourceParser.cpuQuotaMicros(text));
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind());
  }

  @ParameterizedTest
  @CsvSource({"'', 0, 0", "0.5, 50000, 100000"})
  void limitsCarryThePeriodOnlyWithAQuota(String cpus, long quota, long period) {
    var l = ResourceParser.limits("", cpus, -1);
    assertEquals(quota, l.cpuQuotaMicros());
    assertEquals(period, l.cpuPeriodMicros());
    assertEquals(0, l.pidsMax());
  }
}
