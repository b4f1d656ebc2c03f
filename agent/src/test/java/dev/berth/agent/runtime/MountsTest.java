package dev.berth.agent.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class MountsTest {
  @ParameterizedTest
  @CsvSource(delimiterString = "|", value = {
      "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue|/mnt/parent",
      "40 35 0:33 / /var/lib/my\\040dir rw - overlay overlay rw|/var/lib/my dir",
  })
  void readsTheMountPointField(String line, String mountPoint) {
    assertEquals(mountPoint, Mounts.mountPoint(line));
  }
}
