package dev.berth.agent.runtime.net;

import dev.berth.agent.runtime.Syscalls;
import java.net.Inet4Address;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;

/**
 * {@link NetworkDriver} on Linux: rtnetlink for links, addresses and routes, and network
 * namespaces pinned by files ({@link NetNamespaces}). Everything it makes on the host side
 * (bridges, the host ends of veths) lives in the network namespace its host socket was opened
 * in: the agent's own, or, in tests, one made for the test.
 *
 * <p>Thread-safe: netlink requests are serialized on the socket, and namespace work on the
 * namespace thread.
 */
public final class LinuxNetworkDriver implements NetworkDriver, AutoCloseable {
  /** The container's end of its veth pair, as Docker names it. */
  static final String CONTAINER_INTERFACE = "eth0";

  private final Netlink host;
  private final NetNamespaces namespaces;
  private final Consumer<String> bridgeSysctls;

  /** A driver acting in the agent's own network namespace. */
  public LinuxNetworkDriver(Syscalls syscalls) {
    this(Netlink.open(syscalls), new NetNamespaces(syscalls), b -> FirewallSysctls.apply(List.of(b)));
  }

  /**
   * A driver whose host side is {@code host}'s namespace.
   *
   * @param bridgeSysctls sets the forwarding sysctls for a new bridge in that namespace
   *     ({@link FirewallSysctls})
   */
  LinuxNetworkDriver(Netlink host, NetNamespaces namespaces, Consumer<String> bridgeSysctls) {
    this.host = host;
    this.namespaces = namespaces;
    this.bridgeSysctls = bridgeSysctls;
  }

  @Override
  public void ensureBridge(String name, String gateway, int prefixLength) {
    if (host.link(name).isEmpty()) {
      try {
        host.createBridge(name, 0);
      } catch (NetlinkException e) {
        if (host.link(name).isEmpty()) {
          throw e;
        } // made by a concurrent call meanwhile: use it
      }
    }
    Inet4Address gw = Subnet.parseAddress(gateway);
    boolean has = host.addresses(name).stream()
        .anyMatch(a -> a.address().equals(gw) && a.prefixLength() == prefixLength);
    if (!has) {
      host.addAddress(name, gw, prefixLength);
    }
    host.setUp(name, true);
    bridgeSysctls.accept(name);
  }

  @Override
  public void deleteBridge(String name) {
    host.deleteLink(name);
  }

  @Override
  public boolean linkExists(String name) {
    return host.link(name).isPresent();
  }

  @Override
  public void createSandbox(Path netns, String bridge, String hostVeth, String ip, int prefixLength, String gateway,
      String mac) {
    Inet4Address address = Subnet.parseAddress(ip);
    Inet4Address gw = Subnet.parseAddress(gateway);
    namespaces.create(netns);
    boolean vethMade = false;
    try {
      host.createVeth(hostVeth, CONTAINER_INTERFACE, netns, mac);
      vethMade = true;
      host.setMaster(hostVeth, bridge);
      host.setUp(hostVeth, true);
      namespaces.inside(netns, nl -> {
        nl.addAddress(CONTAINER_INTERFACE, address, prefixLength);
        nl.setUp(CONTAINER_INTERFACE, true);
        nl.addDefaultRoute(gw);
        return null;
      });
    } catch (RuntimeException e) {
      try {
        // A veth of that name that was there before belongs to someone else: only ours goes.
        if (vethMade) {
          host.deleteLink(hostVeth);
        }
        namespaces.delete(netns);
      } catch (RuntimeException again) {
        e.addSuppressed(again);
      }
      throw e;
    }
  }

  @Override
  public void deleteSandbox(Path netns, String hostVeth) {
    try {
      host.deleteLink(hostVeth);
    } finally {
      namespaces.delete(netns);
    }
  }

  @Override
  public void close() {
    host.close();
    namespaces.close();
  }
}
