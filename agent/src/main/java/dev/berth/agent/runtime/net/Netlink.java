package dev.berth.agent.runtime.net;

import static dev.berth.agent.runtime.net.RtnlCodec.checkName;

import dev.berth.agent.BerthException;
import dev.berth.agent.runtime.SyscallException;
import dev.berth.agent.runtime.Syscalls;
import java.net.Inet4Address;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * Links, addresses and routes of one network namespace, through an rtnetlink socket
 * (NETLINK_ROUTE) made with {@link Syscalls}: the work of {@code ip link}, {@code ip addr} and
 * {@code ip route} without starting a process.
 *
 * <p>The namespace is the one the socket was made in, for all its life: {@link #open} uses the
 * calling thread's, {@link NetNamespaces#netlink} a pinned one. Every change is a request with
 * NLM_F_ACK, so it has taken effect when the method returns; a refusal becomes a
 * {@link NetlinkException} naming the link or address and carrying the errno. Names are checked
 * before the kernel sees them ({@link #checkName}). Thread-safe: one request at a time per
 * socket. Close it, or the namespace it belongs to stays alive.
 */
public final class Netlink implements AutoCloseable {
  /**
   * Room for one datagram: the kernel fills dumps up to 32 KiB (or the page size), and sizes
   * them after the buffer the first recv offered; a longer datagram would be cut short.
   */
  private static final int RECEIVE_BUFFER = 64 * 1024;
  /** A dump the kernel marks inconsistent (NLM_F_DUMP_INTR: changed while read) is read again, this often. */
  private static final int DUMP_ATTEMPTS = 5;

  private final Syscalls syscalls;
  private final int fd;
  private final byte[] buffer = new byte[RECEIVE_BUFFER];
  private int seq;
  private boolean closed;

  private Netlink(Syscalls syscalls, int fd) {
    this.syscalls = syscalls;
    this.fd = fd;
  }

  /** An rtnetlink socket in the calling thread's network namespace. */
  public static Netlink open(Syscalls syscalls) {
    return new Netlink(syscalls, syscalls.socket(Syscalls.AF_NETLINK, Syscalls.SOCK_RAW, Syscalls.NETLINK_ROUTE));
  }

  /**
   * Checks an interface name as the kernel would: 1 to 15 bytes (IFNAMSIZ less its NUL), not
   * "." or "..", no '/', ':' or white space; returns it.
   *
   * @throws BerthException INVALID_ARGUMENT naming it and the reason
   */
  public static String checkName(String name) {
    return RtnlCodec.checkName(name);
  }

  /**
   * Creates the bridge {@code name}, down, with the MTU {@code mtu} (0: the kernel's default,
   * which then follows the smallest MTU of its ports).
   *
   * <p>An MTU given is set after creation, as a user's change, because only then does the
   * kernel keep it when ports are attached; if that fails the bridge is deleted again.
   *
   * @throws NetlinkException ALREADY_EXISTS (EEXIST) when a link of that name exists
   */
  public void createBridge(String name, int mtu) {
    if (mtu < 0) {
      throw BerthException.invalid("invalid MTU " + mtu + " for bridge \"" + name + "\"");
    }
    ack(RtnlCodec.newBridge(name, 0), "cannot create bridge \"" + name + "\"");
    if (mtu > 0) {
      try {
        setMtu(name, mtu);
      } catch (RuntimeException e) {
        try {
          deleteLink(name);
        } catch (RuntimeException undo) {
          e.addSuppressed(undo);
        }
        throw e;
      }
    }
  }

  /**
   * Sets the MTU of the link {@code name}.
   *
   * @throws NetlinkException NOT_FOUND when there is no such link, INVALID_ARGUMENT when the
   *     link's driver refuses that MTU
   */
  public void setMtu(String name, int mtu) {
    ack(RtnlCodec.setMtu(name, mtu), "cannot set the MTU of \"" + name + "\" to " + mtu);
  }

  /**
   * Creates a veth pair, both ends down: {@code name} in this namespace and {@code peerName} in
   * the namespace {@code peerNamespace} refers to (a file pinning one, or
   * {@code /proc/<pid>/ns/net}), created there directly so that its name cannot clash with a
   * link of this namespace; with the MAC address {@code peerMac} ({@code 02:42:0a:d5:00:02})
   * when it is not null, else a random one.
   *
   * @throws NetlinkException ALREADY_EXISTS when {@code name}, or {@code peerName} over there,
   *     is taken
   * @throws BerthException NOT_FOUND when {@code peerNamespace} does not exist
   */
  public void createVeth(String name, String peerName, Path peerNamespace, String peerMac) {
    checkName(name);
    checkName(peerName);
    if (peerMac != null) {
      RtnlCodec.parseMac(peerMac);
    }
    int nsFd = NetNamespaces.openPin(syscalls, peerNamespace);
    try {
      ack(RtnlCodec.newVeth(name, peerName, nsFd, peerMac),
          "cannot create veth \"" + name + "\" with peer \"" + peerName + "\" in " + peerNamespace);
    } finally {
      syscalls.close(nsFd);
    }
  }

  /**
   * Attaches the link {@code name} to the bridge {@code bridge}.
   *
   * @throws BerthException NOT_FOUND naming whichever of the two does not exist
   */
  public void setMaster(String name, String bridge) {
    checkName(name);
    int master = link(bridge).orElseThrow(() -> BerthException.notFound("no bridge \"" + bridge + "\"")).index();
    ack(RtnlCodec.setMaster(name, master), "cannot attach \"" + name + "\" to bridge \"" + bridge + "\"");
  }

  /**
   * Sets the link {@code name} administratively up or down.
   *
   * @throws NetlinkException NOT_FOUND (ENODEV) when there is no such link
   */
  public void setUp(String name, boolean up) {
    ack(RtnlCodec.setUp(name, up), "cannot set \"" + name + "\" " + (up ? "up" : "down"));
  }

  /**
   * Deletes the link {@code name}; deleting one end of a veth pair deletes both.
   *
   * @return false, having done nothing, when there is no such link, so that callers can undo
   *     work that may have been undone already
   */
  public boolean deleteLink(String name) {
    try {
      ack(RtnlCodec.deleteLink(name), "cannot delete link \"" + name + "\"");
      return true;
    } catch (NetlinkException e) {
      if (e.isNoSuchLink()) {
        return false;
      }
      throw e;
    }
  }

  /**
   * Adds {@code address/prefixLength} to the link {@code name}, which also routes the subnet
   * to it once the link is up.
   *
   * @throws BerthException NOT_FOUND when there is no such link
   * @throws NetlinkException ALREADY_EXISTS when the link has that address already
   */
  public void addAddress(String name, Inet4Address address, int prefixLength) {
    RtnlCodec.checkPrefix(prefixLength);
    String what = address.getHostAddress() + "/" + prefixLength;
    int index = link(name).orElseThrow(() -> BerthException.notFound(
        "cannot add address " + what + " to \"" + name + "\": no such link")).index();
    ack(RtnlCodec.newAddress(index, address, prefixLength), "cannot add address " + what + " to \"" + name + "\"");
  }

  /**
   * The IPv4 addresses of the link {@code name}, in the kernel's order.
   *
   * @throws BerthException NOT_FOUND when there is no such link
   */
  public List<LinkAddress> addresses(String name) {
    int index = link(name).orElseThrow(() -> BerthException.notFound("no link \"" + name + "\"")).index();
    return dump(RtnlCodec.dumpAddresses(), "cannot list the addresses of \"" + name + "\"", RtnlCodec::address)
        .stream().filter(a -> a.linkIndex() == index).toList();
  }

  /**
   * Adds the default IPv4 route via {@code gateway} to the main table; the kernel picks the link
   * whose subnet holds the gateway.
   *
   * @throws NetlinkException ALREADY_EXISTS when there is a default route already,
   *     INVALID_ARGUMENT or FAILED_PRECONDITION (ENETUNREACH) when no link that is up reaches
   *     the gateway
   */
  public void addDefaultRoute(Inet4Address gateway) {
    ack(RtnlCodec.newDefaultRoute(gateway), "cannot add default route via " + gateway.getHostAddress());
  }

  /** The link {@code name}, or empty when there is none. */
  public Optional<Link> link(String name) {
    try {
      return request(RtnlCodec.getLink(name), "cannot look up link \"" + name + "\"").stream()
          .filter(m -> m.type() == RtnlCodec.RTM_NEWLINK).map(RtnlCodec::link).findFirst();
    } catch (NetlinkException e) {
      if (e.isNoSuchLink()) {
        return Optional.empty();
      }
      throw e;
    }
  }

  /** Every link of the namespace, in the kernel's order (by index). */
  public List<Link> links() {
    return dump(RtnlCodec.dumpLinks(), "cannot list links", m -> Optional.of(RtnlCodec.link(m)));
  }

  /** The links attached to the bridge {@code bridge}; empty when there is no such bridge. */
  public List<Link> ports(String bridge) {
    checkName(bridge);
    List<Link> all = links();
    return all.stream().filter(l -> l.name().equals(bridge)).findFirst()
        .map(b -> all.stream().filter(l -> l.masterIndex() == b.index()).toList()).orElse(List.of());
  }

  /**
   * The IPv4 routes of the main table, each with its device's name, in the kernel's order; what
   * a new subnet must not overlap. Routes of other tables (the local table of the namespace's
   * own addresses, policy routing) are left out.
   */
  public List<Ipv4Route> routes() {
    List<Ipv4Route> routes = dump(RtnlCodec.dumpRoutes(), "cannot list routes", RtnlCodec::route);
    Map<Integer, String> names = new HashMap<>();
    for (Link l : links()) {
      names.put(l.index(), l.name());
    }
    return routes.stream().map(r -> new Ipv4Route(r.destination(), r.prefixLength(), r.gateway(), r.linkIndex(),
        names.getOrDefault(r.linkIndex(), ""))).toList();
  }

  /** Closes the socket; further calls fail. Idempotent. */
  @Override
  public synchronized void close() {
    if (!closed) {
      closed = true;
      syscalls.close(fd);
    }
  }

  /** Sends a change and waits for its acknowledgement. */
  private void ack(NetlinkRequest request, String action) {
    request(request, action);
  }

  /**
   * Sends {@code request} (which asks for an acknowledgement) and returns the messages that
   * came before it.
   */
  private synchronized List<NetlinkMessage> request(NetlinkRequest request, String action) {
    int n = send(request, action);
    List<NetlinkMessage> replies = new ArrayList<>();
    while (true) {
      for (NetlinkMessage m : receive(action)) {
        if (m.seq() != n) {
          continue; // the late answer of an earlier request that failed on our side
        }
        if (m.type() == NetlinkMessage.NLMSG_ERROR) {
          if (m.error() != 0) {
            throw new NetlinkException(action, m.error());
          }
          return replies;
        }
        replies.add(m);
      }
    }
  }

  /** Sends a dump request and decodes what it answers, reading it again while the kernel says it changed meanwhile. */
  private synchronized <T> List<T> dump(NetlinkRequest request, String action,
      Function<NetlinkMessage, Optional<T>> decode) {
    for (int attempt = 1; ; attempt++) {
      int n = send(request, action);
      List<T> items = new ArrayList<>();
      boolean interrupted = false;
      boolean done = false;
      while (!done) {
        for (NetlinkMessage m : receive(action)) {
          if (m.seq() != n) {
            continue;
          }
          interrupted |= (m.flags() & NetlinkMessage.NLM_F_DUMP_INTR) != 0;
          if (m.type() == NetlinkMessage.NLMSG_DONE || m.type() == NetlinkMessage.NLMSG_ERROR) {
            if (m.error() > 0) { // NLMSG_DONE also carries an int: negative when the dump failed
              throw new NetlinkException(action, m.error());
            }
            done = true;
            break;
          }
          decode.apply(m).ifPresent(items::add);
        }
      }
      if (!interrupted || attempt == DUMP_ATTEMPTS) {
        return items;
      }
    }
  }

  private int send(NetlinkRequest request, String action) {
    if (closed) {
      throw new IllegalStateException("netlink socket closed: " + action);
    }
    int n = ++seq;
    byte[] bytes = request.encode(n);
    try {
      syscalls.send(fd, bytes, bytes.length);
    } catch (SyscallException e) {
      throw new NetlinkException(action, e.errno());
    }
    return n;
  }

  private List<NetlinkMessage> receive(String action) {
    int length;
    try {
      length = syscalls.recv(fd, buffer);
    } catch (SyscallException e) {
      throw new NetlinkException(action, e.errno());
    }
    return NetlinkMessage.parse(buffer, length);
  }
}
