package dev.berth.agent.runtime.net;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import dev.berth.agent.AtomicFiles;
import dev.berth.agent.BerthException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.Inet4Address;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The networks of one agent, one JSON file each under {@code <data>/networks}. The three
 * predefined ones ({@code bridge}, {@code host}, {@code none}) are written on first start;
 * user-defined bridge networks are created and removed through {@link #create} and
 * {@link #remove}. Only records live here: the bridges themselves are made by
 * {@link NetworkManager}.
 *
 * <p>Threading: thread-safe (one lock; network changes are rare).
 */
public final class NetworkStore {
  /** Docker's default bridge subnet, so that habits and firewall rules written for Docker carry over. */
  public static final String DEFAULT_SUBNET = "172.17.0.0/16";
  private static final Pattern NAME = Pattern.compile("[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}");
  private static final int IFNAMSIZ = 15;
  private static final SecureRandom RANDOM = new SecureRandom();

  private final Path dir;
  private final String prefix;
  private final Supplier<RouteTable> routes;
  private final ObjectMapper json = new ObjectMapper().registerModule(new JavaTimeModule())
      .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
      .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
  private final Object lock = new Object();

  /**
   * The default bridge network as the agent is configured: its bridge interface and subnet.
   *
   * @param bridge the interface name; empty for {@code <prefix>0}
   */
  public record DefaultBridge(String bridge, Subnet subnet) {}

  /**
   * Opens the store and makes sure the predefined networks exist. The default bridge takes
   * what {@code defaultBridge} says; a changed value replaces the stored one. With
   * {@code defaultBridge} null there is no default bridge network (as {@code dockerd
   * --bridge none}): containers started without {@code --network} get only loopback.
   *
   * @param routes the host's routes now: a new network whose subnet overlaps one of them is refused
   */
  public NetworkStore(Path dir, String prefix, DefaultBridge defaultBridge, Supplier<RouteTable> routes)
      throws IOException {
    this.dir = Files.createDirectories(dir);
    this.prefix = prefix;
    this.routes = routes;
    synchronized (lock) {
      Optional<NetworkRecord> bridge = find(NetworkRecord.DEFAULT);
      if (defaultBridge == null) {
        if (bridge.isPresent()) {
          Files.deleteIfExists(dir.resolve(bridge.get().id() + ".json"));
        }
      } else {
        Subnet subnet = defaultBridge.subnet();
        String name = defaultBridge.bridge().isBlank() ? defaultBridgeName(prefix) : validInterface(defaultBridge.bridge());
        if (bridge.isEmpty() || !bridge.get().subnet().equals(subnet.toString()) || !bridge.get().bridge().equals(name)) {
          String id = bridge.map(NetworkRecord::id).orElseGet(NetworkStore::newId);
          save(new NetworkRecord(id, NetworkRecord.DEFAULT, NetworkRecord.BRIDGE, subnet.toString(),
              Subnet.format(Subnet.toInt(subnet.gateway())), name, Map.of(), false,
              bridge.map(NetworkRecord::created).orElse(Instant.now())));
        }
      }
      if (find(NetworkRecord.HOST_NETWORK).isEmpty()) {
        save(new NetworkRecord(newId(), NetworkRecord.HOST_NETWORK, NetworkRecord.HOST, "", "", "", Map.of(), false,
            Instant.now()));
      }
      if (find(NetworkRecord.NONE).isEmpty()) {
        save(new NetworkRecord(newId(), NetworkRecord.NONE, NetworkRecord.NULL, "", "", "", Map.of(), false,
            Instant.now()));
      }
    }
  }

  /**
   * Creates a user-defined bridge network.
   *
   * @param subnet CIDR, or empty for a free one from {@link Ipam#DEFAULT_POOL}
   * @param gateway an address in the subnet, or empty for its first one
   * @throws BerthException INVALID_ARGUMENT for a bad name, driver, subnet or gateway, or a
   *     subnet that overlaps another network's or a route of the host; ALREADY_EXISTS for a
   *     name in use; RESOURCE_EXHAUSTED when the pool has no free subnet left
   */
  public NetworkRecord create(String name, String driver, String subnet, String gateway, Map<String, String> labels,
      boolean internal) {
    if (name == null || !NAME.matcher(name).matches()) {
      throw BerthException.invalid("invalid network name \"" + name + "\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
    }
    if (driver != null && !driver.isBlank() && !driver.equals(NetworkRecord.BRIDGE)) {
      throw BerthException.invalid("invalid network driver \"" + driver + "\": only bridge networks can be created");
    }
    synchronized (lock) {
      if (find(name).isPresent()) {
        throw BerthException.alreadyExists("network with name " + name + " already exists");
      }
      List<NetworkRecord> bridges = list().stream().filter(NetworkRecord::isBridge).toList();
      RouteTable host = routes.get();
      Subnet s;
      if (subnet == null || subnet.isBlank()) {
        s = Ipam.chooseSubnet(Ipam.DEFAULT_POOL, bridges.stream().map(NetworkRecord::parsedSubnet).toList(),
            withoutOwnBridges(host, bridges));
      } else {
        s = Subnet.parse(subnet);
        for (NetworkRecord other : bridges) {
          if (other.parsedSubnet().overlaps(s)) {
            throw BerthException.invalid("invalid subnet " + s + ": it overlaps " + other.subnet() + " of network "
                + other.name());
          }
        }
        withoutOwnBridges(host, bridges).overlapping(s).ifPresent(r -> {
          throw BerthException.invalid("invalid subnet " + s + ": it overlaps the host's route " + r);
        });
      }
      Inet4Address gw = gateway == null || gateway.isBlank() ? s.gateway() : Subnet.parseAddress(gateway);
      if (!s.contains(gw) || gw.equals(s.network()) || gw.equals(s.broadcast())) {
        throw BerthException.invalid("invalid gateway " + Subnet.format(Subnet.toInt(gw)) + ": not a host address of "
            + s);
      }
      String id = newId();
      NetworkRecord n = new NetworkRecord(id, name, NetworkRecord.BRIDGE, s.toString(), Subnet.format(Subnet.toInt(gw)),
          bridgeName(prefix, id), labels, internal, Instant.now());
      save(n);
      return n;
    }
  }

  /** The host's routes minus those of this agent's own bridges, which overlap their own networks by design. */
  private static RouteTable withoutOwnBridges(RouteTable host, List<NetworkRecord> bridges) {
    List<String> own = bridges.stream().map(NetworkRecord::bridge).toList();
    return host.excludingInterfaces(own::contains);
  }

  /** The network named {@code ref}, or whose id is or starts with {@code ref}. */
  public Optional<NetworkRecord> find(String ref) {
    if (ref == null || ref.isBlank()) {
      return Optional.empty();
    }
    List<NetworkRecord> all = list();
    for (NetworkRecord n : all) {
      if (n.name().equals(ref) || n.id().equals(ref)) {
        return Optional.of(n);
      }
    }
    List<NetworkRecord> byPrefix = all.stream().filter(n -> n.id().startsWith(ref)).toList();
    if (byPrefix.size() > 1) {
      throw BerthException.invalid("network " + ref + " is ambiguous (" + byPrefix.size() + " matches found)");
    }
    return byPrefix.stream().findFirst();
  }

  /** @throws BerthException NOT_FOUND in Docker's words */
  public NetworkRecord get(String ref) {
    return find(ref).orElseThrow(() -> BerthException.notFound("network " + ref + " not found"));
  }

  public List<NetworkRecord> list() {
    try (Stream<Path> files = Files.list(dir)) {
      List<NetworkRecord> out = new ArrayList<>();
      for (Path f : (Iterable<Path>) files::iterator) {
        if (f.getFileName().toString().endsWith(".json")) {
          out.add(read(f));
        }
      }
      out.sort(Comparator.comparing(NetworkRecord::name));
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Forgets a user-defined network; the caller has checked that no container uses it and
   * has removed its bridge.
   *
   * @throws BerthException FAILED_PRECONDITION for a predefined network
   */
  public void remove(NetworkRecord n) {
    if (n.predefined()) {
      throw BerthException.failedPrecondition(n.name() + " is a pre-defined network and cannot be removed");
    }
    synchronized (lock) {
      try {
        Files.deleteIfExists(dir.resolve(n.id() + ".json"));
      } catch (IOException e) {
        throw BerthException.internal("cannot remove network " + n.name() + ": " + e.getMessage(), e);
      }
    }
  }

  private NetworkRecord read(Path f) {
    try {
      return json.readValue(f.toFile(), NetworkRecord.class);
    } catch (IOException e) {
      throw BerthException.internal("the network file " + f + " is damaged: " + e.getMessage(), e);
    }
  }

  private void save(NetworkRecord n) {
    try {
      if (n.name().equals(NetworkRecord.DEFAULT)) {
        // The default bridge keeps its id; an old file of it under another id must not linger.
        for (NetworkRecord old : list()) {
          if (old.name().equals(n.name()) && !old.id().equals(n.id())) {
            Files.deleteIfExists(dir.resolve(old.id() + ".json"));
          }
        }
      }
      AtomicFiles.write(dir.resolve(n.id() + ".json"), json.writeValueAsBytes(n));
    } catch (IOException e) {
      throw BerthException.internal("cannot store network " + n.name() + ": " + e.getMessage(), e);
    }
  }

  private static String newId() {
    byte[] b = new byte[32];
    RANDOM.nextBytes(b);
    return HexFormat.of().formatHex(b);
  }

  private static String validInterface(String name) {
    if (!name.matches("[a-zA-Z0-9_.-]{1,15}")) {
      throw BerthException.invalid("invalid bridge name \"" + name + "\": 1 to 15 of [a-zA-Z0-9_.-]");
    }
    return name;
  }

  /** {@code <prefix>0}, as docker0, unless the prefix is too long for an interface name. */
  static String defaultBridgeName(String prefix) {
    String n = prefix + "0";
    return n.length() <= IFNAMSIZ ? n : shortName("br", prefix + "/default");
  }

  /** {@code <prefix>-<id…>} cut to an interface name's 15 bytes; a hash when the prefix leaves too little room. */
  static String bridgeName(String prefix, String networkId) {
    String n = prefix + "-" + networkId;
    return prefix.length() <= 9 ? n.substring(0, IFNAMSIZ) : shortName("br", prefix + "/" + networkId);
  }

  /**
   * A name for a kernel object that must fit 15 bytes yet differ between agents sharing one
   * kernel: {@code lead} plus hex of a hash of what identifies it.
   */
  public static String shortName(String lead, String key) {
    try {
      byte[] h = MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
      return (lead + HexFormat.of().formatHex(h)).substring(0, IFNAMSIZ);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
