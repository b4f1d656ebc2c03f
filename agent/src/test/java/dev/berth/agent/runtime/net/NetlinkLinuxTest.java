package dev.berth.agent.runtime.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.agent.BerthException;
import dev.berth.agent.runtime.LinuxSyscalls;
import dev.berth.agent.runtime.Syscalls;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Netlink and NetNamespaces against the kernel, as root. Every test works only inside network
 * namespaces it creates (pinned under its temporary directory) and sends traffic only between
 * them; each removes its namespaces afterwards, even when it fails, and checks that no pin is
 * left mounted.
 */
@Tag("linux")
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class NetlinkLinuxTest {
  static final Path MOUNTINFO = Path.of("/proc/self/mountinfo");

  @TempDir Path dir;
  final Syscalls sys = new LinuxSyscalls();
  NetNamespaces netns;
  private final Deque<Path> pins = new ArrayDeque<>();
  private String hostNetns;

  @BeforeAll
  static void onlyAsRootOnLinux() throws IOException {
    assumeTrue(System.getProperty("os.name").startsWith("Linux"), "needs Linux");
    assumeTrue(Files.readString(Path.of("/proc/self/status")).lines()
        .anyMatch(l -> l.matches("Uid:\\s+0\\s.*")), "needs root: network namespaces and bind mounts are privileged");
  }

  @BeforeEach
  void setUp() throws IOException {
    netns = new NetNamespaces(sys);
    hostNetns = Files.readSymbolicLink(NetNamespaces.THREAD_NETNS).toString();
  }

  @AfterEach
  void removeNamespaces() throws IOException {
    try {
      for (Path pin : pins) {
        netns.delete(pin);
      }
      for (Path pin : pins) {
        assertFalse(mounted(pin), pin + " still mounted");
        assertFalse(Files.exists(pin), pin + " still there");
      }
      assertEquals(hostNetns, netns.thread.run(() -> Files.readSymbolicLink(NetNamespaces.THREAD_NETNS).toString()),
          "the namespace thread is at home");
    } finally {
      netns.close();
    }
  }

  /** A new namespace pinned under the test's directory, removed after the test. */
  Path namespace(String name) {
    Path pin = dir.resolve(name);
    pins.push(pin);
    netns.create(pin);
    return pin;
  }

  static boolean mounted(Path pin) throws IOException {
    String want = pin.toString();
    return Files.readAllLines(MOUNTINFO).stream().map(l -> l.split(" ")[4]).anyMatch(want::equals);
  }

  static Inet4Address ip(String s) throws IOException {
    return (Inet4Address) InetAddress.getByName(s);
  }

  @Test
  void aNewNamespaceHasOnlyLoAndItIsUp() throws IOException {
    Path a = namespace("a");
    assertTrue(mounted(a));
    assertTrue(Files.readAllLines(MOUNTINFO).stream().anyMatch(l -> l.contains(" " + a + " ") && l.contains("nsfs")));
    List<Link> links = netns.inside(a, Netlink::links);
    assertEquals(List.of("lo"), links.stream().map(Link::name).toList());
    assertTrue(links.get(0).up());
    String inside = netns.call(a, () -> Files.readSymbolicLink(NetNamespaces.THREAD_NETNS).toString());
    assertNotEquals(hostNetns, inside);
    assertEquals(hostNetns, Files.readSymbolicLink(NetNamespaces.THREAD_NETNS).toString());
  }

  @Test
  void aContainerOnABridgeReachesItsGateway() throws Exception {
    Path a = namespace("host");
    Path b = namespace("container");
    try (Netlink host = netns.netlink(a); Netlink container = netns.netlink(b)) {
      host.createBridge("bt0", 1400);
      host.addAddress("bt0", ip("10.213.0.1"), 24);
      host.setUp("bt0", true);
      host.createVeth("vbt0", "eth0", b, "02:42:0a:d5:00:02");
      host.setMtu("vbt0", 1400);
      host.setMaster("vbt0", "bt0");
      host.setUp("vbt0", true);
      container.setMtu("eth0", 1400);
      container.addAddress("eth0", ip("10.213.0.2"), 24);
      container.setUp("eth0", true);
      container.addDefaultRoute(ip("10.213.0.1"));

      Link bridge = host.link("bt0").orElseThrow();
      assertEquals("bridge", bridge.kind());
      assertEquals(1400, bridge.mtu());
      assertTrue(bridge.up());
      assertEquals(List.of("vbt0"), host.ports("bt0").stream().map(Link::name).toList());
      assertEquals("veth", host.ports("bt0").get(0).kind());
      assertTrue(host.link("eth0").isEmpty(), "the peer was made in the container's namespace only");
      Link eth0 = container.link("eth0").orElseThrow();
      assertEquals("02:42:0a:d5:00:02", eth0.mac());
      assertEquals(List.of(new LinkAddress(eth0.index(), ip("10.213.0.2"), 24)), container.addresses("eth0"));
      assertEquals(List.of("10.213.0.0/24 dev bt0"), host.routes().stream().map(Ipv4Route::toString).toList());
      assertEquals(List.of("0.0.0.0/0 via 10.213.0.1 dev eth0", "10.213.0.0/24 dev eth0"),
          container.routes().stream().map(Ipv4Route::toString).toList());

      // ICMP from the container to the gateway, by a process started in the container's namespace.
      Process ping = new ProcessBuilder("nsenter", "--net=" + b, "busybox", "ping", "-c1", "-W2", "10.213.0.1")
          .redirectErrorStream(true).start();
      assertTrue(ping.waitFor(20, TimeUnit.SECONDS), "ping ended");
      String output = new String(ping.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertEquals(0, ping.exitValue(), output);

      // TCP from a socket made in the container to a listener made in the host namespace.
      try (ServerSocket listener = netns.call(a, () -> new ServerSocket(0, 1, ip("10.213.0.1")));
          Socket client = netns.call(b, () -> {
            Socket s = new Socket();
            s.connect(new InetSocketAddress(ip("10.213.0.1"), listener.getLocalPort()), 5000);
            return s;
          });
          Socket accepted = listener.accept()) {
        assertEquals(ip("10.213.0.2"), accepted.getInetAddress());
        OutputStream out = client.getOutputStream();
        out.write("berth".getBytes(StandardCharsets.UTF_8));
        out.flush();
        InputStream in = accepted.getInputStream();
        assertEquals("berth", new String(in.readNBytes(5), StandardCharsets.UTF_8));
      }

      assertTrue(host.deleteLink("vbt0"));
      assertTrue(container.link("eth0").isEmpty(), "the peer went with it");
      assertTrue(host.deleteLink("bt0"));
      assertFalse(host.deleteLink("bt0"), "gone already: nothing to do");
      assertEquals(List.of("lo"), host.links().stream().map(Link::name).toList());
      assertEquals(List.of("lo"), container.links().stream().map(Link::name).toList());
      assertEquals(List.of(), host.routes());
    }
  }

  @Test
  void refusalsNameWhatWasAsked() throws IOException {
    Path a = namespace("a");
    Path b = namespace("b");
    try (Netlink host = netns.netlink(a)) {
      host.createBridge("bt0", 0);
      NetlinkException twice = assertThrows(NetlinkException.class, () -> host.createBridge("bt0", 0));
      assertEquals("cannot create bridge \"bt0\": File exists", twice.getMessage());
      assertEquals(BerthException.Kind.ALREADY_EXISTS, twice.kind());
      assertEquals(17, twice.errno());

      NetlinkException missing = assertThrows(NetlinkException.class, () -> host.setUp("nope0", true));
      assertEquals(BerthException.Kind.NOT_FOUND, missing.kind());
      assertEquals("cannot set \"nope0\" up: No such device", missing.getMessage());
      assertTrue(host.link("nope0").isEmpty());
      assertFalse(host.deleteLink("nope0"));
      assertEquals(BerthException.Kind.NOT_FOUND,
          assertThrows(BerthException.class, () -> host.addAddress("nope0", ip("10.213.1.1"), 24)).kind());
      assertEquals(BerthException.Kind.NOT_FOUND,
          assertThrows(BerthException.class, () -> host.setMaster("bt0", "nope0")).kind());

      BerthException badName = assertThrows(BerthException.class, () -> host.createBridge("bt-0123456789abc", 0));
      assertEquals(BerthException.Kind.INVALID_ARGUMENT, badName.kind());
      assertTrue(badName.getMessage().contains("longer than 15 bytes"), badName.getMessage());

      host.addAddress("bt0", ip("10.213.1.1"), 24);
      assertEquals(BerthException.Kind.ALREADY_EXISTS,
          assertThrows(NetlinkException.class, () -> host.addAddress("bt0", ip("10.213.1.1"), 24)).kind());

      host.createVeth("vbt0", "eth0", b, null);
      NetlinkException peerTaken = assertThrows(NetlinkException.class, () -> host.createVeth("vbt1", "eth0", b, null));
      assertEquals(BerthException.Kind.ALREADY_EXISTS, peerTaken.kind());
      assertTrue(host.link("vbt1").isEmpty(), "nothing half made");
      assertEquals(BerthException.Kind.NOT_FOUND,
          assertThrows(BerthException.class, () -> host.createVeth("vbt2", "eth1", dir.resolve("none"), null)).kind());

      NetlinkException noRoute = assertThrows(NetlinkException.class, () -> host.addDefaultRoute(ip("10.99.0.1")));
      assertTrue(noRoute.getMessage().startsWith("cannot add default route via 10.99.0.1: "), noRoute.getMessage());
    }
  }

  @Test
  void pinsAreRefusedTwiceAndDeletedAnyNumberOfTimes() throws IOException {
    Path a = namespace("a");
    assertEquals(BerthException.Kind.ALREADY_EXISTS, assertThrows(BerthException.class, () -> netns.create(a)).kind());
    assertTrue(mounted(a), "the first is untouched");
    netns.delete(a);
    netns.delete(a);
    assertFalse(mounted(a));
    Path plain = Files.createFile(dir.resolve("plain"));
    assertEquals(BerthException.Kind.FAILED_PRECONDITION,
        assertThrows(BerthException.class, () -> netns.netlink(plain)).kind());
    netns.delete(plain); // not mounted: only removed
    assertFalse(Files.exists(plain));
  }

  @Test
  void aPinInAMissingDirectoryFailsAndLeavesNothing() {
    Path pin = dir.resolve("missing").resolve("ns");
    assertThrows(RuntimeException.class, () -> netns.create(pin));
    assertFalse(Files.exists(pin));
  }
}
