package dev.berth.agent.runtime.net;

import java.net.Inet4Address;

/**
 * An IPv4 route of a namespace's main routing table, as rtnetlink reports it.
 *
 * @param destination the destination network, 0.0.0.0 for the default route
 * @param prefixLength 0 for the default route
 * @param gateway the next hop; null for a directly connected route
 * @param linkIndex the output interface's index; 0 when the route has none (blackhole …)
 * @param device the output interface's name; empty when it has none
 */
public record Ipv4Route(Inet4Address destination, int prefixLength, Inet4Address gateway, int linkIndex,
    String device) {
  public boolean isDefault() {
    return prefixLength == 0;
  }

  @Override
  public String toString() {
    return destination.getHostAddress() + "/" + prefixLength + (gateway == null ? "" : " via "
        + gateway.getHostAddress()) + (device.isEmpty() ? "" : " dev " + device);
  }
}
