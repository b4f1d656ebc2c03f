package dev.berth.agent.runtime.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.agent.BerthException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Encoding and decoding of rtnetlink messages, without a kernel. */
class RtnlCodecTest {
  static Inet4Address ip(String s) throws Exception {
    return (Inet4Address) InetAddress.getByName(s);
  }

  @Test
  void aBridgeRequestIsByteForByteWhatTheKernelExpects() {
    assumeTrue(ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN, "the expected bytes are little-endian");
    String expected = ""
        + "38000000" + "1000" + "0506" + "07000000" + "00000000" // nlmsghdr: 56 bytes, RTM_NEWLINK, REQUEST|ACK|EXCL|CREATE, seq 7
        + "00000000" + "00000000" + "00000000" + "00000000" // ifinfomsg: all zero
        + "0800" + "0300" + "62723000" // IFLA_IFNAME "br0\0"
        + "1000" + "1200" // IFLA_LINKINFO, 16 bytes
        + "0b00" + "0100" + "62726964676500" + "00"; // IFLA_INFO_KIND "bridge\0", one byte of padding
    assertEquals(expected, HexFormat.of().formatHex(RtnlCodec.newBridge("br0", 0).encode(7)));
  }

  @Test
  void aBridgeWithAnMtuCarriesIt() {
    NetlinkMessage m = reparse(RtnlCodec.newBridge("br0", 1400).encode(1));
    assertEquals(1400, NetlinkMessage.attributes(m.body(), 16).get(RtnlCodec.IFLA_MTU).getInt(0));
  }

  @Test
  void anMtuChangeNamesTheLink() {
    NetlinkMessage m = reparse(RtnlCodec.setMtu("vb0", 1400).encode(1));
    assertEquals(RtnlCodec.RTM_SETLINK, m.type());
    assertEquals("vb0", NetlinkMessage.string(NetlinkMessage.attributes(m.body(), 16).get(RtnlCodec.IFLA_IFNAME)));
    assertEquals(1400, NetlinkMessage.attributes(m.body(), 16).get(RtnlCodec.IFLA_MTU).getInt(0));
  }

  @Test
  void aVethRequestNestsThePeerWithItsNamespaceAndMac() {
    NetlinkMessage m = reparse(RtnlCodec.newVeth("vb0", "eth0", 42, "02:42:0a:d5:00:02").encode(3));
    assertEquals(RtnlCodec.RTM_NEWLINK, m.type());
    assertEquals(RtnlCodec.CREATE, m.flags());
    Map<Integer, ByteBuffer> attrs = NetlinkMessage.attributes(m.body(), 16);
    assertEquals("vb0", NetlinkMessage.string(attrs.get(RtnlCodec.IFLA_IFNAME)));
    Map<Integer, ByteBuffer> info = NetlinkMessage.attributes(attrs.get(RtnlCodec.IFLA_LINKINFO), 0);
    assertEquals("veth", NetlinkMessage.string(info.get(RtnlCodec.IFLA_INFO_KIND)));
    ByteBuffer peer = NetlinkMessage.attributes(info.get(RtnlCodec.IFLA_INFO_DATA), 0).get(RtnlCodec.VETH_INFO_PEER);
    Map<Integer, ByteBuffer> peerAttrs = NetlinkMessage.attributes(peer, 16); // after the peer's ifinfomsg
    assertEquals("eth0", NetlinkMessage.string(peerAttrs.get(RtnlCodec.IFLA_IFNAME)));
    assertEquals(42, peerAttrs.get(RtnlCodec.IFLA_NET_NS_FD).getInt(0));
    assertEquals("02:42:0a:d5:00:02", RtnlCodec.formatMac(NetlinkMessage.bytes(peerAttrs.get(RtnlCodec.IFLA_ADDRESS))));
  }

  @Test
  void aVethWithoutNamespaceOrMacLeavesThemOut() {
    NetlinkMessage m = reparse(RtnlCodec.newVeth("vb0", "vb1", -1, null).encode(3));
    ByteBuffer info = NetlinkMessage.attributes(m.body(), 16).get(RtnlCodec.IFLA_LINKINFO);
    ByteBuffer peer = NetlinkMessage.attributes(NetlinkMessage.attributes(info, 0).get(RtnlCodec.IFLA_INFO_DATA), 0)
        .get(RtnlCodec.VETH_INFO_PEER);
    assertEquals(java.util.Set.of(RtnlCodec.IFLA_IFNAME), NetlinkMessage.attributes(peer, 16).keySet());
  }

  @Test
  void upAndDownChangeOnlyTheUpFlag() {
    ByteBuffer up = reparse(RtnlCodec.setUp("eth0", true).encode(1)).body();
    ByteBuffer down = reparse(RtnlCodec.setUp("eth0", false).encode(1)).body();
    assertEquals(List.of(1, 1), List.of(up.getInt(8), up.getInt(12)));
    assertEquals(List.of(0, 1), List.of(down.getInt(8), down.getInt(12)));
  }

  @Test
  void anAddressRequestNamesTheLinkByIndexAndTheAddressTwice() throws Exception {
    NetlinkMessage m = reparse(RtnlCodec.newAddress(7, ip("10.213.0.1"), 24).encode(1));
    assertEquals(RtnlCodec.RTM_NEWADDR, m.type());
    assertEquals(RtnlCodec.AF_INET, m.body().get(0));
    assertEquals(24, m.body().get(1));
    assertEquals(7, m.body().getInt(4));
    Map<Integer, ByteBuffer> attrs = NetlinkMessage.attributes(m.body(), 8);
    assertEquals("0ad50001", HexFormat.of().formatHex(NetlinkMessage.bytes(attrs.get(RtnlCodec.IFA_LOCAL))));
    assertEquals("0ad50001", HexFormat.of().formatHex(NetlinkMessage.bytes(attrs.get(RtnlCodec.IFA_ADDRESS))));
  }

  @Test
  void aDefaultRouteGoesToTheMainTableViaItsGateway() throws Exception {
    NetlinkMessage m = reparse(RtnlCodec.newDefaultRoute(ip("10.213.0.1")).encode(1));
    ByteBuffer b = m.body();
    assertEquals(List.of(2, 0, 254, 4, 0, 1), List.of((int) b.get(0), (int) b.get(1), b.get(4) & 0xff, (int) b.get(5),
        (int) b.get(6), (int) b.get(7)));
    assertEquals(ip("10.213.0.1"), InetAddress.getByAddress(
        NetlinkMessage.bytes(NetlinkMessage.attributes(b, 12).get(RtnlCodec.RTA_GATEWAY))));
  }

  @Test
  void aLinkMessageDecodes() {
    byte[] reply = new NetlinkRequest(RtnlCodec.RTM_NEWLINK, 2).ifinfomsg(0, 5, 0x1003, 0)
        .attrString(RtnlCodec.IFLA_IFNAME, "vb0").attrInt(RtnlCodec.IFLA_MTU, 1500).attrInt(RtnlCodec.IFLA_MASTER, 3)
        .attr(RtnlCodec.IFLA_ADDRESS, new byte[] {2, 0x42, 10, (byte) 0xd5, 0, 2})
        .begin(RtnlCodec.IFLA_LINKINFO).attrString(RtnlCodec.IFLA_INFO_KIND, "veth").end().encode(9);
    assertEquals(new Link(5, "vb0", 3, "veth", true, 1500, "02:42:0a:d5:00:02"), RtnlCodec.link(reparse(reply)));
    byte[] lo = new NetlinkRequest(RtnlCodec.RTM_NEWLINK, 2).ifinfomsg(0, 1, 0, 0)
        .attrString(RtnlCodec.IFLA_IFNAME, "lo").encode(9);
    assertEquals(new Link(1, "lo", 0, "", false, 0, ""), RtnlCodec.link(reparse(lo)));
  }

  @Test
  void anAddressMessageDecodesPreferringTheLocalAddress() throws Exception {
    byte[] reply = new NetlinkRequest(RtnlCodec.RTM_NEWADDR, 2).ifaddrmsg(RtnlCodec.AF_INET, 24, 0, 4)
        .attr(RtnlCodec.IFA_ADDRESS, ip("10.0.0.9").getAddress()).attr(RtnlCodec.IFA_LOCAL, ip("10.0.0.1").getAddress())
        .encode(1);
    assertEquals(Optional.of(new LinkAddress(4, ip("10.0.0.1"), 24)), RtnlCodec.address(reparse(reply)));
    byte[] inet6 = new NetlinkRequest(RtnlCodec.RTM_NEWADDR, 2).ifaddrmsg(10, 64, 0, 4).encode(1);
    assertEquals(Optional.empty(), RtnlCodec.address(reparse(inet6)));
  }

  @Test
  void routesOfTheMainTableDecodeAndOthersAreLeftOut() throws Exception {
    byte[] subnet = new NetlinkRequest(RtnlCodec.RTM_NEWROUTE, 2).rtmsg(2, 24, 254, 2, 253, 1)
        .attr(RtnlCodec.RTA_DST, ip("10.213.0.0").getAddress()).attrInt(RtnlCodec.RTA_TABLE, 254)
        .attrInt(RtnlCodec.RTA_OIF, 3).encode(1);
    assertEquals(Optional.of(new Ipv4Route(ip("10.213.0.0"), 24, null, 3, "")), RtnlCodec.route(reparse(subnet)));
    byte[] byDefault = new NetlinkRequest(RtnlCodec.RTM_NEWROUTE, 2).rtmsg(2, 0, 254, 4, 0, 1)
        .attr(RtnlCodec.RTA_GATEWAY, ip("10.213.0.1").getAddress()).attrInt(RtnlCodec.RTA_OIF, 2).encode(1);
    Ipv4Route route = RtnlCodec.route(reparse(byDefault)).orElseThrow();
    assertTrue(route.isDefault());
    assertEquals(ip("0.0.0.0"), route.destination());
    assertEquals(ip("10.213.0.1"), route.gateway());
    byte[] local = new NetlinkRequest(RtnlCodec.RTM_NEWROUTE, 2).rtmsg(2, 32, 255, 2, 254, 2)
        .attrInt(RtnlCodec.RTA_TABLE, 255).attr(RtnlCodec.RTA_DST, ip("127.0.0.1").getAddress()).encode(1);
    assertEquals(Optional.empty(), RtnlCodec.route(reparse(local)));
  }

  @Test
  void oneDatagramHoldsSeveralMessagesAndACutOneIsRefused() {
    byte[] a = RtnlCodec.setUp("a", true).encode(1);
    byte[] b = RtnlCodec.setUp("bb", true).encode(2);
    byte[] both = new byte[a.length + b.length];
    System.arraycopy(a, 0, both, 0, a.length);
    System.arraycopy(b, 0, both, a.length, b.length);
    assertEquals(List.of(1, 2), NetlinkMessage.parse(both, both.length).stream().map(NetlinkMessage::seq).toList());
    assertThrows(IllegalStateException.class, () -> NetlinkMessage.parse(both, both.length - 4));
  }

  @ParameterizedTest(name = "\"{0}\" is a valid name")
  @ValueSource(strings = {"eth0", "lo", "berth0", "vb-0123456789ab", "a_b.c"})
  void validNames(String name) {
    assertEquals(name, Netlink.checkName(name));
  }

  @ParameterizedTest(name = "\"{0}\" is refused")
  @ValueSource(strings = {"", "vb-0123456789abc", ".", "..", "a/b", "a:b", "a b", "a\tb", "éééééééé"})
  void invalidNames(String name) {
    BerthException e = assertThrows(BerthException.class, () -> Netlink.checkName(name));
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind());
    assertTrue(e.getMessage().startsWith("invalid interface name \"" + name + "\": "), e.getMessage());
  }

  @ParameterizedTest(name = "MAC \"{0}\" is refused")
  @ValueSource(strings = {"", "02:42:0a:d5:00", "02-42-0a-d5-00-02", "01:00:5e:00:00:01", "zz:42:0a:d5:00:02"})
  void invalidMacs(String mac) {
    assertEquals(BerthException.Kind.INVALID_ARGUMENT,
        assertThrows(BerthException.class, () -> RtnlCodec.newVeth("a", "b", -1, mac)).kind());
  }

  @Test
  void aPrefixLengthBeyond32IsRefused() throws Exception {
    Inet4Address address = ip("10.0.0.1");
    assertThrows(BerthException.class, () -> RtnlCodec.newAddress(1, address, 33));
    assertFalse(RtnlCodec.newAddress(1, address, 32).encode(1).length == 0);
  }

  private static NetlinkMessage reparse(byte[] bytes) {
    List<NetlinkMessage> messages = NetlinkMessage.parse(bytes, bytes.length);
    assertEquals(1, messages.size());
    return messages.get(0);
  }
}
