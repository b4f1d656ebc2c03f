package dev.berth.agent.runtime.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RouteTableTest {
  /** As an x86 kernel writes it: each address's bytes in little-endian order. */
  static final String LITTLE_ENDIAN_ROUTES = """
      Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT                                                       
      eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0                                                                               
      eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0                                                                               
      docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
      eth1\t0000000A\t0101A8C0\t0003\t0\t0\t100\t000000FF\t0\t0\t0
      down0\t00001EAC\t00000000\t0000\t0\t0\t0\t0000FFFF\t0\t0\t0
      """;

  static RouteTable fixture() {
    return RouteTable.parse("fixture", LITTLE_ENDIAN_ROUTES, ByteOrder.LITTLE_ENDIAN);
  }

  @Test
  void parsesRoutesThatAreUp() {
    List<String> routes = fixture().routes().stream().map(r -> r + " via " + r.gateway().getHostAddress()).toList();
    assertEquals(List.of("0.0.0.0/0 on eth0 via 192.0.2.1", "192.0.2.0/24 on eth0 via 0.0.0.0",
        "172.17.0.0/16 on docker0 via 0.0.0.0", "10.0.0.0/8 on eth1 via 192.168.1.1"), routes);
    assertTrue(fixture().routes().get(0).isDefault());
  }

  @Test
  void findsOverlapsButNotWithTheDefaultRoute() {
    RouteTable t = fixture();
    assertEquals("192.0.2.0/24 on eth0", t.overlapping(Subnet.parse("192.0.2.0/24")).orElseThrow().toString());
    assertEquals("10.0.0.0/8 on eth1", t.overlapping(Subnet.parse("10.88.0.0/16")).orElseThrow().toString());
    assertEquals("172.17.0.0/16 on docker0", t.overlapping(Subnet.parse("172.16.0.0/12")).orElseThrow().toString());
    assertFalse(t.overlapping(Subnet.parse("172.18.0.0/16")).isPresent());
    assertFalse(t.overlapping(Subnet.parse("172.30.0.0/16")).isPresent(), "that route is down");
  }

  @Test
  void refusesAnOverlappingSubnetNamingTheRoute() {
    BerthException e = assertThrows(BerthException.class, () -> fixture().requireNoOverlap(Subnet.parse("192.0.2.0/24")));
    assertEquals(BerthException.Kind.FAILED_PRECONDITION, e.kind());
    assertEquals("subnet 192.0.2.0/24 overlaps the route 192.0.2.0/24 on eth0", e.getMessage());
    fixture().requireNoOverlap(Subnet.parse("172.18.0.0/16"));
  }

  @Test
  void leavesOutInterfaces() {
    RouteTable t = fixture().excludingInterfaces(i -> i.startsWith("docker"));
    assertFalse(t.overlapping(Subnet.parse("172.17.0.0/16")).isPresent());
    assertEquals(3, t.routes().size());
  }

  @Test
  void readsAFileInTheMachinesByteOrder(@TempDir Path dir) throws Exception {
    String hostOrder = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN ? "0010A8C0" : "C0A81000";
    String mask = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN ? "00F0FFFF" : "FFFFF000";
    Path file = dir.resolve("route");
    Files.writeString(file, "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        + "br0\t" + hostOrder + "\t00000000\t0001\t0\t0\t0\t" + mask + "\t0\t0\t0\n");
    assertEquals("[192.168.16.0/20 on br0]", RouteTable.read(file).routes().toString());
  }

  @Test
  void readsTheRealTable() {
    if (Files.isReadable(RouteTable.PROC_NET_ROUTE)) {
      RouteTable.read(); // must parse whatever this machine has
    }
  }

  @Test
  void reportsWhatItCannotParse(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("route");
    Files.writeString(file, "header\neth0\tzz\t00000000\t0001\t0\t0\t0\t00FFFFFF\n");
    BerthException e = assertThrows(BerthException.class, () -> RouteTable.read(file));
    assertEquals(BerthException.Kind.INTERNAL, e.kind());
    assertEquals("cannot parse line 2 of " + file + " (\"eth0\tzz\t00000000\t0001\t0\t0\t0\t00FFFFFF\"): \"zz\" is not 8 hex digits",
        e.getMessage());
    e = assertThrows(BerthException.class, () -> RouteTable.read(dir.resolve("missing")));
    assertTrue(e.getMessage().startsWith("cannot read the routes in " + dir.resolve("missing")), e.getMessage());
  }
}
