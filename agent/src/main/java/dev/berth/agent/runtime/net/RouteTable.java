package dev.berth.agent.runtime.net;

import dev.berth.agent.BerthException;
import java.io.IOException;
import java.net.Inet4Address;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * The IPv4 routes of a network namespace's main routing table, as /proc/net/route lists them,
 * so that a network whose subnet the host already routes elsewhere is refused rather than made
 * unreachable. Only routes that are up count; other tables (policy routing) are not listed in
 * that file and are not seen.
 *
 * <p>/proc/net/route shows the routes of the network namespace of the process that opens it,
 * so {@link #read()} sees the agent's own namespace. Immutable and thread-safe.
 *
 * @param routes in the file's order
 */
public record RouteTable(List<Route> routes) {
  /** Where the kernel lists the IPv4 routes. */
  public static final Path PROC_NET_ROUTE = Path.of("/proc/net/route");

  /** RTF_UP from linux/route.h: the route is usable. */
  private static final int RTF_UP = 0x1;

  /**
   * One route.
   *
   * @param iface the output interface
   * @param destination the destination subnet; 0.0.0.0/0 for the default route
   * @param gateway the next hop, 0.0.0.0 for a directly connected route
   */
  public record Route(String iface, Subnet destination, Inet4Address gateway) {
    public boolean isDefault() {
      return destination.prefixLength() == 0;
    }

    @Override
    public String toString() {
      return destination + " on " + iface;
    }
  }

  public RouteTable {
    routes = List.copyOf(routes);
  }

  /** The routes of the calling process's network namespace. */
  public static RouteTable read() {
    return read(PROC_NET_ROUTE);
  }

  /**
   * Reads a file in the format of /proc/net/route, whose addresses are the kernel's 32-bit
   * values in the machine's own byte order.
   *
   * @throws BerthException INTERNAL when it cannot be read or parsed, naming the file
   */
  public static RouteTable read(Path file) {
    String text;
    try {
      text = PortReservations.readProcFile(file);
    } catch (IOException e) {
      throw BerthException.internal("cannot read the routes in " + file + ": " + e.getMessage(), e);
    }
    return parse(file.toString(), text, ByteOrder.nativeOrder());
  }

  /** Parses the file's text, whose hex fields are in {@code order}. */
  static RouteTable parse(String source, String text, ByteOrder order) {
    List<Route> routes = new ArrayList<>();
    List<String> lines = text.lines().toList();
    for (int i = 1; i < lines.size(); i++) { // line 0 is the header
      String line = lines.get(i);
      if (line.isBlank()) {
        continue;
      }
      // Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT
      String[] f = line.trim().split("\\s+");
      try {
        if (f.length < 8) {
          throw new IllegalArgumentException("expected at least 8 fields, found " + f.length);
        }
        int flags = Integer.parseInt(f[3], 16);
        if ((flags & RTF_UP) == 0) {
          continue;
        }
        int destination = hex(f[1], order);
        int gateway = hex(f[2], order);
        int mask = hex(f[7], order);
        int prefix = Integer.bitCount(mask);
        if (mask != Subnet.mask(prefix)) {
          throw new IllegalArgumentException("mask " + Subnet.format(mask) + " is not contiguous");
        }
        routes.add(new Route(f[0], new Subnet(destination & mask, prefix), Subnet.toAddress(gateway)));
      } catch (IllegalArgumentException e) {
        throw BerthException.internal("cannot parse line " + (i + 1) + " of " + source + " (\"" + line.trim() + "\"): "
            + e.getMessage(), e);
      }
    }
    return new RouteTable(routes);
  }

  /**
   * The first route, the default route aside, whose destination shares an address with
   * {@code subnet}.
   */
  public Optional<Route> overlapping(Subnet subnet) {
    return routes.stream().filter(r -> !r.isDefault() && r.destination().overlaps(subnet)).findFirst();
  }

  /**
   * Refuses a subnet that a route of the host overlaps.
   *
   * @throws BerthException FAILED_PRECONDITION
   *     {@code subnet 192.0.2.0/24 overlaps the route 192.0.2.0/24 on eth0}
   */
  public void requireNoOverlap(Subnet subnet) {
    overlapping(subnet).ifPresent(r -> {
      throw BerthException.failedPrecondition("subnet " + subnet + " overlaps the route " + r);
    });
  }

  /**
   * The routes whose interface does not match, e.g. to leave out the routes of Berth's own
   * bridges when re-checking the networks they belong to after a restart.
   */
  public RouteTable excludingInterfaces(Predicate<String> iface) {
    return new RouteTable(routes.stream().filter(r -> !iface.test(r.iface())).toList());
  }

  private static int hex(String field, ByteOrder order) {
    if (!field.matches("[0-9A-Fa-f]{8}")) {
      throw new IllegalArgumentException("\"" + field + "\" is not 8 hex digits");
    }
    int value = Integer.parseUnsignedInt(field, 16);
    return order == ByteOrder.LITTLE_ENDIAN ? Integer.reverseBytes(value) : value;
  }
}
