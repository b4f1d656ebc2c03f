package dev.berth.agent.runtime.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.agent.runtime.net.Firewall.Network;
import dev.berth.agent.runtime.net.Firewall.PublishedPort;
import dev.berth.agent.runtime.net.Firewall.Rules;
import dev.berth.agent.runtime.net.PortMapping.Protocol;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The rules in a real kernel, as root, entirely inside network namespaces the test creates:
 * one plays the host ({@code host}), the others containers on its bridges and, for traffic
 * from outside, a neighbour host. The host's own namespace is never touched; every packet goes
 * to an address inside these namespaces or to 127.0.0.1 within them. The namespaces, and with
 * them the bridges, veths and the nft table, are deleted in @AfterEach.
 *
 * <p>The {@code ip} tool builds the topology here only; in the agent the netlink code does.
 */
@Tag("linux")
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class NftFirewallLinuxTest {
  final String id = "bt-" + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 1).substring(0, 6);
  final String host = id + "h";
  final List<String> namespaces = new ArrayList<>();
  final List<Process> servers = new ArrayList<>();
  NftFirewall firewall;
  @TempDir Path tmp;

  @BeforeAll
  static void onlyAsRootWithTheTools() throws Exception {
    assumeTrue(System.getProperty("os.name").startsWith("Linux"), "needs Linux");
    assumeTrue(Files.readString(Path.of("/proc/self/status")).lines().anyMatch(l -> l.matches("Uid:\\s+0\\s.*")),
        "needs root to create network namespaces");
    for (String tool : List.of("ip", "nft", "busybox")) {
      assumeTrue(run(List.of("sh", "-c", "command -v " + tool)).exit == 0, "needs the " + tool + " tool");
    }
  }

  @BeforeEach
  void createTheHost() throws Exception {
    netns(host);
    // With br_netfilter, conntrack also sees bridged packets and would undo a hairpin's DNAT
    // even without the firewall's masquerade rule; switch it off (in this namespace only) so
    // the test proves the rule. A kernel without the module behaves like this anyway.
    ok("ip", "netns", "exec", host, "sh", "-c",
        "f=/proc/sys/net/bridge/bridge-nf-call-iptables; [ ! -e $f ] || echo 0 > $f");
    firewall = new NftFirewall("bt-test", List.of("ip", "netns", "exec", host, "nft"));
  }

  @AfterEach
  void deleteEverything() throws Exception {
    for (Process p : servers) {
      p.destroyForcibly();
      p.waitFor(10, TimeUnit.SECONDS);
    }
    List<String> failed = new ArrayList<>();
    for (String ns : namespaces) {
      if (run(List.of("ip", "netns", "del", ns)).exit != 0) {
        failed.add(ns);
      }
    }
    assertEquals(List.of(), failed, "namespaces left behind");
  }

  @Test
  void publishedPortsReachTheContainerFromOutsideTheHostItselfAndItsBridge() throws Exception {
    bridge("bt-a", "10.201.0.1/24");
    String a = container("a", "bt-a", "10.201.0.2", "10.201.0.1");
    String b = container("b", "bt-a", "10.201.0.3", "10.201.0.1");
    serve(a, "hello from a");
    String outside = neighbour("x", "10.203.0.1", "10.203.0.2");
    sysctls(List.of("bt-a"));

    Network net = new Network("bt-a", Subnet.parse("10.201.0.0/24"), true);
    firewall.apply(new Rules(List.of(net), List.of(
        PublishedPort.of(PortMapping.tcp(8080, 80), Subnet.parseAddress("10.201.0.2"), "bt-a"),
        PublishedPort.of(new PortMapping(Protocol.TCP, "127.0.0.1", 8081, 80), Subnet.parseAddress("10.201.0.2"), "bt-a"))));

    assertEquals("hello from a", fetch(outside, "10.203.0.1:8080"), "from outside: prerouting");
    assertEquals("hello from a", fetch(host, "127.0.0.1:8080"), "from the host's loopback: output + route_localnet");
    assertEquals("hello from a", fetch(host, "10.201.0.1:8080"), "from the host to its bridge address");
    assertEquals("hello from a", fetch(host, "10.203.0.1:8080"), "from the host to its outside address");
    assertEquals("hello from a", fetch(b, "10.201.0.1:8080"), "from a container of the same bridge: hairpin");
    assertEquals("hello from a", fetch(host, "127.0.0.1:8081"), "published on 127.0.0.1 only");
    assertEquals(null, fetch(host, "10.201.0.1:8081"), "not published on the bridge address");
    assertEquals(null, fetch(outside, "10.203.0.1:8081"), "not published on the outside address");

    // A new state replaces the old one whole.
    firewall.apply(new Rules(List.of(net), List.of(
        PublishedPort.of(PortMapping.tcp(9090, 80), Subnet.parseAddress("10.201.0.2"), "bt-a"))));
    assertEquals(null, fetch(host, "127.0.0.1:8080"));
    assertEquals("hello from a", fetch(host, "127.0.0.1:9090"));
    String listed = nft("list", "table", "ip", "bt-test");
    assertTrue(listed.contains("dport 9090") && !listed.contains("dport 8080"), listed);

    firewall.remove();
    assertFalse(nft("list", "tables").contains("bt-test"), "the table is gone");
    assertEquals(null, fetch(host, "127.0.0.1:9090"));
    firewall.remove(); // again: nothing to remove, no error
  }

  @Test
  void networksAreIsolatedFromEachOtherButNotFromPublishedPorts() throws Exception {
    bridge("bt-a", "10.201.0.1/24");
    bridge("bt-c", "10.202.0.1/24");
    String a = container("a", "bt-a", "10.201.0.2", "10.201.0.1");
    String c = container("c", "bt-c", "10.202.0.2", "10.202.0.1");
    serve(a, "hello from a");
    serve(c, "hello from c");
    sysctls(List.of("bt-a", "bt-c"));
    assertEquals("hello from a", fetch(c, "10.201.0.2:80"), "routed between the bridges before any rule");

    firewall.apply(new Rules(
        List.of(new Network("bt-a", Subnet.parse("10.201.0.0/24"), true), new Network("bt-c", Subnet.parse("10.202.0.0/24"), true)),
        List.of(PublishedPort.of(PortMapping.tcp(8080, 80), Subnet.parseAddress("10.201.0.2"), "bt-a"))));
    assertEquals(null, fetch(c, "10.201.0.2:80"), "c cannot reach a");
    assertEquals(null, fetch(a, "10.202.0.2:80"), "a cannot reach c");
    assertEquals("hello from c", fetch(host, "10.202.0.2:80"), "the host reaches both");
    assertEquals("hello from a", fetch(c, "10.202.0.1:8080"), "a published port is public, to other networks too");

    firewall.remove();
    assertEquals("hello from a", fetch(c, "10.201.0.2:80"), "routed again once the rules are gone");
  }

  // ---------------------------------------------------------------- topology, with the ip tool

  private void netns(String name) throws Exception {
    ok("ip", "netns", "add", name);
    namespaces.add(name);
    ok("ip", "-n", name, "link", "set", "lo", "up");
  }

  private void bridge(String name, String cidr) throws Exception {
    ok("ip", "-n", host, "link", "add", name, "type", "bridge");
    ok("ip", "-n", host, "addr", "add", cidr, "dev", name);
    ok("ip", "-n", host, "link", "set", name, "up");
  }

  /** A namespace on the bridge with {@code address}/24 and a default route through the gateway. */
  private String container(String suffix, String bridge, String address, String gateway) throws Exception {
    String ns = id + suffix;
    netns(ns);
    String veth = "v" + suffix + id.substring(3);
    ok("ip", "-n", host, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns);
    ok("ip", "-n", host, "link", "set", veth, "master", bridge, "up");
    ok("ip", "-n", ns, "addr", "add", address + "/24", "dev", "eth0");
    ok("ip", "-n", ns, "link", "set", "eth0", "up");
    ok("ip", "-n", ns, "route", "add", "default", "via", gateway);
    return ns;
  }

  /** A namespace linked straight to the host, as another machine of its LAN. */
  private String neighbour(String suffix, String hostAddress, String address) throws Exception {
    String ns = id + suffix;
    netns(ns);
    String veth = "v" + suffix + id.substring(3);
    ok("ip", "-n", host, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns);
    ok("ip", "-n", host, "addr", "add", hostAddress + "/24", "dev", veth);
    ok("ip", "-n", host, "link", "set", veth, "up");
    ok("ip", "-n", ns, "addr", "add", address + "/24", "dev", "eth0");
    ok("ip", "-n", ns, "link", "set", "eth0", "up");
    return ns;
  }

  /** What FirewallSysctls would write, written inside the host namespace (where /proc/sys/net is its own). */
  private void sysctls(List<String> bridges) throws Exception {
    for (Map.Entry<String, String> e : FirewallSysctls.settings(bridges).entrySet()) {
      ok("ip", "netns", "exec", host, "sh", "-c", "echo " + e.getValue() + " > /proc/sys/" + e.getKey());
    }
  }

  /** busybox httpd on port 80 of the namespace, answering {@code text}. */
  private void serve(String ns, String text) throws Exception {
    Path www = Files.createDirectories(tmp.resolve(ns));
    Files.writeString(www.resolve("index.html"), text);
    servers.add(new ProcessBuilder("ip", "netns", "exec", ns, "busybox", "httpd", "-f", "-p", "80", "-h", www.toString())
        .redirectErrorStream(true).redirectOutput(tmp.resolve(ns + ".log").toFile()).start());
    for (int i = 0; i < 50; i++) {
      if (text.equals(fetch(ns, "127.0.0.1:80"))) {
        return;
      }
      Thread.sleep(100);
    }
    throw new AssertionError("httpd in " + ns + " did not answer: " + Files.readString(tmp.resolve(ns + ".log")));
  }

  /** The body of http://ADDRESS/ fetched from inside {@code ns}, or null when it cannot be reached. */
  private static String fetch(String ns, String address) throws Exception {
    Result r = run(List.of("ip", "netns", "exec", ns, "timeout", "3", "busybox", "wget", "-q", "-O-", "http://" + address + "/"));
    return r.exit == 0 ? r.output : null;
  }

  private String nft(String... args) throws Exception {
    List<String> argv = new ArrayList<>(List.of("ip", "netns", "exec", host, "nft"));
    argv.addAll(List.of(args));
    Result r = run(argv);
    assertEquals(0, r.exit, r.output);
    return r.output;
  }

  private static void ok(String... argv) throws Exception {
    Result r = run(List.of(argv));
    assertEquals(0, r.exit, String.join(" ", argv) + ": " + r.output);
  }

  private record Result(int exit, String output) {}

  private static Result run(List<String> argv) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
    p.getOutputStream().close();
    byte[] out = p.getInputStream().readAllBytes();
    if (!p.waitFor(30, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError(String.join(" ", argv) + " did not finish");
    }
    return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
  }
}
