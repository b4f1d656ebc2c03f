package dev.berth.agent.runtime.net;

import dev.berth.agent.BerthException;
import dev.berth.agent.runtime.net.PortMapping.Protocol;
import java.io.IOException;
import java.io.InputStream;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.nio.channels.DatagramChannel;
import java.nio.channels.NetworkChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The host ports of published ports, held by Berth from container create to container removal,
 * so that a port already taken is refused when the container is created rather than when it
 * starts, and nothing else can take it in between.
 *
 * <p>Holding a port means keeping a socket bound to it: for TCP a bound socket that never
 * listens (so it accepts nothing; the traffic itself goes to the container through kernel
 * NAT, see {@link NftFirewall}), for UDP a bound datagram socket that is never read. Neither
 * sets SO_REUSEADDR, so the kernel refuses any other bind of the port, whatever options the
 * other socket sets. The sockets live as long as this object's process: after an agent
 * restart the ports are free until the agent reserves them again, which it does simply by
 * calling {@link #reserveAll} for each container it re-adopts.
 *
 * <p>Only IPv4 is held: the firewall publishes IPv4 only.
 *
 * <p>Thread-safe: every method synchronizes on the instance. A bind takes microseconds.
 */
public final class PortReservations implements AutoCloseable {
  /** Where Linux keeps the range of ports it hands out to bind(port 0) and outgoing connections. */
  public static final Path IP_LOCAL_PORT_RANGE = Path.of("/proc/sys/net/ipv4/ip_local_port_range");

  /** The kernel's default ephemeral range, used when the file cannot be read. */
  static final int[] DEFAULT_RANGE = {32768, 60999};

  private final Path portRangeFile;
  private final List<Held> held = new ArrayList<>();
  /** Where the search for a free port continues, per protocol, so ports are used in turn. */
  private final Map<Protocol, Integer> cursor = new EnumMap<>(Protocol.class);

  /** One held port; {@code holder} names the container in messages. */
  private record Held(String containerId, String holder, PortMapping mapping, NetworkChannel channel) {
    boolean conflicts(Protocol protocol, String hostIp, int port) {
      PortMapping m = mapping;
      return m.protocol() == protocol && m.hostPort() == port
          && (m.hostIp().isEmpty() || hostIp.isEmpty() || m.hostIp().equals(hostIp));
    }
  }

  /** Picks ports for port 0 from the host's ephemeral range. */
  public PortReservations() {
    this(IP_LOCAL_PORT_RANGE);
  }

  /** Picks ports for port 0 from the range in a file formatted as ip_local_port_range. */
  public PortReservations(Path portRangeFile) {
    this.portRangeFile = portRangeFile;
  }

  /** As {@link #reserve(String, String, PortMapping)}, with the id as the container's name. */
  public PortMapping reserve(String containerId, PortMapping mapping) {
    return reserve(containerId, containerId, mapping);
  }

  /**
   * Holds the mapping's host port for the container.
   *
   * @param containerName how errors of other containers name this one; the id when empty
   * @return the mapping with the port actually held: the given one, or the one picked for
   *     port 0 (a free port of the ephemeral range, in turn)
   * @throws BerthException FAILED_PRECONDITION when the port is taken, in Docker's words:
   *     {@code Bind for 0.0.0.0:8080 failed: port is already allocated to container NAME
   *     (mapping)} when Berth holds it, {@code Bind for 0.0.0.0:8080 failed: address already in
   *     use} when another process does; RESOURCE_EXHAUSTED when no port of the range is free;
   *     INVALID_ARGUMENT when the host address is not one of the host's; INTERNAL for other
   *     socket errors
   */
  public synchronized PortMapping reserve(String containerId, String containerName, PortMapping mapping) {
    if (containerId == null || containerId.isEmpty()) {
      throw BerthException.invalid("a port reservation needs a container id");
    }
    String holder = containerName == null || containerName.isEmpty() ? containerId : containerName;
    if (mapping.hostPort() != 0) {
      Held owner = owner(mapping.protocol(), mapping.hostIp(), mapping.hostPort());
      if (owner != null) {
        throw BerthException.failedPrecondition(bindFor(mapping, mapping.hostPort())
            + "port is already allocated to container " + owner.holder() + " (" + owner.mapping() + ")");
      }
      NetworkChannel channel = bind(mapping, mapping.hostPort());
      held.add(new Held(containerId, holder, mapping, channel));
      return mapping;
    }
    int[] range = range();
    int size = range[1] - range[0] + 1;
    int start = cursor.getOrDefault(mapping.protocol(), range[0]);
    if (start < range[0] || start > range[1]) {
      start = range[0];
    }
    for (int i = 0; i < size; i++) {
      int port = range[0] + (start - range[0] + i) % size;
      if (owner(mapping.protocol(), mapping.hostIp(), port) != null) {
        continue;
      }
      NetworkChannel channel = tryBind(mapping, port);
      if (channel != null) {
        PortMapping actual = mapping.withHostPort(port);
        held.add(new Held(containerId, holder, actual, channel));
        cursor.put(mapping.protocol(), port == range[1] ? range[0] : port + 1);
        return actual;
      }
    }
    throw new BerthException(BerthException.Kind.RESOURCE_EXHAUSTED, "no free " + mapping.protocol() + " port on "
        + mapping.hostAddress() + " in the range " + range[0] + "-" + range[1] + " for " + mapping);
  }

  /** As {@link #reserveAll(String, String, List)}, with the id as the container's name. */
  public List<PortMapping> reserveAll(String containerId, List<PortMapping> mappings) {
    return reserveAll(containerId, containerId, mappings);
  }

  /**
   * Holds every mapping for the container, or none: on the first failure, the ports this call
   * got so far are released and the failure is thrown.
   *
   * @return the mappings with the ports actually held, in the given order
   * @throws BerthException as {@link #reserve}
   */
  public synchronized List<PortMapping> reserveAll(String containerId, String containerName, List<PortMapping> mappings) {
    List<Held> before = List.copyOf(held);
    List<PortMapping> out = new ArrayList<>(mappings.size());
    try {
      for (PortMapping m : mappings) {
        out.add(reserve(containerId, containerName, m));
      }
      return List.copyOf(out);
    } catch (RuntimeException e) {
      for (Held h : List.copyOf(held)) {
        if (!before.contains(h)) {
          held.remove(h);
          closeQuietly(h.channel());
        }
      }
      throw e;
    }
  }

  /** Releases every port the container holds; nothing happens when it holds none. */
  public synchronized void release(String containerId) {
    held.removeIf(h -> {
      if (h.containerId().equals(containerId)) {
        closeQuietly(h.channel());
        return true;
      }
      return false;
    });
  }

  /** The mappings the container holds, with their actual host ports. */
  public synchronized List<PortMapping> reserved(String containerId) {
    return held.stream().filter(h -> h.containerId().equals(containerId)).map(Held::mapping).toList();
  }

  /** Releases every port held. */
  @Override
  public synchronized void close() {
    held.forEach(h -> closeQuietly(h.channel()));
    held.clear();
  }

  private Held owner(Protocol protocol, String hostIp, int port) {
    return held.stream().filter(h -> h.conflicts(protocol, hostIp, port)).findFirst().orElse(null);
  }

  /** Binds the port, or fails with the user-facing error. */
  private static NetworkChannel bind(PortMapping mapping, int port) {
    try {
      NetworkChannel channel = open(mapping.protocol());
      try {
        channel.bind(new InetSocketAddress(Subnet.parseAddress(mapping.hostAddress()), port));
        return channel;
      } catch (IOException | RuntimeException e) {
        closeQuietly(channel);
        throw e;
      }
    } catch (BindException e) {
      String reason = String.valueOf(e.getMessage()).toLowerCase(Locale.ROOT);
      if (reason.contains("already in use")) {
        throw BerthException.failedPrecondition(bindFor(mapping, port) + reason);
      }
      if (reason.contains("cannot assign")) {
        throw BerthException.invalid(bindFor(mapping, port) + reason + " (" + mapping.hostIp()
            + " is not an address of this host)");
      }
      throw BerthException.internal(bindFor(mapping, port) + reason, e);
    } catch (IOException e) {
      throw BerthException.internal(bindFor(mapping, port) + e.getMessage(), e);
    }
  }

  /** Binds the port, or returns null when something else holds it. */
  private static NetworkChannel tryBind(PortMapping mapping, int port) {
    try {
      return bind(mapping, port);
    } catch (BerthException e) {
      if (e.kind() == BerthException.Kind.FAILED_PRECONDITION) {
        return null;
      }
      throw e;
    }
  }

  private static NetworkChannel open(Protocol protocol) throws IOException {
    NetworkChannel channel = protocol == Protocol.TCP
        ? SocketChannel.open(StandardProtocolFamily.INET)
        : DatagramChannel.open(StandardProtocolFamily.INET);
    // Explicit: with SO_REUSEADDR on both sides, Linux would let another unlistened TCP socket
    // bind the same port.
    channel.setOption(StandardSocketOptions.SO_REUSEADDR, false);
    return channel;
  }

  private static String bindFor(PortMapping mapping, int port) {
    return "Bind for " + mapping.hostAddress() + ":" + port + " failed: ";
  }

  /** The ephemeral range, read anew each time so a change by the administrator is followed. */
  private int[] range() {
    try {
      String[] f = readProcFile(portRangeFile).trim().split("\\s+");
      int low = Integer.parseInt(f[0]);
      int high = Integer.parseInt(f[1]);
      if (low >= 1 && low <= high && high <= 65535) {
        return new int[] {low, high};
      }
    } catch (IOException | RuntimeException e) {
      // Fall through to the kernel's default: a missing or odd file must not stop containers.
    }
    return DEFAULT_RANGE.clone();
  }

  /**
   * Reads a whole file through a stream: Files.readString can return a truncated value for
   * /proc/sys files (here "3" for "32768\t60999"), which report a size of 0.
   */
  static String readProcFile(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
    }
  }

  private static void closeQuietly(NetworkChannel channel) {
    try {
      channel.close();
    } catch (IOException e) {
      // Closing a bound, unconnected socket does not fail in practice; the port is freed anyway.
    }
  }
}
