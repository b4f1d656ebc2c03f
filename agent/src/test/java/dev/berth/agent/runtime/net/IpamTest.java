package dev.berth.agent.runtime.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import java.net.Inet4Address;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class IpamTest {
  static Inet4Address ip(String text) {
    return Subnet.parseAddress(text);
  }

  static String next(Ipam ipam) {
    return ipam.allocate().getHostAddress();
  }

  @Test
  void handsOutHostAddressesInTurnSkippingTheGateway() {
    Ipam ipam = new Ipam(Subnet.parse("10.88.0.0/24"));
    assertEquals("10.88.0.1", ipam.gateway().getHostAddress());
    assertEquals("10.88.0.2", next(ipam));
    assertEquals("10.88.0.3", next(ipam));
    assertTrue(ipam.release(ip("10.88.0.2")));
    assertFalse(ipam.release(ip("10.88.0.2")), "released twice");
    // Not reused at once: a peer may still have it in its ARP cache.
    assertEquals("10.88.0.4", next(ipam));
    assertEquals(List.of(ip("10.88.0.3"), ip("10.88.0.4")), ipam.allocated());
  }

  @Test
  void wrapsAroundToReleasedAddressesAndNeverGivesNetworkBroadcastOrGateway() {
    Ipam ipam = new Ipam(Subnet.parse("10.0.0.0/29"), ip("10.0.0.6"), List.of());
    List<String> got = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      got.add(next(ipam));
    }
    assertEquals(List.of("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"), got);
    ipam.release(ip("10.0.0.3"));
    assertEquals("10.0.0.3", next(ipam));
    BerthException e = assertThrows(BerthException.class, ipam::allocate);
    assertEquals(BerthException.Kind.RESOURCE_EXHAUSTED, e.kind());
    assertEquals("no free address left in subnet 10.0.0.0/29: all 5 container addresses are in use", e.getMessage());
  }

  @Test
  void aSlash30HoldsOneContainer() {
    Ipam ipam = new Ipam(Subnet.parse("192.0.2.4/30"));
    assertEquals("192.0.2.6", next(ipam));
    assertEquals(BerthException.Kind.RESOURCE_EXHAUSTED, assertThrows(BerthException.class, ipam::allocate).kind());
  }

  @Test
  void refusesSubnetsWithoutRoom() {
    BerthException e = assertThrows(BerthException.class, () -> new Ipam(Subnet.parse("10.0.0.0/31")));
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind());
  }

  @Test
  void handsOutARequestedAddress() {
    Ipam ipam = new Ipam(Subnet.parse("10.88.0.0/24"));
    assertEquals(ip("10.88.0.9"), ipam.allocate(ip("10.88.0.9")));
    assertEquals("10.88.0.2", next(ipam));
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', textBlock = """
      10.89.0.5   | INVALID_ARGUMENT | address 10.89.0.5 is outside subnet 10.88.0.0/24
      10.88.0.0   | INVALID_ARGUMENT | address 10.88.0.0 is the network address of subnet 10.88.0.0/24
      10.88.0.255 | INVALID_ARGUMENT | address 10.88.0.255 is the broadcast address of subnet 10.88.0.0/24
      10.88.0.1   | INVALID_ARGUMENT | address 10.88.0.1 is the gateway of subnet 10.88.0.0/24
      10.88.0.7   | ALREADY_EXISTS   | address 10.88.0.7 is already in use in subnet 10.88.0.0/24
      """)
  void refusesRequestedAddresses(String address, BerthException.Kind kind, String message) {
    Ipam ipam = new Ipam(Subnet.parse("10.88.0.0/24"), ip("10.88.0.1"), List.of(ip("10.88.0.7")));
    BerthException e = assertThrows(BerthException.class, () -> ipam.allocate(ip(address)));
    assertEquals(kind, e.kind());
    assertEquals(message, e.getMessage());
  }

  @Test
  void rebuildsFromTheAddressesInUse() {
    Ipam ipam = new Ipam(Subnet.parse("10.88.0.0/24"), ip("10.88.0.1"),
        List.of(ip("10.88.0.2"), ip("10.88.0.4"), ip("10.88.0.1")));
    assertEquals(List.of(ip("10.88.0.2"), ip("10.88.0.4")), ipam.allocated(), "the gateway is not an allocation");
    assertEquals("10.88.0.3", next(ipam));
    assertEquals("10.88.0.5", next(ipam));
    BerthException e = assertThrows(BerthException.class,
        () -> new Ipam(Subnet.parse("10.88.0.0/24"), ip("10.88.0.1"), List.of(ip("10.99.0.2"))));
    assertEquals("address 10.99.0.2 is not a host address of subnet 10.88.0.0/24", e.getMessage());
    e = assertThrows(BerthException.class, () -> new Ipam(Subnet.parse("10.88.0.0/24"), ip("10.88.0.255"), List.of()));
    assertEquals("gateway 10.88.0.255 is not a host address of subnet 10.88.0.0/24", e.getMessage());
  }

  @Test
  void concurrentAllocationsAreDistinct() throws Exception {
    Ipam ipam = new Ipam(Subnet.parse("10.0.0.0/20"));
    Set<Inet4Address> got = java.util.concurrent.ConcurrentHashMap.newKeySet();
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < 8; t++) {
      threads.add(new Thread(() -> {
        for (int i = 0; i < 500; i++) {
          got.add(ipam.allocate());
        }
      }));
    }
    threads.forEach(Thread::start);
    for (Thread t : threads) {
      t.join();
    }
    assertEquals(4000, got.size());
    assertEquals(new HashSet<>(ipam.allocated()), got);
  }

  @Test
  void defaultPoolIsDockers() {
    assertEquals(30, Ipam.DEFAULT_POOL.size());
    assertEquals("172.18.0.0/16", Ipam.DEFAULT_POOL.get(0).toString());
    assertEquals("172.31.0.0/16", Ipam.DEFAULT_POOL.get(13).toString());
    assertEquals("192.168.0.0/20", Ipam.DEFAULT_POOL.get(14).toString());
    assertEquals("192.168.240.0/20", Ipam.DEFAULT_POOL.get(29).toString());
  }

  static final String ROUTES = """
      Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
      eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
      eth0\t000012AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
      wg0\t000813AC\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
      """;

  @Test
  void choosesTheFirstSubnetFreeOfNetworksAndRoutes() {
    RouteTable routes = RouteTable.parse("fixture", ROUTES, ByteOrder.LITTLE_ENDIAN);
    // 172.18 is routed on eth0, 172.19.8.0/24 on wg0, 172.20 is a network already: the default route does not count.
    Subnet chosen = Ipam.chooseSubnet(Ipam.DEFAULT_POOL, List.of(Subnet.parse("172.20.0.0/16")), routes);
    assertEquals("172.21.0.0/16", chosen.toString());
    assertEquals("172.18.0.0/16", Ipam.chooseSubnet(Ipam.DEFAULT_POOL, List.of(), new RouteTable(List.of())).toString());
  }

  @Test
  void saysWhenThePoolIsUsedUp() {
    BerthException e = assertThrows(BerthException.class, () -> Ipam.chooseSubnet(Ipam.DEFAULT_POOL,
        List.of(Subnet.parse("172.16.0.0/12"), Subnet.parse("192.168.0.0/16")), new RouteTable(List.of())));
    assertEquals(BerthException.Kind.RESOURCE_EXHAUSTED, e.kind());
    assertTrue(e.getMessage().startsWith("all predefined address pools have been fully subnetted"), e.getMessage());
  }
}
