package dev.berth.agent.runtime.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import dev.berth.agent.runtime.net.Firewall.Network;
import dev.berth.agent.runtime.net.Firewall.PublishedPort;
import dev.berth.agent.runtime.net.Firewall.Rules;
import dev.berth.agent.runtime.net.PortMapping.Protocol;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The script as text, and how failures of the command are reported; no kernel involved. */
class NftFirewallTest {
  static final Network BR0 = new Network("bt-br0", Subnet.parse("10.88.0.0/24"), true);
  static final Network BR1 = new Network("bt-br1", Subnet.parse("10.89.0.0/24"), false);

  @Test
  void rendersNetworksAndPublishedPorts() {
    Rules rules = new Rules(List.of(BR0, BR1), List.of(
        PublishedPort.of(PortMapping.tcp(8080, 80), Subnet.parseAddress("10.88.0.2"), "bt-br0"),
        PublishedPort.of(new PortMapping(Protocol.UDP, "127.0.0.1", 5353, 53), Subnet.parseAddress("10.89.0.7"), "bt-br1")));
    assertEquals("""
        table ip berth {}
        delete table ip berth
        table ip berth {
        \tchain prerouting {
        \t\ttype nat hook prerouting priority dstnat; policy accept;
        \t\tfib daddr type local tcp dport 8080 dnat to 10.88.0.2:80
        \t\tip daddr 127.0.0.1 udp dport 5353 dnat to 10.89.0.7:53
        \t}
        \tchain output {
        \t\ttype nat hook output priority -100; policy accept;
        \t\tfib daddr type local tcp dport 8080 dnat to 10.88.0.2:80
        \t\tip daddr 127.0.0.1 udp dport 5353 dnat to 10.89.0.7:53
        \t}
        \tchain postrouting {
        \t\ttype nat hook postrouting priority srcnat; policy accept;
        \t\tip saddr 127.0.0.0/8 oifname "bt-br0" masquerade
        \t\tip saddr 10.88.0.0/24 oifname "bt-br0" ct status dnat masquerade
        \t\tip saddr 10.88.0.0/24 oifname != "bt-br0" masquerade
        \t\tip saddr 127.0.0.0/8 oifname "bt-br1" masquerade
        \t\tip saddr 10.89.0.0/24 oifname "bt-br1" ct status dnat masquerade
        \t}
        \tchain forward {
        \t\ttype filter hook forward priority filter; policy accept;
        \t\tct status dnat accept
        \t\tiifname "bt-br0" oifname { "bt-br1" } drop
        \t\tiifname "bt-br1" oifname { "bt-br0" } drop
        \t\tiifname "bt-br0" accept
        \t\toifname "bt-br0" accept
        \t\tiifname "bt-br1" accept
        \t\toifname "bt-br1" accept
        \t}
        \tchain input {
        \t\ttype filter hook input priority filter; policy accept;
        \t\tiifname "bt-br0" ip daddr 127.0.0.0/8 ct state != { established, related } drop
        \t\tiifname "bt-br1" ip daddr 127.0.0.0/8 ct state != { established, related } drop
        \t}
        }
        """, NftFirewall.render("berth", rules));
  }

  @Test
  void rendersNothingButEmptyChainsWithoutNetworks() {
    assertEquals("""
        table ip bt-1a2b {}
        delete table ip bt-1a2b
        table ip bt-1a2b {
        \tchain prerouting {
        \t\ttype nat hook prerouting priority dstnat; policy accept;
        \t}
        \tchain output {
        \t\ttype nat hook output priority -100; policy accept;
        \t}
        \tchain postrouting {
        \t\ttype nat hook postrouting priority srcnat; policy accept;
        \t}
        \tchain forward {
        \t\ttype filter hook forward priority filter; policy accept;
        \t}
        \tchain input {
        \t\ttype filter hook input priority filter; policy accept;
        \t}
        }
        """, NftFirewall.render("bt-1a2b", Rules.EMPTY));
    assertEquals("table ip berth {}\ndelete table ip berth\n", NftFirewall.renderRemove("berth"));
  }

  @ParameterizedTest(name = "\"{0}\" -> {1}")
  @CsvSource(textBlock = """
      berth,        berth
      bt-1A2B,      bt-1a2b
      'bt 1:2',     bt_1_2
      1abc,         berth-1abc
      _x,           berth-_x
      '',           berth
      """)
  void tableNames(String prefix, String table) {
    assertEquals(table, NftFirewall.tableName(prefix));
    assertEquals(table, new NftFirewall(prefix).table());
  }

  @Test
  void refusesNamesThatWouldChangeTheScript() {
    for (String bad : List.of("br\"0", "br 0", "br0\n", "", "a-name-longer-than-15", "..", "br/0")) {
      BerthException e = assertThrows(BerthException.class, () -> new Network(bad, Subnet.parse("10.0.0.0/24"), true));
      assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind(), bad);
    }
  }

  @Test
  void refusesInconsistentRules() {
    PublishedPort onBr0 = PublishedPort.of(PortMapping.tcp(8080, 80), Subnet.parseAddress("10.88.0.2"), "bt-br0");
    PublishedPort sameOnLoopback = PublishedPort.of(new PortMapping(Protocol.TCP, "127.0.0.1", 8080, 81),
        Subnet.parseAddress("10.88.0.3"), "bt-br0");
    assertEquals("host port 8080/tcp is published twice", assertThrows(BerthException.class,
        () -> new Rules(List.of(BR0), List.of(onBr0, sameOnLoopback))).getMessage());
    assertEquals("published port 8080/tcp names bridge bt-br0, which is not among the networks",
        assertThrows(BerthException.class, () -> new Rules(List.of(BR1), List.of(onBr0))).getMessage());
    assertEquals("bridge bt-br0 is listed twice among the networks",
        assertThrows(BerthException.class, () -> new Rules(List.of(BR0, BR0), List.of())).getMessage());
    assertEquals("published port 10.88.0.2:80 has no host port; reserve one first", assertThrows(BerthException.class,
        () -> PublishedPort.of(PortMapping.tcp(0, 80), Subnet.parseAddress("10.88.0.2"), "bt-br0")).getMessage());
    // Same port on another protocol is fine.
    new Rules(List.of(BR0), List.of(onBr0, PublishedPort.of(new PortMapping(Protocol.UDP, "", 8080, 80),
        Subnet.parseAddress("10.88.0.2"), "bt-br0")));
  }

  @Test
  void feedsTheScriptToTheCommand(@TempDir Path dir) throws Exception {
    Path got = dir.resolve("script");
    // sh -c SCRIPT nft -f -: "nft" becomes $0, "-f" and "-" $1 and $2.
    NftFirewall fw = new NftFirewall("berth", List.of("sh", "-c", "echo \"$1 $2\" > " + got + ".args; cat > " + got, "nft"));
    fw.apply(Rules.EMPTY);
    assertEquals(NftFirewall.render("berth", Rules.EMPTY), Files.readString(got));
    assertEquals("-f -\n", Files.readString(Path.of(got + ".args")));
    fw.remove();
    assertEquals(NftFirewall.renderRemove("berth"), Files.readString(got));
  }

  @Test
  void reportsWhatNftSaid() {
    NftFirewall fw = new NftFirewall("berth",
        List.of("sh", "-c", "cat > /dev/null; echo 'Error: Could not process rule: No such file or directory' >&2; exit 1", "nft"));
    BerthException e = assertThrows(BerthException.class, () -> fw.apply(Rules.EMPTY));
    assertEquals(BerthException.Kind.INTERNAL, e.kind());
    assertEquals("nft could not apply the rules of table ip berth (exit status 1): "
        + "Error: Could not process rule: No such file or directory", e.getMessage());
  }

  @Test
  void saysWhenNftIsMissing() {
    NftFirewall fw = new NftFirewall("berth", List.of("/nonexistent/nft"));
    BerthException e = assertThrows(BerthException.class, fw::remove);
    assertEquals(BerthException.Kind.FAILED_PRECONDITION, e.kind());
    assertTrue(e.getMessage().startsWith("cannot run /nonexistent/nft (the nft binary of the nftables package is needed"),
        e.getMessage());
  }

  @Test
  void sysctlSettingsForTheBridges(@TempDir Path procSys) throws Exception {
    assertEquals(Map.of("net/ipv4/ip_forward", "1", "net/ipv4/conf/bt-br0/route_localnet", "1"),
        FirewallSysctls.settings(List.of("bt-br0")));
    Files.createDirectories(procSys.resolve("net/ipv4/conf/bt-br0"));
    FirewallSysctls.apply(procSys, List.of("bt-br0"));
    assertEquals("1", Files.readString(procSys.resolve("net/ipv4/ip_forward")));
    assertEquals("1", Files.readString(procSys.resolve("net/ipv4/conf/bt-br0/route_localnet")));
    BerthException e = assertThrows(BerthException.class, () -> FirewallSysctls.apply(procSys, List.of("missing0")));
    assertEquals(BerthException.Kind.FAILED_PRECONDITION, e.kind());
    assertTrue(e.getMessage().startsWith("cannot set " + procSys.resolve("net/ipv4/conf/missing0/route_localnet") + " to 1"),
        e.getMessage());
    assertThrows(BerthException.class, () -> FirewallSysctls.settings(List.of("../../x")));
  }
}
