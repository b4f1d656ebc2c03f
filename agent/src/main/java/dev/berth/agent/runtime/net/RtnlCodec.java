package dev.berth.agent.runtime.net;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.berth.agent.BerthException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;

/**
 * The rtnetlink requests Berth sends and the replies it reads, as pure functions over bytes,
 * so that they are tested without a kernel. Constants are those of linux/rtnetlink.h,
 * if_link.h, if_addr.h and veth.h. {@link Netlink} sends what this builds.
 */
final class RtnlCodec {
  static final int RTM_NEWLINK = 16;
  static final int RTM_DELLINK = 17;
  static final int RTM_GETLINK = 18;
  static final int RTM_SETLINK = 19;
  static final int RTM_NEWADDR = 20;
  static final int RTM_GETADDR = 22;
  static final int RTM_NEWROUTE = 24;
  static final int RTM_GETROUTE = 26;

  static final int NLM_F_REQUEST = 0x1;
  static final int NLM_F_ACK = 0x4;
  static final int NLM_F_DUMP = 0x300;
  static final int NLM_F_EXCL = 0x200;
  static final int NLM_F_CREATE = 0x400;
  /** A request that creates something new and fails with EEXIST when it exists. */
  static final int CREATE = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
  static final int CHANGE = NLM_F_REQUEST | NLM_F_ACK;
  static final int DUMP = NLM_F_REQUEST | NLM_F_DUMP;

  static final int AF_UNSPEC = 0;
  static final int AF_INET = 2;

  static final int IFF_UP = 0x1;

  static final int IFLA_ADDRESS = 1;
  static final int IFLA_IFNAME = 3;
  static final int IFLA_MTU = 4;
  static final int IFLA_MASTER = 10;
  static final int IFLA_LINKINFO = 18;
  static final int IFLA_NET_NS_FD = 28;
  static final int IFLA_INFO_KIND = 1;
  static final int IFLA_INFO_DATA = 2;
  static final int VETH_INFO_PEER = 1;

  static final int IFA_ADDRESS = 1;
  static final int IFA_LOCAL = 2;

  static final int RTA_DST = 1;
  static final int RTA_OIF = 4;
  static final int RTA_GATEWAY = 5;
  static final int RTA_TABLE = 15;
  static final int RT_TABLE_MAIN = 254;
  /** Routes Berth adds are "static", as an administrator's are, not "boot" (ip's default) or a daemon's. */
  static final int RTPROT_STATIC = 4;
  static final int RT_SCOPE_UNIVERSE = 0;
  static final int RTN_UNICAST = 1;

  /** IFNAMSIZ less the terminating NUL. */
  static final int MAX_NAME_BYTES = 15;

  private RtnlCodec() {}

  /**
   * Checks an interface name as the kernel's dev_valid_name does: 1 to 15 bytes, not "." or
   * "..", no '/', ':' or white space.
   *
   * @throws BerthException INVALID_ARGUMENT naming it and the reason
   */
  static String checkName(String name) {
    String reason = null;
    if (name == null || name.isEmpty()) {
      reason = "it is empty";
    } else if (name.getBytes(UTF_8).length > MAX_NAME_BYTES) {
      reason = "it is longer than " + MAX_NAME_BYTES + " bytes";
    } else if (name.equals(".") || name.equals("..")) {
      reason = "it is a directory's name";
    } else if (name.chars().anyMatch(c -> c == '/' || c == ':' || Character.isWhitespace(c) || c == 0)) {
      reason = "it contains '/', ':', a NUL or white space";
    }
    if (reason != null) {
      throw BerthException.invalid("invalid interface name \"" + name + "\": " + reason);
    }
    return name;
  }

  static NetlinkRequest newBridge(String name, int mtu) {
    NetlinkRequest r = new NetlinkRequest(RTM_NEWLINK, CREATE).ifinfomsg(AF_UNSPEC, 0, 0, 0)
        .attrString(IFLA_IFNAME, checkName(name));
    if (mtu > 0) {
      r.attrInt(IFLA_MTU, mtu);
    }
    return r.begin(IFLA_LINKINFO).attrString(IFLA_INFO_KIND, "bridge").end();
  }

  /**
   * A veth pair {@code name} here and {@code peerName} in the namespace {@code peerNetnsFd}
   * refers to (-1: here too), with the peer's MAC address when {@code peerMac} is not null.
   */
  static NetlinkRequest newVeth(String name, String peerName, int peerNetnsFd, String peerMac) {
    NetlinkRequest r = new NetlinkRequest(RTM_NEWLINK, CREATE).ifinfomsg(AF_UNSPEC, 0, 0, 0)
        .attrString(IFLA_IFNAME, checkName(name))
        .begin(IFLA_LINKINFO).attrString(IFLA_INFO_KIND, "veth")
        .begin(IFLA_INFO_DATA).begin(VETH_INFO_PEER)
        .ifinfomsg(AF_UNSPEC, 0, 0, 0) // the peer's own ifinfomsg, then its attributes
        .attrString(IFLA_IFNAME, checkName(peerName));
    if (peerNetnsFd >= 0) {
      r.attrInt(IFLA_NET_NS_FD, peerNetnsFd);
    }
    if (peerMac != null) {
      r.attr(IFLA_ADDRESS, parseMac(peerMac));
    }
    return r.end().end().end();
  }

  /** Sets the link {@code name}'s master to the link of index {@code masterIndex} (0: none). */
  static NetlinkRequest setMaster(String name, int masterIndex) {
    return new NetlinkRequest(RTM_SETLINK, CHANGE).ifinfomsg(AF_UNSPEC, 0, 0, 0)
        .attrString(IFLA_IFNAME, checkName(name)).attrInt(IFLA_MASTER, masterIndex);
  }

  static NetlinkRequest setMtu(String name, int mtu) {
    return new NetlinkRequest(RTM_SETLINK, CHANGE).ifinfomsg(AF_UNSPEC, 0, 0, 0)
        .attrString(IFLA_IFNAME, checkName(name)).attrInt(IFLA_MTU, mtu);
  }

  static NetlinkRequest setUp(String name, boolean up) {
    return new NetlinkRequest(RTM_SETLINK, CHANGE).ifinfomsg(AF_UNSPEC, 0, up ? IFF_UP : 0, IFF_UP)
        .attrString(IFLA_IFNAME, checkName(name));
  }

  static NetlinkRequest deleteLink(String name) {
    return new NetlinkRequest(RTM_DELLINK, CHANGE).ifinfomsg(AF_UNSPEC, 0, 0, 0)
        .attrString(IFLA_IFNAME, checkName(name));
  }

  /** Asks for one link by name; the kernel answers with an RTM_NEWLINK, or ENODEV. */
  static NetlinkRequest getLink(String name) {
    return new NetlinkRequest(RTM_GETLINK, CHANGE).ifinfomsg(AF_UNSPEC, 0, 0, 0)
        .attrString(IFLA_IFNAME, checkName(name));
  }

  static NetlinkRequest dumpLinks() {
    return new NetlinkRequest(RTM_GETLINK, DUMP).ifinfomsg(AF_UNSPEC, 0, 0, 0);
  }

  static NetlinkRequest newAddress(int linkIndex, Inet4Address address, int prefixLength) {
    checkPrefix(prefixLength);
    return new NetlinkRequest(RTM_NEWADDR, CREATE).ifaddrmsg(AF_INET, prefixLength, RT_SCOPE_UNIVERSE, linkIndex)
        .attr(IFA_LOCAL, address.getAddress()).attr(IFA_ADDRESS, address.getAddress());
  }

  static NetlinkRequest dumpAddresses() {
    return new NetlinkRequest(RTM_GETADDR, DUMP).ifaddrmsg(AF_INET, 0, 0, 0);
  }

  static NetlinkRequest newDefaultRoute(Inet4Address gateway) {
    return new NetlinkRequest(RTM_NEWROUTE, CREATE)
        .rtmsg(AF_INET, 0, RT_TABLE_MAIN, RTPROT_STATIC, RT_SCOPE_UNIVERSE, RTN_UNICAST)
        .attr(RTA_GATEWAY, gateway.getAddress());
  }

  static NetlinkRequest dumpRoutes() {
    return new NetlinkRequest(RTM_GETROUTE, DUMP).rtmsg(AF_INET, 0, 0, 0, 0, 0);
  }

  /** An RTM_NEWLINK message as a {@link Link}. */
  static Link link(NetlinkMessage m) {
    ByteBuffer b = m.body();
    int index = b.getInt(4);
    int flags = b.getInt(8);
    Map<Integer, ByteBuffer> attrs = NetlinkMessage.attributes(b, 16);
    String kind = Optional.ofNullable(attrs.get(IFLA_LINKINFO))
        .map(info -> NetlinkMessage.attributes(info, 0).get(IFLA_INFO_KIND))
        .map(NetlinkMessage::string).orElse("");
    return new Link(index,
        Optional.ofNullable(attrs.get(IFLA_IFNAME)).map(NetlinkMessage::string).orElse(""),
        intAttr(attrs, IFLA_MASTER),
        kind,
        (flags & IFF_UP) != 0,
        intAttr(attrs, IFLA_MTU),
        Optional.ofNullable(attrs.get(IFLA_ADDRESS)).map(v -> formatMac(NetlinkMessage.bytes(v))).orElse(""));
  }

  /** An RTM_NEWADDR message as a {@link LinkAddress}; empty when it is not IPv4. */
  static Optional<LinkAddress> address(NetlinkMessage m) {
    ByteBuffer b = m.body();
    if (b.get(0) != AF_INET) {
      return Optional.empty();
    }
    Map<Integer, ByteBuffer> attrs = NetlinkMessage.attributes(b, 8);
    // IFA_LOCAL is the address itself; IFA_ADDRESS is the peer's on point-to-point links.
    ByteBuffer value = attrs.containsKey(IFA_LOCAL) ? attrs.get(IFA_LOCAL) : attrs.get(IFA_ADDRESS);
    if (value == null) {
      return Optional.empty();
    }
    return Optional.of(new LinkAddress(b.getInt(4), inet4(value), b.get(1) & 0xff));
  }

  /**
   * An RTM_NEWROUTE message as an {@link Ipv4Route} with no device name yet; empty when it is
   * not IPv4 or not in the main table.
   */
  static Optional<Ipv4Route> route(NetlinkMessage m) {
    ByteBuffer b = m.body();
    if (b.get(0) != AF_INET) {
      return Optional.empty();
    }
    Map<Integer, ByteBuffer> attrs = NetlinkMessage.attributes(b, 12);
    int table = attrs.containsKey(RTA_TABLE) ? attrs.get(RTA_TABLE).getInt(0) : b.get(4) & 0xff;
    if (table != RT_TABLE_MAIN) {
      return Optional.empty();
    }
    Inet4Address destination = attrs.containsKey(RTA_DST) ? inet4(attrs.get(RTA_DST)) : inet4(new byte[4]);
    Inet4Address gateway = attrs.containsKey(RTA_GATEWAY) ? inet4(attrs.get(RTA_GATEWAY)) : null;
    return Optional.of(new Ipv4Route(destination, b.get(1) & 0xff, gateway, intAttr(attrs, RTA_OIF), ""));
  }

  static void checkPrefix(int prefixLength) {
    if (prefixLength < 0 || prefixLength > 32) {
      throw BerthException.invalid("invalid IPv4 prefix length " + prefixLength + ": not within 0 to 32");
    }
  }

  /** {@code 02:42:0a:d5:00:02} as 6 bytes. */
  static byte[] parseMac(String mac) {
    if (!mac.matches("\\p{XDigit}{2}(:\\p{XDigit}{2}){5}")) {
      throw BerthException.invalid("invalid MAC address \"" + mac + "\": not six hex bytes separated by ':'");
    }
    byte[] bytes = HexFormat.ofDelimiter(":").parseHex(mac);
    if ((bytes[0] & 1) != 0) {
      throw BerthException.invalid("invalid MAC address \"" + mac + "\": a multicast address");
    }
    return bytes;
  }

  static String formatMac(byte[] bytes) {
    return HexFormat.ofDelimiter(":").formatHex(bytes);
  }

  private static int intAttr(Map<Integer, ByteBuffer> attrs, int type) {
    ByteBuffer v = attrs.get(type);
    return v == null || v.limit() < 4 ? 0 : v.getInt(0);
  }

  private static Inet4Address inet4(ByteBuffer value) {
    return inet4(NetlinkMessage.bytes(value));
  }

  private static Inet4Address inet4(byte[] bytes) {
    try {
      return (Inet4Address) InetAddress.getByAddress(bytes);
    } catch (UnknownHostException | ClassCastException e) {
      throw new IllegalStateException("not an IPv4 address: " + bytes.length + " bytes", e);
    }
  }
}
