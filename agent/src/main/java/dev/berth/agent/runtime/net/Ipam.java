package dev.berth.agent.runtime.net;

import dev.berth.agent.BerthException;
import java.net.Inet4Address;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The addresses of one network: which host addresses of its subnet are handed out to
 * containers. The network address, the broadcast address and the gateway are never handed out.
 *
 * <p>Pure bookkeeping, no I/O: the caller persists what was allocated and, after a restart,
 * rebuilds the Ipam from that set ({@link #Ipam(Subnet, Inet4Address, Collection)}).
 *
 * <p>Addresses are handed out in turn, continuing after the last one given rather than from
 * the start, so an address just released is not reused at once: a peer may still hold it in
 * its ARP cache or a connection may still be draining towards it. After a rebuild the turn
 * starts over from the first host address.
 *
 * <p>Thread-safe: every method synchronizes on the instance.
 */
public final class Ipam {
  /**
   * Where {@link #chooseSubnet} looks for a subnet when a network is created without one, in
   * this order, as Docker does: 172.18.0.0/16 to 172.31.0.0/16, then the sixteen /20s of
   * 192.168.0.0/16. 172.17.0.0/16 is left out because it is Docker's default bridge, which is
   * likely to be created on the same host after Berth's networks.
   */
  public static final List<Subnet> DEFAULT_POOL = defaultPool();

  private final Subnet subnet;
  private final int gateway;
  private final int first;
  private final int last;
  private final Set<Integer> used = new HashSet<>();
  /** The next address to try. */
  private int cursor;

  /** An empty Ipam with the subnet's default gateway (its first host address). */
  public Ipam(Subnet subnet) {
    this(subnet, subnet.gateway(), List.of());
  }

  /**
   * An Ipam with the given addresses already in use, e.g. rebuilt from persisted state.
   *
   * @param gateway the bridge's own address, never handed out; any host address of the subnet
   * @param used addresses already handed out; the gateway among them is ignored
   * @throws BerthException INVALID_ARGUMENT when the subnet is smaller than /30, the gateway
   *     is not a host address of it, or a used address lies outside it
   */
  public Ipam(Subnet subnet, Inet4Address gateway, Collection<Inet4Address> used) {
    if (subnet.prefixLength() > 30) {
      throw BerthException.invalid("subnet " + subnet + " is too small for a gateway and containers: at most /30");
    }
    this.subnet = subnet;
    this.first = subnet.base() + 1;
    this.last = subnet.last() - 1;
    this.gateway = Subnet.toInt(gateway);
    if (!isHost(this.gateway)) {
      throw BerthException.invalid("gateway " + gateway.getHostAddress() + " is not a host address of subnet " + subnet);
    }
    for (Inet4Address address : used) {
      int a = Subnet.toInt(address);
      if (!isHost(a)) {
        throw BerthException.invalid("address " + address.getHostAddress() + " is not a host address of subnet " + subnet);
      }
      if (a != this.gateway) {
        this.used.add(a);
      }
    }
    this.cursor = first;
  }

  public Subnet subnet() {
    return subnet;
  }

  public Inet4Address gateway() {
    return Subnet.toAddress(gateway);
  }

  /**
   * Hands out the next free host address.
   *
   * @throws BerthException RESOURCE_EXHAUSTED when every host address is taken
   */
  public synchronized Inet4Address allocate() {
    long capacity = (long) last - first + 1 - 1; // the gateway is one of the host addresses
    if (used.size() >= capacity) {
      throw new BerthException(BerthException.Kind.RESOURCE_EXHAUSTED,
          "no free address left in subnet " + subnet + ": all " + capacity + " container addresses are in use");
    }
    int a = cursor;
    while (a == gateway || used.contains(a)) {
      a = a == last ? first : a + 1;
    }
    used.add(a);
    cursor = a == last ? first : a + 1;
    return Subnet.toAddress(a);
  }

  /**
   * Hands out the requested address.
   *
   * @throws BerthException INVALID_ARGUMENT when it lies outside the subnet or is its network,
   *     broadcast or gateway address; ALREADY_EXISTS when it is already handed out
   */
  public synchronized Inet4Address allocate(Inet4Address requested) {
    int a = Subnet.toInt(requested);
    String text = requested.getHostAddress();
    if (!subnet.contains(a)) {
      throw BerthException.invalid("address " + text + " is outside subnet " + subnet);
    }
    if (a == subnet.base() || a == subnet.last()) {
      throw BerthException.invalid("address " + text + " is the " + (a == subnet.base() ? "network" : "broadcast")
          + " address of subnet " + subnet);
    }
    if (a == gateway) {
      throw BerthException.invalid("address " + text + " is the gateway of subnet " + subnet);
    }
    if (!used.add(a)) {
      throw BerthException.alreadyExists("address " + text + " is already in use in subnet " + subnet);
    }
    return requested;
  }

  /** Returns an address to the free ones; false when it was not handed out. */
  public synchronized boolean release(Inet4Address address) {
    return used.remove(Subnet.toInt(address));
  }

  /** The addresses handed out, in ascending order; a copy. */
  public synchronized List<Inet4Address> allocated() {
    return used.stream().sorted(Integer::compareUnsigned).map(Subnet::toAddress).toList();
  }

  /**
   * The first subnet of {@code pool} that overlaps neither an existing network nor a route of
   * the host (the default route aside, which overlaps everything).
   *
   * @param networks the subnets of the networks that exist already
   * @param routes the host's routes; filter out those of Berth's own bridges first if they
   *     are already covered by {@code networks}
   * @throws BerthException RESOURCE_EXHAUSTED, in Docker's words, when none is left
   */
  public static Subnet chooseSubnet(List<Subnet> pool, Collection<Subnet> networks, RouteTable routes) {
    for (Subnet candidate : pool) {
      if (networks.stream().noneMatch(candidate::overlaps) && routes.overlapping(candidate).isEmpty()) {
        return candidate;
      }
    }
    throw new BerthException(BerthException.Kind.RESOURCE_EXHAUSTED,
        "all predefined address pools have been fully subnetted: each of the " + pool.size()
            + " subnets overlaps a network or a route of the host; give the network a --subnet");
  }

  private boolean isHost(int a) {
    return subnet.contains(a) && a != subnet.base() && a != subnet.last();
  }

  private static List<Subnet> defaultPool() {
    List<Subnet> pool = new ArrayList<>();
    for (int second = 18; second <= 31; second++) {
      pool.add(Subnet.parse("172." + second + ".0.0/16"));
    }
    for (int third = 0; third < 256; third += 16) {
      pool.add(Subnet.parse("192.168." + third + ".0/20"));
    }
    return List.copyOf(pool);
  }

  @Override
  public synchronized String toString() {
    return "Ipam[" + subnet + ", gateway " + Subnet.format(gateway) + ", " + used.size() + " in use]";
  }
}
