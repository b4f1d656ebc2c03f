package dev.berth.agent.runtime.net;

import dev.berth.agent.BerthException;
import java.net.Inet4Address;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The agent's networks at work: creates and removes bridges, hands out addresses, reserves
 * published ports, connects a starting container and disconnects an ended one, and keeps the
 * firewall's rules equal to what is connected now.
 *
 * <p>Lifecycle: {@link #start} once, after the runtime has {@link #adopt adopted} the
 * endpoints of the containers that kept running while the agent was away, so the first rule
 * set already carries their ports. Threading: thread-safe; every change holds one lock, and
 * the firewall is rewritten whole inside it, so two changes never interleave their rules.
 */
public final class NetworkManager implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(NetworkManager.class.getName());

  private final NetworkStore store;
  private final NetworkDriver driver;
  private final Firewall firewall;
  private final PortReservations ports;
  private final String prefix;
  private final Map<String, Ipam> ipams = new HashMap<>();
  /** Running containers' endpoints, by container id. */
  private final Map<String, Endpoint> endpoints = new LinkedHashMap<>();
  private boolean started;

  public NetworkManager(NetworkStore store, NetworkDriver driver, Firewall firewall, PortReservations ports,
      String prefix) {
    this.store = store;
    this.driver = driver;
    this.firewall = firewall;
    this.ports = ports;
    this.prefix = prefix;
  }

  public NetworkStore store() {
    return store;
  }

  /** Brings every bridge network's bridge up (after a reboot there are none) and writes the rules. */
  public synchronized void start() {
    for (NetworkRecord n : store.list()) {
      if (n.isBridge()) {
        driver.ensureBridge(n.bridge(), n.gateway(), n.parsedSubnet().prefixLength());
      }
    }
    started = true;
    applyRules();
  }

  /**
   * Lets go of the port reservations and the driver's sockets and thread. The bridges, the
   * containers' namespaces and the rules stay: running containers stay reachable while the
   * agent is away.
   */
  @Override
  public void close() {
    ports.close();
    if (driver instanceof LinuxNetworkDriver linux) {
      linux.close();
    }
  }

  // ---------------------------------------------------------------- networks

  /** Creates a user-defined bridge network and its bridge; see {@link NetworkStore#create}. */
  public synchronized NetworkRecord create(String name, String driverName, String subnet, String gateway,
      Map<String, String> labels, boolean internal) {
    NetworkRecord n = store.create(name, driverName, subnet, gateway, labels, internal);
    try {
      driver.ensureBridge(n.bridge(), n.gateway(), n.parsedSubnet().prefixLength());
      applyRules();
    } catch (RuntimeException e) {
      store.remove(n);
      try {
        driver.deleteBridge(n.bridge());
        applyRules();
      } catch (RuntimeException again) {
        e.addSuppressed(again);
      }
      throw e;
    }
    return n;
  }

  /**
   * Removes a user-defined network and its bridge.
   *
   * @param inUse whether a container (running or not) is on the network, by network id
   * @throws BerthException FAILED_PRECONDITION for a predefined network or one in use
   */
  public synchronized void remove(NetworkRecord n, Predicate<String> inUse) {
    if (n.predefined()) {
      throw BerthException.failedPrecondition(n.name() + " is a pre-defined network and cannot be removed");
    }
    if (inUse.test(n.id())) {
      throw BerthException.failedPrecondition("error while removing network: network " + n.name() + " id " + n.id()
          + " has active endpoints");
    }
    store.remove(n);
    ipams.remove(n.id());
    driver.deleteBridge(n.bridge());
    applyRules();
  }

  // ---------------------------------------------------------------- ports

  /**
   * Reserves a container's published ports for as long as it exists (create to remove), so a
   * port in use is refused when the container is created, never when it starts.
   *
   * @return the mappings with every host port chosen (port 0 becomes a free one)
   * @throws BerthException FAILED_PRECONDITION in Docker's words when a port is taken; nothing
   *     stays reserved then
   */
  public List<PortMapping> reservePorts(String containerId, String containerName, List<PortMapping> wanted) {
    if (wanted.isEmpty()) {
      return List.of();
    }
    return ports.reserveAll(containerId, containerName, wanted);
  }

  /** Frees a container's ports; nothing to do when it holds none. */
  public void releasePorts(String containerId) {
    ports.release(containerId);
  }

  // ---------------------------------------------------------------- endpoints

  /**
   * Puts a starting container on a bridge network: an address, a pinned network namespace at
   * {@code netns} wired to the bridge, and its published ports in the rules.
   *
   * @param names what other containers of the network resolve to it
   * @throws BerthException RESOURCE_EXHAUSTED when the subnet is full, or the driver's error;
   *     nothing of the endpoint is left then
   */
  public synchronized Endpoint connect(String containerId, NetworkRecord n, Path netns, List<PortMapping> published,
      List<String> names) {
    if (!n.isBridge()) {
      throw new IllegalArgumentException(n.name() + " is not a bridge network");
    }
    Ipam ipam = ipam(n);
    Inet4Address ip = ipam.allocate();
    String address = ip.getHostAddress();
    Endpoint e = new Endpoint(containerId, n.id(), n.name(), n.bridge(), address, n.parsedSubnet().prefixLength(),
        n.gateway(), mac(ip), NetworkStore.shortName("vb", prefix + "/" + containerId), netns.toString(),
        n.internal() ? List.of() : published, names);
    try {
      // Undoes itself when it fails.
      driver.createSandbox(netns, n.bridge(), e.hostVeth(), address, e.prefixLength(), n.gateway(), e.macAddress());
    } catch (RuntimeException ex) {
      ipam.release(ip);
      throw ex;
    }
    try {
      endpoints.put(containerId, e);
      applyRules();
      return e;
    } catch (RuntimeException ex) {
      endpoints.remove(containerId);
      ipam.release(ip);
      try {
        driver.deleteSandbox(netns, e.hostVeth());
        applyRules();
      } catch (RuntimeException again) {
        ex.addSuppressed(again);
      }
      throw ex;
    }
  }

  /** Takes a running container's network off the host: its veth, namespace, address and rules. Idempotent. */
  public synchronized void disconnect(Endpoint e) {
    endpoints.remove(e.containerId());
    try {
      driver.deleteSandbox(Path.of(e.netns()), e.hostVeth());
    } finally {
      store.find(e.networkId()).ifPresent(n -> ipam(n).release(Subnet.parseAddress(e.ipAddress())));
      applyRules();
    }
  }

  /**
   * Takes back the endpoint of a container that kept running while the agent was away: its
   * address stays taken and its ports go back into the rules at {@link #start}.
   */
  public synchronized void adopt(Endpoint e) {
    NetworkRecord n = store.find(e.networkId()).orElse(null);
    if (n == null) {
      LOG.warning("container " + e.containerId() + " is on network " + e.network() + ", which no longer exists");
      return;
    }
    try {
      ipam(n).allocate(Subnet.parseAddress(e.ipAddress()));
    } catch (BerthException ex) {
      LOG.log(Level.WARNING, "cannot take back address " + e.ipAddress() + " of container " + e.containerId(), ex);
    }
    endpoints.put(e.containerId(), e);
    if (started) {
      applyRules();
    }
  }

  /** The endpoints of the running containers on a network, in the order they connected. */
  public synchronized List<Endpoint> endpoints(String networkId) {
    return endpoints.values().stream().filter(e -> e.networkId().equals(networkId)).toList();
  }

  private Ipam ipam(NetworkRecord n) {
    return ipams.computeIfAbsent(n.id(), id -> new Ipam(n.parsedSubnet(), Subnet.parseAddress(n.gateway()),
        endpoints.values().stream().filter(e -> e.networkId().equals(id))
            .map(e -> Subnet.parseAddress(e.ipAddress())).toList()));
  }

  /** Docker's scheme, 02:42 and the four bytes of the address: unique on the bridge, locally administered. */
  static String mac(Inet4Address ip) {
    byte[] b = ip.getAddress();
    return String.format("02:42:%02x:%02x:%02x:%02x", b[0] & 0xff, b[1] & 0xff, b[2] & 0xff, b[3] & 0xff);
  }

  private void applyRules() {
    if (!started) {
      return;
    }
    List<Firewall.Network> nets = new ArrayList<>();
    for (NetworkRecord n : store.list()) {
      if (n.isBridge()) {
        nets.add(new Firewall.Network(n.bridge(), n.parsedSubnet(), !n.internal()));
      }
    }
    List<Firewall.PublishedPort> published = new ArrayList<>();
    for (Endpoint e : endpoints.values()) {
      for (PortMapping p : e.ports()) {
        published.add(Firewall.PublishedPort.of(p, Subnet.parseAddress(e.ipAddress()), e.bridge()));
      }
    }
    if (nets.isEmpty()) {
      // No bridge network (berthd --bridge none): no table at all, rather than an empty one;
      // and an agent without networks works on a host without nftables too.
      try {
        firewall.remove();
      } catch (BerthException e) {
        LOG.warning("cannot remove the agent's firewall table: " + e.getMessage());
      }
    } else {
      firewall.apply(new Firewall.Rules(nets, published));
    }
  }
}
