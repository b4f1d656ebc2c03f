package dev.berth.ctl;

import dev.berth.proto.v1.PortBinding;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Published ports as docker reads and prints them: {@code -p/--publish} into {@link PortBinding}s,
 * and bindings back into ps's PORTS column and `port`'s lines.
 *
 * <p>The printing half is on the `ps` table path, which {@link FastPath} keeps free of picocli,
 * Jackson, regular expressions and String.format: it uses plain string building only.
 */
final class Ports {
  private static final String FLAG = "-p/--publish";
  private static final String FORMS = "accepted: [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO] with ports or ranges (8000-8001) and PROTO tcp or udp";
  /** What docker shows for a binding to every address of the host. */
  static final String ANY_ADDRESS = "0.0.0.0";

  private Ports() {
  }

  /** Every -p in command-line order, ranges expanded. Errors name the spec and the reason. */
  static List<PortBinding> parse(List<String> specs) {
    List<PortBinding> out = new ArrayList<>();
    for (String spec : specs) {
      out.addAll(parse(spec));
    }
    return out;
  }

  /**
   * One {@code -p [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]}: an IPv6 address in brackets or bare
   * (the last two colons separate the ports), ports or equally long ranges, an empty or 0 host
   * port for one the agent chooses, the protocol tcp when not given.
   */
  static List<PortBinding> parse(String spec) {
    String rest = spec;
    String protocol = "tcp";
    int slash = rest.lastIndexOf('/');
    if (slash >= 0) {
      String p = rest.substring(slash + 1).toLowerCase(Locale.ROOT);
      rest = rest.substring(0, slash);
      if (p.equals("sctp")) {
        throw invalid(spec, "protocol sctp is not supported");
      } else if (!p.isEmpty() && !p.equals("tcp") && !p.equals("udp")) {
        throw invalid(spec, "unknown protocol \"" + p + "\"");
      } else if (!p.isEmpty()) {
        protocol = p;
      }
    }
    int last = rest.lastIndexOf(':');
    String container = rest.substring(last + 1);
    String host = "";
    String ip = "";
    if (last >= 0) {
      int before = rest.lastIndexOf(':', last - 1);
      host = rest.substring(before + 1, last);
      if (before >= 0) {
        ip = rest.substring(0, before);
      }
    }
    if (container.isEmpty()) {
      throw invalid(spec, "the container port is empty");
    }
    int[] cRange = range(spec, "container port", container);
    if (cRange[0] == 0) {
      throw invalid(spec, "container port 0 is out of range (1-65535)");
    }
    int[] hRange = host.isEmpty() ? new int[] {0, 0} : range(spec, "host port", host);
    int count = cRange[1] - cRange[0] + 1;
    int hostCount = hRange[1] - hRange[0] + 1;
    if (hostCount != 1 && count == 1) {
      throw invalid(spec, "a host port range for a single container port is not supported: give one host port");
    }
    if (hostCount != 1 && hostCount != count) {
      throw invalid(spec, "the host range " + host + " and the container range " + container + " differ in length");
    }
    if (hostCount == 1 && count > 1 && hRange[0] != 0) {
      throw invalid(spec, "one host port for the container range " + container + ": give a host range as long");
    }
    String address = ip.startsWith("[") && ip.endsWith("]") ? ip.substring(1, ip.length() - 1) : ip;
    if (!address.isEmpty() && !isIpAddress(address)) {
      throw invalid(spec, "\"" + ip + "\" is not an IP address");
    }
    List<PortBinding> out = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      out.add(PortBinding.newBuilder().setProtocol(protocol).setHostIp(address)
          .setHostPort(hostCount == 1 && hRange[0] == 0 ? 0 : hRange[0] + i).setContainerPort(cRange[0] + i).build());
    }
    return out;
  }

  /** "80" or "8000-8010" as {first, last}, each 0 to 65535. */
  private static int[] range(String spec, String what, String s) {
    int dash = s.indexOf('-');
    int first = port(spec, what, s, dash < 0 ? s : s.substring(0, dash));
    int last = dash < 0 ? first : port(spec, what, s, s.substring(dash + 1));
    if (last < first) {
      throw invalid(spec, "the " + what + " range " + s + " ends before it starts");
    }
    return new int[] {first, last};
  }

  /** One port of {@code range}, which the error names. */
  private static int port(String spec, String what, String range, String s) {
    if (s.isEmpty() || s.length() > 5 || !allDigits(s)) {
      throw invalid(spec, "invalid " + what + " \"" + range + "\"");
    }
    int p = Integer.parseInt(s);
    if (p > 65535) {
      throw invalid(spec, what + " " + p + " is out of range (0-65535)");
    }
    return p;
  }

  /** A dotted-quad IPv4 or an IPv6 literal; never a host name (no lookup is made). */
  private static boolean isIpAddress(String s) {
    if (s.indexOf(':') >= 0) {
      try {
        // a string with a colon is parsed as an IPv6 literal, never resolved
        InetAddress.getByName(s.startsWith("[") ? s : "[" + s + "]");
        return true;
      } catch (UnknownHostException | SecurityException e) {
        return false;
      }
    }
    String[] octets = s.split("\\.", -1);
    if (octets.length != 4) {
      return false;
    }
    for (String o : octets) {
      if (o.isEmpty() || o.length() > 3 || !allDigits(o) || Integer.parseInt(o) > 255) {
        return false;
      }
    }
    return true;
  }

  private static IllegalArgumentException invalid(String spec, String why) {
    return new IllegalArgumentException("invalid " + FLAG + " \"" + spec + "\": " + why + "; " + FORMS);
  }

  /** "80/tcp": the container side, as docker keys its port maps. */
  static String containerPort(PortBinding p) {
    return p.getContainerPort() + "/" + protocol(p);
  }

  static String protocol(PortBinding p) {
    return p.getProtocol().isEmpty() ? "tcp" : p.getProtocol();
  }

  /** The host address docker shows: 0.0.0.0 for every address. */
  static String hostIp(PortBinding p) {
    return p.getHostIp().isEmpty() ? ANY_ADDRESS : p.getHostIp();
  }

  /** "0.0.0.0:8080", "[::1]:8080": Go's net.JoinHostPort. */
  static String hostAddress(PortBinding p) {
    String ip = hostIp(p);
    return (ip.indexOf(':') >= 0 ? "[" + ip + "]" : ip) + ":" + p.getHostPort();
  }

  /** A binding the agent has given a host port; before that there is nothing to reach. */
  static boolean published(PortBinding p) {
    return p.getHostPort() != 0;
  }

  /**
   * ps's PORTS: "0.0.0.0:8080->80/tcp, 9000/udp". As docker does: sorted by container port, then
   * host address, host port and protocol; a port published on the same host port, or not
   * published, is merged with its neighbours into a range ("0.0.0.0:8000-8001->8000-8001/tcp");
   * those ranges come first, the mappings to another host port after them.
   */
  static String display(List<PortBinding> ports) {
    if (ports.isEmpty()) {
      return "";
    }
    List<PortBinding> sorted = new ArrayList<>(ports);
    sorted.sort(DisplayOrder.INSTANCE);
    List<String> parts = new ArrayList<>();
    List<String> mappings = new ArrayList<>();
    // key: "ip/proto" for same-port publications, "proto" for unpublished ports; value: {first, last}
    Map<String, int[]> open = new LinkedHashMap<>();
    for (PortBinding p : sorted) {
      int port = p.getContainerPort();
      String key = protocol(p);
      if (published(p)) {
        if (p.getHostPort() != port) {
          mappings.add(hostAddress(p) + "->" + containerPort(p));
          continue;
        }
        key = hostIp(p) + "/" + key;
      }
      int[] group = open.get(key);
      if (group == null) {
        open.put(key, new int[] {port, port});
      } else if (port == group[1] + 1) {
        group[1] = port;
      } else {
        parts.add(group(key, group));
        open.put(key, new int[] {port, port});
      }
    }
    for (Map.Entry<String, int[]> e : open.entrySet()) {
      parts.add(group(e.getKey(), e.getValue()));
    }
    parts.addAll(mappings);
    return String.join(", ", parts);
  }

  /** Container port, host address (none for an unpublished port), host port, protocol. A class, not a lambda: see the class comment. */
  private static final class DisplayOrder implements Comparator<PortBinding> {
    static final DisplayOrder INSTANCE = new DisplayOrder();

    @Override
    public int compare(PortBinding a, PortBinding b) {
      int c = Integer.compare(a.getContainerPort(), b.getContainerPort());
      if (c == 0) {
        c = (published(a) ? hostIp(a) : "").compareTo(published(b) ? hostIp(b) : "");
      }
      if (c == 0) {
        c = Integer.compare(a.getHostPort(), b.getHostPort());
      }
      return c != 0 ? c : protocol(a).compareTo(protocol(b));
    }
  }

  private static String group(String key, int[] range) {
    String ports = range[0] == range[1] ? Integer.toString(range[0]) : range[0] + "-" + range[1];
    int slash = key.lastIndexOf('/');
    if (slash < 0) {
      return ports + "/" + key;
    }
    String ip = key.substring(0, slash);
    return (ip.indexOf(':') >= 0 ? "[" + ip + "]" : ip) + ":" + ports + "->" + ports + key.substring(slash);
  }

  /**
   * Docker's natural order (sortorder.NaturalLess): runs of digits compare as numbers, so
   * "8080/tcp" sorts after "443/tcp" and "net2" before "net10".
   */
  static int compareNatural(String a, String b) {
    int i = 0;
    int j = 0;
    while (i < a.length() && j < b.length()) {
      char x = a.charAt(i);
      char y = b.charAt(j);
      if (isDigit(x) && isDigit(y)) {
        int ei = digitsEnd(a, i);
        int ej = digitsEnd(b, j);
        String na = stripZeros(a.substring(i, ei));
        String nb = stripZeros(b.substring(j, ej));
        int c = na.length() != nb.length() ? Integer.compare(na.length(), nb.length()) : na.compareTo(nb);
        if (c != 0) {
          return c;
        }
        c = Integer.compare(ei - i, ej - j);  // equal values: fewer leading zeros first
        if (c != 0) {
          return c;
        }
        i = ei;
        j = ej;
      } else {
        if (x != y) {
          return Character.compare(x, y);
        }
        i++;
        j++;
      }
    }
    return Integer.compare(a.length() - i, b.length() - j);
  }

  private static boolean isDigit(char c) {
    return c >= '0' && c <= '9';
  }

  private static boolean allDigits(String s) {
    return digitsEnd(s, 0) == s.length();
  }

  private static int digitsEnd(String s, int from) {
    int k = from;
    while (k < s.length() && isDigit(s.charAt(k))) {
      k++;
    }
    return k;
  }

  private static String stripZeros(String digits) {
    int k = 0;
    while (k < digits.length() - 1 && digits.charAt(k) == '0') {
      k++;
    }
    return digits.substring(k);
  }
}
