package dev.berth.agent.runtime.net;

import dev.berth.agent.BerthException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * An IPv4 subnet in CIDR notation, such as {@code 172.30.0.0/16}. The network address has no
 * host bits set: {@code 172.30.0.1/16} is refused rather than silently rounded, because a user
 * who typed it may have meant a different network.
 *
 * <p>Addresses are handled as {@code int}s in network order (the first octet in the high byte),
 * as {@link #toInt} and {@link #toAddress} convert them; the record keeps that value so that
 * equality and ordering are plain integer comparisons. Values are immutable and thread-safe.
 *
 * @param base the network address as an int, host bits clear
 * @param prefixLength the number of network bits, 0 to 32
 */
public record Subnet(int base, int prefixLength) {

  public Subnet {
    if (prefixLength < 0 || prefixLength > 32) {
      throw BerthException.invalid("invalid subnet prefix length " + prefixLength + ": must be 0 to 32");
    }
    if ((base & ~mask(prefixLength)) != 0) {
      throw BerthException.invalid("invalid subnet \"" + format(base) + "/" + prefixLength + "\": host bits are set, the network is "
          + format(base & mask(prefixLength)) + "/" + prefixLength);
    }
  }

  /**
   * Parses {@code a.b.c.d/n}.
   *
   * @throws BerthException INVALID_ARGUMENT {@code invalid subnet "x": reason}
   */
  public static Subnet parse(String cidr) {
    if (cidr == null) {
      throw BerthException.invalid("invalid subnet: none given");
    }
    int slash = cidr.indexOf('/');
    if (slash < 0) {
      throw invalid(cidr, "no prefix length, expected a.b.c.d/n");
    }
    int address;
    try {
      address = parseInt(cidr.substring(0, slash));
    } catch (IllegalArgumentException e) {
      throw invalid(cidr, e.getMessage());
    }
    String len = cidr.substring(slash + 1);
    if (!len.matches("[0-9]{1,2}") || Integer.parseInt(len) > 32) {
      throw invalid(cidr, "prefix length \"" + len + "\" is not a number from 0 to 32");
    }
    int prefix = Integer.parseInt(len);
    if ((address & ~mask(prefix)) != 0) {
      throw invalid(cidr, "host bits are set, the network is " + format(address & mask(prefix)) + "/" + prefix);
    }
    return new Subnet(address, prefix);
  }

  /** The subnet of {@code prefixLength} bits that contains {@code address}: host bits are cleared. */
  public static Subnet containing(Inet4Address address, int prefixLength) {
    if (prefixLength < 0 || prefixLength > 32) {
      throw BerthException.invalid("invalid subnet prefix length " + prefixLength + ": must be 0 to 32");
    }
    return new Subnet(toInt(address) & mask(prefixLength), prefixLength);
  }

  /**
   * Parses a dotted-quad IPv4 literal strictly: four decimal octets, no host names (so no DNS
   * lookup can ever happen), no shorthand such as {@code 127.1}.
   *
   * @throws BerthException INVALID_ARGUMENT {@code invalid IPv4 address "x": reason}
   */
  public static Inet4Address parseAddress(String text) {
    try {
      return toAddress(parseInt(text));
    } catch (IllegalArgumentException e) {
      throw BerthException.invalid("invalid IPv4 address \"" + text + "\": " + e.getMessage());
    }
  }

  /** The address as an int in network order. */
  public static int toInt(Inet4Address address) {
    byte[] b = address.getAddress();
    return (b[0] & 0xff) << 24 | (b[1] & 0xff) << 16 | (b[2] & 0xff) << 8 | (b[3] & 0xff);
  }

  /** The address of an int in network order. */
  public static Inet4Address toAddress(int address) {
    byte[] b = {(byte) (address >>> 24), (byte) (address >>> 16), (byte) (address >>> 8), (byte) address};
    try {
      // A literal byte array: no lookup happens.
      return (Inet4Address) InetAddress.getByAddress(b);
    } catch (UnknownHostException e) {
      throw new AssertionError("four bytes are always an IPv4 address", e);
    }
  }

  /** Dotted-quad text of an int in network order. */
  public static String format(int address) {
    return (address >>> 24) + "." + (address >>> 16 & 0xff) + "." + (address >>> 8 & 0xff) + "." + (address & 0xff);
  }

  /** The netmask of a prefix length as an int: {@code /24} is {@code 0xffffff00}. */
  public static int mask(int prefixLength) {
    return prefixLength == 0 ? 0 : -1 << (32 - prefixLength);
  }

  /** The network address (all host bits clear). */
  public Inet4Address network() {
    return toAddress(base);
  }

  /** The broadcast address (all host bits set); for /31 and /32 simply the last address. */
  public Inet4Address broadcast() {
    return toAddress(last());
  }

  /** The netmask, e.g. 255.255.0.0 for a /16. */
  public Inet4Address netmask() {
    return toAddress(mask(prefixLength));
  }

  /**
   * The default gateway: the first host address, as Docker chooses it.
   *
   * @throws BerthException INVALID_ARGUMENT for /31 and /32, which have no address to spare
   *     beside the network and broadcast ones
   */
  public Inet4Address gateway() {
    if (prefixLength > 30) {
      throw BerthException.invalid("subnet " + this + " is too small for a gateway and containers: at most /30");
    }
    return toAddress(base + 1);
  }

  /** How many addresses the subnet spans, network and broadcast included. */
  public long size() {
    return 1L << (32 - prefixLength);
  }

  /** The last address as an int (the broadcast address). */
  int last() {
    return base | ~mask(prefixLength);
  }

  /** Whether the address lies in this subnet, network and broadcast addresses included. */
  public boolean contains(Inet4Address address) {
    return contains(toInt(address));
  }

  boolean contains(int address) {
    return (address & mask(prefixLength)) == base;
  }

  /** Whether the two subnets share at least one address (one then contains the other). */
  public boolean overlaps(Subnet other) {
    int shorter = Math.min(prefixLength, other.prefixLength);
    return (base & mask(shorter)) == (other.base & mask(shorter));
  }

  /** CIDR text, e.g. {@code 172.30.0.0/16}; {@link #parse} reads it back. */
  @Override
  public String toString() {
    return format(base) + "/" + prefixLength;
  }

  private static BerthException invalid(String cidr, String reason) {
    return BerthException.invalid("invalid subnet \"" + cidr + "\": " + reason);
  }

  private static int parseInt(String text) {
    String[] parts = text.split("\\.", -1);
    if (parts.length != 4) {
      throw new IllegalArgumentException("expected four dot-separated numbers");
    }
    int address = 0;
    for (String part : parts) {
      if (!part.matches("[0-9]{1,3}") || Integer.parseInt(part) > 255) {
        throw new IllegalArgumentException("\"" + part + "\" is not a number from 0 to 255");
      }
      if (part.length() > 1 && part.charAt(0) == '0') {
        // Some parsers read a leading zero as octal; refuse rather than guess.
        throw new IllegalArgumentException("\"" + part + "\" has a leading zero");
      }
      address = address << 8 | Integer.parseInt(part);
    }
    return address;
  }
}
