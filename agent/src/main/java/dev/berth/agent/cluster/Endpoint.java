package dev.berth.agent.cluster;

import dev.berth.agent.BerthException;
import java.util.ArrayList;
import java.util.List;

/** A host and port another agent reaches this one at (Atomix's TCP messaging and SWIM's UDP share it). */
public record Endpoint(String host, int port) {
  public Endpoint {
    if (host == null || host.isBlank()) {
      throw BerthException.invalid("an address needs a host");
    }
    if (port < 1 || port > 65535) {
      throw BerthException.invalid("port " + port + " is out of range 1-65535");
    }
  }

  /** Parses {@code HOST:PORT} or {@code [V6]:PORT}; {@code flag} names the option in the message. */
  public static Endpoint parse(String flag, String text) {
    String s = text.trim();
    int colon = s.lastIndexOf(':');
    if (colon <= 0 || colon == s.length() - 1) {
      throw BerthException.invalid("invalid " + flag + " \"" + text + "\": expected HOST:PORT, e.g. 127.0.0.1:7946");
    }
    String host = s.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    int port;
    try {
      port = Integer.parseInt(s.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw BerthException.invalid("invalid " + flag + " \"" + text + "\": the port is not a number");
    }
    return new Endpoint(host, port);
  }

  /** Parses a comma-separated list; empty items are skipped. */
  public static List<Endpoint> parseList(String flag, String text) {
    List<Endpoint> out = new ArrayList<>();
    for (String item : text.split(",")) {
      if (!item.isBlank()) {
        out.add(parse(flag, item));
      }
    }
    return out;
  }

  @Override
  public String toString() {
    return host.indexOf(':') >= 0 ? "[" + host + "]:" + port : host + ":" + port;
  }
}
