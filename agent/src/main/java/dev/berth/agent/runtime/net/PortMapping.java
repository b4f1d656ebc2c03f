package dev.berth.agent.runtime.net;

import dev.berth.agent.BerthException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One published port: traffic to {@code hostIp:hostPort} on the host goes to
 * {@code containerPort} of the container. Immutable.
 *
 * @param protocol tcp or udp
 * @param hostIp an IPv4 literal, or "" for every address of the host
 * @param hostPort 1 to 65535, or 0 for one picked when the port is reserved
 *     ({@link PortReservations#reserve})
 * @param containerPort 1 to 65535
 */
public record PortMapping(Protocol protocol, String hostIp, int hostPort, int containerPort) {

  /** The transport protocols a port can be published for. */
  public enum Protocol {
    TCP,
    UDP;

    /** "tcp" or "udp", as Docker and nft write them. */
    public String keyword() {
      return name().toLowerCase(Locale.ROOT);
    }

    @Override
    public String toString() {
      return keyword();
    }
  }

  public PortMapping {
    if (protocol == null) {
      throw BerthException.invalid("port mapping without a protocol");
    }
    if (hostIp == null) {
      hostIp = "";
    }
    if (!hostIp.isEmpty()) {
      Subnet.parseAddress(hostIp);
    }
    if (hostPort < 0 || hostPort > 65535) {
      throw BerthException.invalid("host port " + hostPort + " is out of range: 0 (any) or 1 to 65535");
    }
    if (containerPort < 1 || containerPort > 65535) {
      throw BerthException.invalid("container port " + containerPort + " is out of range: 1 to 65535");
    }
  }

  /** A TCP port published on every address of the host. */
  public static PortMapping tcp(int hostPort, int containerPort) {
    return new PortMapping(Protocol.TCP, "", hostPort, containerPort);
  }

  /**
   * Parses Docker's {@code -p} syntax, expanding port ranges:
   * <ul>
   *   <li>{@code containerPort[/proto]}: a host port is picked;
   *   <li>{@code [ip:]hostPort:containerPort[/proto]};
   *   <li>{@code [ip:]:containerPort[/proto]}: a host port is picked, on that address;
   *   <li>each port may be a range {@code a-b}; a host range needs a container range of the
   *       same length ({@code 8000-8002:80-82} is 8000→80, 8001→81, 8002→82). Docker's
   *       "pick one host port of a range" form ({@code 8000-8010:80}) is not supported.
   * </ul>
   * The protocol is tcp unless {@code /udp} is given. The host address is IPv4.
   *
   * @throws BerthException INVALID_ARGUMENT {@code invalid port mapping "spec": reason}
   */
  public static List<PortMapping> parse(String spec) {
    if (spec == null || spec.isBlank()) {
      throw BerthException.invalid("invalid port mapping \"" + (spec == null ? "" : spec) + "\": it is empty");
    }
    try {
      return parseOrThrow(spec);
    } catch (IllegalArgumentException e) {
      throw BerthException.invalid("invalid port mapping \"" + spec + "\": " + e.getMessage());
    }
  }

  private static List<PortMapping> parseOrThrow(String spec) {
    String rest = spec;
    Protocol protocol = Protocol.TCP;
    int slash = rest.lastIndexOf('/');
    if (slash >= 0) {
      String proto = rest.substring(slash + 1);
      protocol = switch (proto.toLowerCase(Locale.ROOT)) {
        case "tcp" -> Protocol.TCP;
        case "udp" -> Protocol.UDP;
        case "" -> throw new IllegalArgumentException("no protocol after \"/\"");
        default -> throw new IllegalArgumentException("protocol \"" + proto + "\" is not supported, only tcp and udp");
      };
      rest = rest.substring(0, slash);
    }
    if (rest.startsWith("[")) {
      throw new IllegalArgumentException("IPv6 host addresses are not supported");
    }
    String[] parts = rest.split(":", -1);
    String ip = "";
    String host = "";
    String container;
    switch (parts.length) {
      case 1 -> container = parts[0];
      case 2 -> {
        host = parts[0];
        container = parts[1];
      }
      case 3 -> {
        ip = parts[0];
        host = parts[1];
        container = parts[2];
        if (ip.isEmpty()) {
          throw new IllegalArgumentException("the host address before the first \":\" is empty");
        }
      }
      default -> throw new IllegalArgumentException("too many \":\" (the form is [ip:][hostPort]:containerPort[/proto];"
          + " IPv6 host addresses are not supported)");
    }
    if (!ip.isEmpty()) {
      try {
        Subnet.parseAddress(ip);
      } catch (BerthException e) {
        throw new IllegalArgumentException(e.getMessage());
      }
    }
    if (container.isEmpty()) {
      throw new IllegalArgumentException("no container port");
    }
    int[] containerRange = range(container, "container");
    int count = containerRange[1] - containerRange[0] + 1;
    int[] hostRange;
    if (host.isEmpty()) {
      hostRange = null;
    } else {
      hostRange = range(host, "host");
      int hostCount = hostRange[1] - hostRange[0] + 1;
      if (hostCount != count) {
        throw new IllegalArgumentException("host port range " + host + " has " + hostCount + " ports but container port range "
            + container + " has " + count + "; they must be the same length");
      }
    }
    List<PortMapping> out = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      out.add(new PortMapping(protocol, ip, hostRange == null ? 0 : hostRange[0] + i, containerRange[0] + i));
    }
    return List.copyOf(out);
  }

  /** Parses {@code n} or {@code a-b} into {start, end}. */
  private static int[] range(String text, String which) {
    int dash = text.indexOf('-');
    int start = port(dash < 0 ? text : text.substring(0, dash), which);
    int end = dash < 0 ? start : port(text.substring(dash + 1), which);
    if (end < start) {
      throw new IllegalArgumentException(which + " port range " + text + " ends before it starts");
    }
    return new int[] {start, end};
  }

  private static int port(String text, String which) {
    if (!text.matches("[0-9]{1,5}")) {
      throw new IllegalArgumentException(which + " port \"" + text + "\" is not a number");
    }
    int port = Integer.parseInt(text);
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException(which + " port " + port + " is out of range: 1 to 65535");
    }
    return port;
  }

  /** The host address to bind and show: the given one, or 0.0.0.0 for every address. */
  public String hostAddress() {
    return hostIp.isEmpty() ? "0.0.0.0" : hostIp;
  }

  /** The same mapping on another host port, e.g. the one picked for port 0. */
  public PortMapping withHostPort(int port) {
    return new PortMapping(protocol, hostIp, port, containerPort);
  }

  /**
   * The mapping in {@code -p} syntax, which {@link #parse} reads back:
   * {@code [ip:]hostPort:containerPort/proto}, with an empty host port when it is still 0.
   */
  public String spec() {
    String ip = hostIp.isEmpty() ? "" : hostIp + ":";
    String ports = hostPort != 0 ? hostPort + ":" + containerPort
        : hostIp.isEmpty() ? Integer.toString(containerPort) : ":" + containerPort;
    return ip + ports + "/" + protocol.keyword();
  }

  /** As {@code docker ps} shows it: {@code 0.0.0.0:8080->80/tcp}. */
  @Override
  public String toString() {
    return hostAddress() + ":" + hostPort + "->" + containerPort + "/" + protocol.keyword();
  }
}
