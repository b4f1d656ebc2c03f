package dev.berth.agent.runtime;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.berth.agent.AtomicFiles;
import dev.berth.agent.BerthException;
import dev.berth.agent.runtime.net.Endpoint;
import dev.berth.agent.runtime.net.NetworkManager;
import dev.berth.agent.runtime.net.NetworkRecord;
import dev.berth.agent.runtime.net.PortMapping;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * What a container's network means for the runtime: the network and ports decided at create,
 * the endpoint connected before the launch and disconnected when the run ends, and the files
 * that tell the container who it is and who its neighbours are ({@code /etc/hostname},
 * {@code /etc/hosts}, {@code /etc/resolv.conf}).
 *
 * <p>The endpoint of a running container is persisted in its directory
 * ({@value #ENDPOINT_FILE}), so that an agent restarted while the container runs adopts it and
 * one that died halfway through a start or an exit can undo it.
 *
 * <p>Threading: callers hold the container's lock for per-container calls; the network
 * manager serializes what is shared.
 */
final class ContainerNetworking {
  private static final Logger LOG = Logger.getLogger(ContainerNetworking.class.getName());
  static final String ENDPOINT_FILE = "endpoint.json";
  static final String NETNS_FILE = "netns";
  /**
   * Docker's fallback when the host names no nameserver a container can reach (only
   * loopback ones, which inside the container's own network namespace answer nothing).
   */
  private static final List<String> FALLBACK_NAMESERVERS = List.of("8.8.8.8", "8.8.4.4");

  private final NetworkManager networks;
  private final Path hostResolvConf;
  private final ObjectMapper json = new ObjectMapper().disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

  ContainerNetworking(NetworkManager networks, Path hostResolvConf) {
    this.networks = networks;
    this.hostResolvConf = hostResolvConf;
  }

  NetworkManager manager() {
    return networks;
  }

  /** The network a create asks for, and the ports it publishes there. */
  record Decision(NetworkRecord network, List<PortMapping> ports) {}

  /**
   * Resolves {@code --network} (empty: the default bridge) and {@code -p}/{@code -P}: with
   * {@code -P} every port the image exposes is published on a free host port, after the ones
   * given with {@code -p}.
   *
   * @throws BerthException NOT_FOUND for an unknown network; INVALID_ARGUMENT for published
   *     ports on a network that has no ports to publish (none, internal; on host they are
   *     discarded, as Docker does), a malformed
   *     exposed port, or aliases outside a user-defined network
   */
  Decision decide(CreateRequest req, List<String> exposedPorts) {
    NetworkRecord n = req.networkMode().isBlank()
        // Without a default bridge (the agent runs with --bridge none) a container gets loopback only.
        ? networks.store().find(NetworkRecord.DEFAULT).orElseGet(() -> networks.store().get(NetworkRecord.NONE))
        : networks.store().get(req.networkMode());
    List<PortMapping> ports = new ArrayList<>(req.ports());
    if (req.publishAll()) {
      for (String exposed : exposedPorts) {
        PortMapping p = exposedPort(exposed);
        boolean given = ports.stream().anyMatch(q -> q.containerPort() == p.containerPort() && q.protocol() == p.protocol());
        if (!given) {
          ports.add(p);
        }
      }
    }
    if (n.driver().equals(NetworkRecord.HOST)) {
      // As Docker: the container's ports are the host's already; the CLI warns that they are discarded.
      ports.clear();
    }
    if (!ports.isEmpty() && (!n.isBridge() || n.internal())) {
      throw BerthException.invalid("conflicting options: port publishing and the " + n.name() + " network"
          + (n.internal() ? ", which is internal" : " (" + n.driver() + " mode has no ports of its own to publish)"));
    }
    if (!req.networkAliases().isEmpty() && !n.resolvesNames()) {
      throw BerthException.invalid("network-scoped aliases are only supported for user-defined networks");
    }
    return new Decision(n, List.copyOf(ports));
  }

  /** {@code 80/tcp}, {@code 53/udp} or {@code 8080} (tcp), as an image's ExposedPorts writes them. */
  static PortMapping exposedPort(String spec) {
    String[] parts = spec.split("/", 2);
    PortMapping.Protocol proto = parts.length == 1 ? PortMapping.Protocol.TCP : switch (parts[1]) {
      case "tcp" -> PortMapping.Protocol.TCP;
      case "udp" -> PortMapping.Protocol.UDP;
      default -> throw BerthException.invalid("invalid exposed port \"" + spec + "\" in the image: protocol "
          + parts[1] + " is not tcp or udp");
    };
    try {
      return new PortMapping(proto, "", 0, Integer.parseInt(parts[0]));
    } catch (NumberFormatException e) {
      throw BerthException.invalid("invalid exposed port \"" + spec + "\" in the image: not a port number");
    }
  }

  /**
   * Connects a starting container to its bridge network and writes its network files; does
   * nothing for host and none but write the files.
   *
   * @return the endpoint, empty for host and none
   */
  Optional<Endpoint> connect(ContainerConfig cfg, Path dir, Function<String, Optional<Path>> dirOf) throws IOException {
    NetworkRecord n = networks.store().get(cfg.networkId().isBlank() ? cfg.network() : cfg.networkId());
    if (!n.isBridge()) {
      writeFiles(cfg, dir, null, n);
      return Optional.empty();
    }
    Endpoint e = networks.connect(cfg.id(), n, dir.resolve(NETNS_FILE), cfg.ports(), names(cfg));
    try {
      AtomicFiles.write(dir.resolve(ENDPOINT_FILE), json.writeValueAsBytes(e));
      writeFiles(cfg, dir, e, n);
      if (n.resolvesNames()) {
        refreshHosts(n, dirOf);
      }
    } catch (IOException | RuntimeException ex) {
      disconnect(dir, dirOf);
      throw ex;
    }
    return Optional.of(e);
  }

  /**
   * Undoes {@link #connect} for the run that ended (or failed to start); nothing to do when
   * the container was never connected. Its neighbours' hosts files lose its names.
   */
  void disconnect(Path dir, Function<String, Optional<Path>> dirOf) {
    Optional<Endpoint> e = endpoint(dir);
    if (e.isEmpty()) {
      return;
    }
    networks.disconnect(e.get());
    try {
      Files.deleteIfExists(dir.resolve(ENDPOINT_FILE));
    } catch (IOException ex) {
      throw new UncheckedIOException(ex);
    }
    networks.store().find(e.get().networkId()).filter(NetworkRecord::resolvesNames)
        .ifPresent(n -> refreshHosts(n, dirOf));
  }

  /** The endpoint recorded for a running container, if it has one. */
  Optional<Endpoint> endpoint(Path dir) {
    Path f = dir.resolve(ENDPOINT_FILE);
    if (!Files.isRegularFile(f)) {
      return Optional.empty();
    }
    try {
      return Optional.of(json.readValue(f.toFile(), Endpoint.class));
    } catch (IOException ex) {
      LOG.log(Level.WARNING, "unreadable " + f + "; its network is not undone", ex);
      return Optional.empty();
    }
  }

  /** What other containers of a user-defined network call this one: its name, aliases and short id. */
  private static List<String> names(ContainerConfig cfg) {
    Set<String> names = new LinkedHashSet<>();
    names.add(cfg.name());
    names.addAll(cfg.request().networkAliases());
    names.add(cfg.id().substring(0, 12));
    return List.copyOf(names);
  }

  private void writeFiles(ContainerConfig cfg, Path dir, Endpoint e, NetworkRecord n) throws IOException {
    Files.writeString(dir.resolve("hostname"), cfg.hostname() + "\n");
    Path hostHosts = Path.of("/etc/hosts");
    if (n.driver().equals(NetworkRecord.HOST) && Files.isReadable(hostHosts)) {
      // The host's names resolve the way they do on the host: the network is the host's.
      Files.writeString(dir.resolve("hosts"), Files.readString(hostHosts) + "127.0.1.1\t" + cfg.hostname() + "\n");
    } else {
      Files.writeString(dir.resolve("hosts"), hostsText(cfg.hostname(), e, List.of()));
    }
    Files.writeString(dir.resolve("resolv.conf"), resolvConf(n));
  }

  /** localhost, the container itself (by address, or 127.0.1.1 without one), then its neighbours. */
  private static String hostsText(String hostname, Endpoint self, List<Endpoint> peers) {
    StringBuilder b = new StringBuilder("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    if (self == null) {
      b.append("127.0.1.1\t").append(hostname).append('\n');
      return b.toString();
    }
    b.append(self.ipAddress()).append('\t').append(hostname);
    self.names().stream().filter(x -> !x.equals(hostname)).forEach(x -> b.append(' ').append(x));
    b.append('\n');
    for (Endpoint p : peers) {
      if (!p.containerId().equals(self.containerId())) {
        b.append(p.ipAddress()).append('\t').append(String.join(" ", p.names())).append('\n');
      }
    }
    return b.toString();
  }

  /**
   * Rewrites the hosts file of every running container of a user-defined network, so each
   * resolves the others by name. Written in place, never renamed: the file is bind-mounted
   * into the containers, and a new inode would not be seen by them.
   */
  void refreshHosts(NetworkRecord n, Function<String, Optional<Path>> dirOf) {
    List<Endpoint> peers = networks.endpoints(n.id());
    for (Endpoint self : peers) {
      Optional<Path> dir = dirOf.apply(self.containerId());
      if (dir.isEmpty()) {
        continue;
      }
      try {
        String hostname = Files.readString(dir.get().resolve("hostname")).trim();
        Files.write(dir.get().resolve("hosts"), hostsText(hostname, self, peers).getBytes(StandardCharsets.UTF_8),
            StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
      } catch (IOException ex) {
        LOG.log(Level.WARNING, "cannot update the hosts file of container " + self.containerId(), ex);
      }
    }
  }

  /**
   * The host's resolv.conf for a container: on the host network as it is; elsewhere without
   * loopback nameservers, which the container's own loopback would not answer, and with
   * Docker's public fallback when none is left.
   */
  private String resolvConf(NetworkRecord n) throws IOException {
    List<String> lines = Files.isReadable(hostResolvConf) ? Files.readAllLines(hostResolvConf) : List.of();
    if (n.driver().equals(NetworkRecord.HOST)) {
      return lines.isEmpty() ? "" : String.join("\n", lines) + "\n";
    }
    List<String> out = new ArrayList<>();
    boolean nameserver = false;
    for (String line : lines) {
      String[] f = line.trim().split("\\s+");
      if (f.length >= 2 && f[0].equals("nameserver")) {
        if (f[1].startsWith("127.") || f[1].equals("::1")) {
          continue;
        }
        nameserver = true;
      }
      out.add(line);
    }
    if (!nameserver) {
      FALLBACK_NAMESERVERS.forEach(ns -> out.add("nameserver " + ns));
    }
    return String.join("\n", out) + "\n";
  }
}
