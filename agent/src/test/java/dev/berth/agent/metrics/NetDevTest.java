package dev.berth.agent.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class NetDevTest {
  @Test
  void parsesEveryInterfaceButLoopback() {
    String text = """
        Inter-|   Receive                                                |  Transmit
         face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
            lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0
          eth0:12345678   9000    1    2    0     0          0         0  87654321    8000    3    4    0     0       0          0
        veth-x:       5       6    7    8    0     0          0         0        9      10   11   12    0     0       0          0
        """;
    assertEquals(List.of(new NetDev.Interface("eth0", 12345678, 9000, 1, 2, 87654321, 8000, 3, 4),
        new NetDev.Interface("veth-x", 5, 6, 7, 8, 9, 10, 11, 12)), NetDev.parse(text));
  }

  @Test
  void aLineTooShortIsSkippedAndAFieldThatIsNoNumberIsZero() {
    String text = "Inter-|   Receive |  Transmit\n face |bytes packets\n"
        + "  short: 1 2 3\n"
        + "\twlan0:\t7 x 0 0 0 0 0 0 99999999999999999999 3 0 1 0 0 0 0\r\n"
        + "br-1: 1 2 3 4 5 6 7 8 9 10 11 12"; // the last line need not end in a newline
    assertEquals(List.of(new NetDev.Interface("wlan0", 7, 0, 0, 0, 0, 3, 0, 1),
        new NetDev.Interface("br-1", 1, 2, 3, 4, 9, 10, 11, 12)), NetDev.parse(text));
    assertEquals(List.of(), NetDev.parse(""));
  }

  @Test
  void aProcessThatIsGoneHasNoInterfaces() {
    assertEquals(List.of(), NetDev.read(Path.of("/nonexistent-proc"), 42));
    assertEquals(List.of(), NetDev.read(Path.of("/proc"), 0));
  }
}
