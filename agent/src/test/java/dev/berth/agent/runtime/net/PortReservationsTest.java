package dev.berth.agent.runtime.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import dev.berth.agent.runtime.net.PortMapping.Protocol;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.channels.DatagramChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real sockets on the loopback interface and the wildcard address; no traffic is sent. Ports
 * are found free by binding port 0 and closing the socket, so another process could take one
 * in between: on a busy machine a test may fail spuriously, never pass wrongly.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class PortReservationsTest {
  final PortReservations ports = new PortReservations();
  final List<AutoCloseable> foreign = new ArrayList<>();

  @AfterEach
  void closeEverything() throws Exception {
    ports.close();
    for (AutoCloseable c : foreign) {
      c.close();
    }
  }

  static int freeTcpPort() throws IOException {
    try (ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.INET)) {
      s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      return ((InetSocketAddress) s.getLocalAddress()).getPort();
    }
  }

  /** Whether this process could bind the port now, as another program would. */
  static boolean canBind(String ip, int port) {
    try (ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.INET)) {
      s.bind(new InetSocketAddress(InetAddress.getByName(ip), port));
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  static PortMapping tcp(String ip, int hostPort) {
    return new PortMapping(Protocol.TCP, ip, hostPort, 80);
  }

  @Test
  void holdsThePortAgainstOtherProgramsUntilReleased() throws Exception {
    int port = freeTcpPort();
    assertEquals(tcp("", port), ports.reserve("c1", tcp("", port)));
    assertEquals(false, canBind("0.0.0.0", port));
    assertEquals(false, canBind("127.0.0.1", port), "the wildcard holds every address");
    assertEquals(List.of(tcp("", port)), ports.reserved("c1"));
    ports.release("c1");
    assertTrue(canBind("0.0.0.0", port));
    assertEquals(List.of(), ports.reserved("c1"));
    ports.release("c1"); // nothing held: no error
  }

  @Test
  void refusesAPortBerthHoldsNamingTheContainer() throws Exception {
    int port = freeTcpPort();
    ports.reserve("c1", "web", tcp("", port));
    BerthException e = assertThrows(BerthException.class, () -> ports.reserve("c2", tcp("", port)));
    assertEquals(BerthException.Kind.FAILED_PRECONDITION, e.kind());
    assertEquals("Bind for 0.0.0.0:" + port + " failed: port is already allocated to container web (0.0.0.0:" + port
        + "->80/tcp)", e.getMessage());
    e = assertThrows(BerthException.class, () -> ports.reserve("c2", tcp("127.0.0.1", port)));
    assertEquals("Bind for 127.0.0.1:" + port + " failed: port is already allocated to container web (0.0.0.0:" + port
        + "->80/tcp)", e.getMessage());
    // The same number on the other protocol is another port.
    ports.reserve("c2", new PortMapping(Protocol.UDP, "", port, 53));
  }

  @Test
  void aSingleAddressLeavesTheOthersFree() throws Exception {
    int port = freeTcpPort();
    ports.reserve("c1", tcp("127.0.0.1", port));
    BerthException e = assertThrows(BerthException.class, () -> ports.reserve("c2", tcp("", port)));
    assertTrue(e.getMessage().endsWith("port is already allocated to container c1 (127.0.0.1:" + port + "->80/tcp)"),
        e.getMessage());
  }

  @Test
  void refusesAPortAnotherProgramListensOn() throws Exception {
    ServerSocketChannel listener = ServerSocketChannel.open(StandardProtocolFamily.INET);
    foreign.add(listener);
    listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    int port = ((InetSocketAddress) listener.getLocalAddress()).getPort();
    BerthException e = assertThrows(BerthException.class, () -> ports.reserve("c1", tcp("", port)));
    assertEquals(BerthException.Kind.FAILED_PRECONDITION, e.kind());
    assertEquals("Bind for 0.0.0.0:" + port + " failed: address already in use", e.getMessage());
    assertEquals(List.of(), ports.reserved("c1"));
  }

  @Test
  void refusesAUdpPortAnotherProgramHolds() throws Exception {
    DatagramChannel other = DatagramChannel.open(StandardProtocolFamily.INET);
    foreign.add(other);
    other.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    int port = ((InetSocketAddress) other.getLocalAddress()).getPort();
    BerthException e = assertThrows(BerthException.class,
        () -> ports.reserve("c1", new PortMapping(Protocol.UDP, "127.0.0.1", port, 53)));
    assertEquals("Bind for 127.0.0.1:" + port + " failed: address already in use", e.getMessage());
  }

  @Test
  void refusesAnAddressTheHostDoesNotHave() {
    // 192.0.2.0/24 is reserved for documentation; binding sends nothing.
    BerthException e = assertThrows(BerthException.class, () -> ports.reserve("c1", tcp("192.0.2.77", 0)));
    if (e.kind() == BerthException.Kind.INVALID_ARGUMENT) {
      assertTrue(e.getMessage().startsWith("Bind for 192.0.2.77:"), e.getMessage());
      assertTrue(e.getMessage().endsWith("(192.0.2.77 is not an address of this host)"), e.getMessage());
    }
  }

  @Test
  void portZeroPicksFreePortsOfTheRangeInTurn(@TempDir Path dir) throws Exception {
    int base = freeTcpPort();
    // A small range starting at a port found free: the first is taken by another program.
    Path range = dir.resolve("ip_local_port_range");
    Files.writeString(range, base + "\t" + (base + 3) + "\n");
    ServerSocketChannel listener = ServerSocketChannel.open(StandardProtocolFamily.INET);
    foreign.add(listener);
    listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), base));
    try (PortReservations small = new PortReservations(range)) {
      List<Integer> got = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        PortMapping m = small.reserve("c" + i, tcp("127.0.0.1", 0));
        assertEquals(80, m.containerPort());
        got.add(m.hostPort());
      }
      // Skips those free ports only if something else took them meanwhile; the first is never handed out.
      assertTrue(got.stream().allMatch(p -> p > base && p <= base + 3), got.toString());
      assertEquals(3, got.stream().distinct().count());
      BerthException e = assertThrows(BerthException.class, () -> small.reserve("c9", tcp("127.0.0.1", 0)));
      assertEquals(BerthException.Kind.RESOURCE_EXHAUSTED, e.kind());
      assertEquals("no free tcp port on 127.0.0.1 in the range " + base + "-" + (base + 3) + " for 127.0.0.1:0->80/tcp",
          e.getMessage());
      small.release("c1");
      assertEquals(got.get(1), small.reserve("c9", tcp("127.0.0.1", 0)).hostPort(), "the released one is the only one left");
    }
  }

  @Test
  void portZeroUsesTheHostsEphemeralRange() throws Exception {
    String[] f = PortReservations.readProcFile(PortReservations.IP_LOCAL_PORT_RANGE).trim().split("\\s+");
    int[] range = {Integer.parseInt(f[0]), Integer.parseInt(f[1])};
    PortMapping a = ports.reserve("c1", tcp("", 0));
    PortMapping b = ports.reserve("c1", new PortMapping(Protocol.UDP, "", 0, 53));
    for (PortMapping m : List.of(a, b)) {
      assertTrue(m.hostPort() >= range[0] && m.hostPort() <= range[1], m.toString());
    }
    assertEquals(false, canBind("0.0.0.0", a.hostPort()));
    PortMapping c = ports.reserve("c2", tcp("", 0));
    assertNotEquals(a.hostPort(), c.hostPort());
  }

  @Test
  void reserveAllIsAllOrNothing() throws Exception {
    int taken = freeTcpPort();
    int free1 = freeTcpPort();
    ports.reserve("other", "db", tcp("", taken));
    BerthException e = assertThrows(BerthException.class,
        () -> ports.reserveAll("c1", "web", List.of(tcp("", free1), tcp("", 0), tcp("", taken))));
    assertTrue(e.getMessage().contains("port is already allocated to container db"), e.getMessage());
    assertEquals(List.of(), ports.reserved("c1"));
    assertTrue(canBind("0.0.0.0", free1), "released after the failure");
    assertEquals(List.of(tcp("", taken)), ports.reserved("other"), "others keep theirs");

    List<PortMapping> got = ports.reserveAll("c1", List.of(tcp("", free1), new PortMapping(Protocol.UDP, "", free1, 53)));
    assertEquals(got, ports.reserved("c1"));
  }

  @Test
  void twiceTheSamePortInOneContainerIsRefused() throws Exception {
    int port = freeTcpPort();
    BerthException e = assertThrows(BerthException.class,
        () -> ports.reserveAll("c1", "web", List.of(tcp("", port), new PortMapping(Protocol.TCP, "", port, 81))));
    assertTrue(e.getMessage().contains("already allocated to container web"), e.getMessage());
    assertEquals(List.of(), ports.reserved("c1"));
  }

  @Test
  void aConnectionToAHeldPortIsRefusedNotAccepted() throws Exception {
    // The held socket never listens: the traffic is meant for the container, through NAT.
    int port = freeTcpPort();
    ports.reserve("c1", tcp("127.0.0.1", port));
    assertThrows(IOException.class, () -> {
      try (SocketChannel c = SocketChannel.open(new InetSocketAddress("127.0.0.1", port))) {
        c.finishConnect();
      }
    });
  }
}
