package dev.berth.agent.runtime.net;

import java.net.Inet4Address;

/**
 * An IPv4 address of a link, with the prefix length of its subnet.
 *
 * @param linkIndex the link's interface index
 */
public record LinkAddress(int linkIndex, Inet4Address address, int prefixLength) {
  @Override
  public String toString() {
    return address.getHostAddress() + "/" + prefixLength;
  }
}
