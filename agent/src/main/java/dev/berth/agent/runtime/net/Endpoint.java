package dev.berth.agent.runtime.net;

import java.util.List;

/**
 * Where one running container sits on a bridge network: its address, the host end of its
 * veth pair and the ports published to it. Persisted next to the container while it runs, so
 * a restarted agent knows what to keep and what to undo.
 *
 * @param hostVeth the host's end of the veth pair, attached to {@code bridge}
 * @param netns the pinned network namespace file the container joins
 * @param names what other containers of a user-defined network call it by: its name, its
 *     aliases and its short id
 */
public record Endpoint(
    String containerId,
    String networkId,
    String network,
    String bridge,
    String ipAddress,
    int prefixLength,
    String gateway,
    String macAddress,
    String hostVeth,
    String netns,
    List<PortMapping> ports,
    List<String> names) {

  public Endpoint {
    ports = List.copyOf(ports == null ? List.of() : ports);
    names = List.copyOf(names == null ? List.of() : names);
  }
}
