package dev.berth.agent.runtime.net;

import dev.berth.agent.BerthException;
import dev.berth.agent.runtime.net.PortMapping.Protocol;
import java.net.Inet4Address;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The agent's NAT and isolation rules in the kernel, given as the whole desired state: each
 * {@link #apply} replaces what the previous one installed, so the caller never computes a
 * difference and a restarted agent converges by applying its state once.
 *
 * <p>Implementations are thread-safe; concurrent calls are serialized, the last one wins.
 */
public interface Firewall {

  /**
   * Makes the kernel's rules exactly {@code rules}, atomically: either all of them are in
   * force afterwards, or (on failure) the previous ones still are.
   *
   * @throws BerthException FAILED_PRECONDITION when the firewall tool is missing; INTERNAL
   *     with the tool's own message when it refuses the rules
   */
  void apply(Rules rules);

  /** Removes every rule of this agent; nothing happens when there are none. */
  void remove();

  /**
   * One Berth bridge network.
   *
   * @param bridge the bridge interface's name
   * @param subnet the containers' subnet
   * @param masquerade whether traffic from the subnet leaving through another interface is
   *     source-NATed to the host's address (outbound access); false for an internal network
   */
  record Network(String bridge, Subnet subnet, boolean masquerade) {
    public Network {
      FirewallNames.checkInterface(bridge);
    }
  }

  /**
   * One published port of a running container.
   *
   * @param protocol tcp or udp
   * @param hostIp the host address it is published on, or "" for every local address
   * @param hostPort the port on the host, 1 to 65535
   * @param containerIp the container's address on its bridge
   * @param containerPort the port inside the container
   * @param bridge the bridge the container is attached to, one of the {@link Rules#networks}
   */
  record PublishedPort(Protocol protocol, String hostIp, int hostPort, Inet4Address containerIp, int containerPort,
      String bridge) {
    public PublishedPort {
      // Reuses PortMapping's checks of the protocol, address and ports.
      new PortMapping(protocol, hostIp, hostPort, containerPort);
      hostIp = hostIp == null ? "" : hostIp;
      if (containerIp == null) {
        throw BerthException.invalid("published port " + hostPort + " has no container address");
      }
      if (hostPort == 0) {
        throw BerthException.invalid("published port " + containerIp.getHostAddress() + ":" + containerPort
            + " has no host port; reserve one first");
      }
      FirewallNames.checkInterface(bridge);
    }

    /** The rule for a reserved mapping of a container. */
    public static PublishedPort of(PortMapping mapping, Inet4Address containerIp, String bridge) {
      return new PublishedPort(mapping.protocol(), mapping.hostIp(), mapping.hostPort(), containerIp,
          mapping.containerPort(), bridge);
    }
  }

  /**
   * Everything the firewall should do.
   *
   * @param networks the bridge networks, each bridge once
   * @param ports the published ports; no two on the same protocol, host address and port
   */
  record Rules(List<Network> networks, List<PublishedPort> ports) {
    /** No network, no published port. */
    public static final Rules EMPTY = new Rules(List.of(), List.of());

    public Rules {
      networks = List.copyOf(networks);
      ports = List.copyOf(ports);
      Set<String> bridges = new HashSet<>();
      for (Network n : networks) {
        if (!bridges.add(n.bridge())) {
          throw BerthException.invalid("bridge " + n.bridge() + " is listed twice among the networks");
        }
      }
      for (int i = 0; i < ports.size(); i++) {
        PublishedPort p = ports.get(i);
        if (!bridges.contains(p.bridge())) {
          throw BerthException.invalid("published port " + p.hostPort() + "/" + p.protocol() + " names bridge "
              + p.bridge() + ", which is not among the networks");
        }
        for (PublishedPort q : ports.subList(0, i)) {
          // The address "every address" clashes with each single one.
          if (q.protocol() == p.protocol() && q.hostPort() == p.hostPort()
              && (q.hostIp().isEmpty() || p.hostIp().isEmpty() || q.hostIp().equals(p.hostIp()))) {
            throw BerthException.invalid("host port " + p.hostPort() + "/" + p.protocol() + " is published twice");
          }
        }
      }
    }
  }
}
