package dev.berth.agent.runtime.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SubnetTest {

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', textBlock = """
      # cidr          | network      | broadcast       | gateway      | netmask         | size
      172.30.0.0/16   | 172.30.0.0   | 172.30.255.255  | 172.30.0.1   | 255.255.0.0     | 65536
      10.0.0.0/8      | 10.0.0.0     | 10.255.255.255  | 10.0.0.1     | 255.0.0.0       | 16777216
      192.168.16.0/20 | 192.168.16.0 | 192.168.31.255  | 192.168.16.1 | 255.255.240.0   | 4096
      192.0.2.4/30    | 192.0.2.4    | 192.0.2.7       | 192.0.2.5    | 255.255.255.252 | 4
      255.255.255.0/24| 255.255.255.0| 255.255.255.255 | 255.255.255.1| 255.255.255.0   | 256
      """)
  void parsesAndDescribes(String cidr, String network, String broadcast, String gateway, String netmask, long size) {
    Subnet s = Subnet.parse(cidr);
    assertEquals(cidr, s.toString());
    assertEquals(s, Subnet.parse(s.toString()));
    assertEquals(network, s.network().getHostAddress());
    assertEquals(broadcast, s.broadcast().getHostAddress());
    assertEquals(gateway, s.gateway().getHostAddress());
    assertEquals(netmask, s.netmask().getHostAddress());
    assertEquals(size, s.size());
  }

  @Test
  void wholeSpaceAndSingleHost() {
    assertEquals("0.0.0.0/0", Subnet.parse("0.0.0.0/0").toString());
    assertEquals(1, Subnet.parse("10.1.2.3/32").size());
    BerthException e = assertThrows(BerthException.class, () -> Subnet.parse("10.1.2.3/32").gateway());
    assertEquals("subnet 10.1.2.3/32 is too small for a gateway and containers: at most /30", e.getMessage());
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', textBlock = """
      x               | invalid subnet "x": no prefix length, expected a.b.c.d/n
      10.0.0.0        | invalid subnet "10.0.0.0": no prefix length, expected a.b.c.d/n
      10.0.0/8        | invalid subnet "10.0.0/8": expected four dot-separated numbers
      10.0.0.256/24   | invalid subnet "10.0.0.256/24": "256" is not a number from 0 to 255
      10.0.0.01/32    | invalid subnet "10.0.0.01/32": "01" has a leading zero
      10.0.0.0/33     | invalid subnet "10.0.0.0/33": prefix length "33" is not a number from 0 to 32
      10.0.0.0/       | invalid subnet "10.0.0.0/": prefix length "" is not a number from 0 to 32
      10.0.0.0/-1     | invalid subnet "10.0.0.0/-1": prefix length "-1" is not a number from 0 to 32
      172.30.0.1/16   | invalid subnet "172.30.0.1/16": host bits are set, the network is 172.30.0.0/16
      a.b.c.d/8       | invalid subnet "a.b.c.d/8": "a" is not a number from 0 to 255
      ::1/128         | invalid subnet "::1/128": expected four dot-separated numbers
      """)
  void refusesBadInput(String cidr, String message) {
    BerthException e = assertThrows(BerthException.class, () -> Subnet.parse(cidr));
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind());
    assertEquals(message, e.getMessage());
  }

  @Test
  void refusesBadAddresses() {
    BerthException e = assertThrows(BerthException.class, () -> Subnet.parseAddress("localhost"));
    assertEquals("invalid IPv4 address \"localhost\": expected four dot-separated numbers", e.getMessage());
    assertEquals("127.0.0.1", Subnet.parseAddress("127.0.0.1").getHostAddress());
  }

  @Test
  void contains() {
    Subnet s = Subnet.parse("172.30.0.0/16");
    assertTrue(s.contains(Subnet.parseAddress("172.30.0.0")));
    assertTrue(s.contains(Subnet.parseAddress("172.30.255.255")));
    assertFalse(s.contains(Subnet.parseAddress("172.31.0.0")));
    assertFalse(s.contains(Subnet.parseAddress("172.29.255.255")));
    assertTrue(Subnet.parse("0.0.0.0/0").contains(Subnet.parseAddress("255.255.255.255")));
  }

  @ParameterizedTest(name = "{0} and {1}: {2}")
  @CsvSource(textBlock = """
      172.30.0.0/16,   172.30.5.0/24,   true
      172.30.5.0/24,   172.30.0.0/16,   true
      172.30.0.0/16,   172.31.0.0/16,   false
      192.168.0.0/20,  192.168.16.0/20, false
      192.168.0.0/20,  192.168.15.0/24, true
      0.0.0.0/0,       10.0.0.0/8,      true
      10.0.0.4/30,     10.0.0.8/30,     false
      10.0.0.4/32,     10.0.0.4/30,     true
      """)
  void overlaps(String a, String b, boolean expected) {
    assertEquals(expected, Subnet.parse(a).overlaps(Subnet.parse(b)));
    assertEquals(expected, Subnet.parse(b).overlaps(Subnet.parse(a)));
  }

  @Test
  void containingClearsHostBits() {
    assertEquals(Subnet.parse("10.88.0.0/24"), Subnet.containing(Subnet.parseAddress("10.88.0.77"), 24));
  }
}
