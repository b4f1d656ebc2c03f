package dev.berth.ctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

@Timeout(10)
class DaemonAddressTest {
  @ParameterizedTest(name = "[{index}] {0}")
  @CsvSource({
      "'', unix:///run/berth/berthd.sock",
      "/run/berth/berthd.sock, unix:///run/berth/berthd.sock",
      "unix:///var/run/b.sock, unix:///var/run/b.sock",
      "./b.sock, unix://./b.sock",
      "localhost:2375, tcp://localhost:2375",
      "tcp://10.1.2.3:7000/, tcp://10.1.2.3:7000",
      "[::1]:80, tcp://[::1]:80",
  })
  void parses(String spec, String display) {
    assertEquals(display, DaemonAddress.parse(spec).display());
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"nonsense", "host:", ":80", "host:http", "host:70000", "unix://", "http://h:1"})
  void rejects(String spec) {
    assertThrows(CliException.class, () -> DaemonAddress.parse(spec));
  }
}
