package dev.berth.agent.cluster;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/**
 * berthd's cluster flags, a picocli mixin of {@code AgentMain}. With none of them the agent is a
 * one-server cluster of its own on loopback: the embedded default, nothing else to start.
 */
public final class ClusterOptions {
  @Option(names = "--cluster", paramLabel = "NAME",
      description = "Name of the cluster to form or join; agents of another cluster are refused (default: ${DEFAULT-VALUE}).")
  String cluster = ClusterConfig.DEFAULT_CLUSTER;

  @Option(names = "--advertise", paramLabel = "ADDR:PORT", converter = AddressText.class,
      description = "Where the other agents reach this one, TCP and UDP; the only address the cluster layer binds "
          + "(default: ${DEFAULT-VALUE}).")
  String advertise = "127.0.0.1:" + ClusterConfig.DEFAULT_PORT;

  @Option(names = "--join", paramLabel = "SEED", split = ",", converter = AddressText.class,
      description = "Addresses (ADDR:PORT) of agents already in the cluster, or of the other servers when creating it. "
          + "Without it the agent is a one-server cluster of its own.")
  List<String> join = new ArrayList<>();

  @Option(names = "--server", description = "This agent is one of the Raft servers (it must be named in --servers).")
  boolean server;

  @Option(names = "--servers", paramLabel = "NAME", split = ",",
      description = "The fixed set of Raft servers by node name (1, 3 or 5), the same on every server. "
          + "Given once, when the cluster is created; plain members learn it from the cluster.")
  List<String> servers = new ArrayList<>();

  @Option(names = "--grace-period", paramLabel = "DURATION", converter = DurationText.class,
      description = "How long the servers go without a heartbeat from a node before it is down and its allocations may be "
          + "re-placed, e.g. 2s or 1500ms; suspect before that (default: ${DEFAULT-VALUE}).")
  String gracePeriod = ClusterConfig.DEFAULT_GRACE_PERIOD.toSeconds() + "s";

  /*
   * The converters below only check, and keep the text for toConfig: a malformed value is then
   * refused while the flags (or berthd's config file) are parsed, naming the flag, or the file's
   * line, before anything starts.
   */

  /** An ADDR:PORT; blank items of a comma-separated --join are skipped later, as before. */
  static final class AddressText implements CommandLine.ITypeConverter<String> {
    @Override
    public String convert(String value) {
      if (!value.isBlank()) {
        try {
          Endpoint.parse("address", value);
        } catch (dev.berth.agent.BerthException e) {
          throw new CommandLine.TypeConversionException(e.getMessage());
        }
      }
      return value;
    }
  }

  /** A duration as {@link #duration} reads it. */
  static final class DurationText implements CommandLine.ITypeConverter<String> {
    @Override
    public String convert(String value) {
      try {
        duration("duration", value);
      } catch (dev.berth.agent.BerthException e) {
        throw new CommandLine.TypeConversionException(e.getMessage());
      }
      return value;
    }
  }

  /** The configuration these flags describe; throws INVALID_ARGUMENT for a contradiction. */
  public ClusterConfig toConfig(String node, Path dataDir) {
    Endpoint adv = Endpoint.parse("--advertise", advertise);
    List<Endpoint> seeds = new ArrayList<>();
    join.forEach(j -> seeds.addAll(Endpoint.parseList("--join", j)));
    Path dir = dataDir.resolve("cluster");
    java.time.Duration grace = duration("--grace-period", gracePeriod);
    if (seeds.isEmpty() && (servers.isEmpty() || servers.equals(List.of(node)))) {
      return new ClusterConfig(cluster, node, adv, List.of(), true, List.of(node), dir, ClusterConfig.DEFAULT_FAILURE_TIMEOUT,
          grace);
    }
    return new ClusterConfig(cluster, node, adv, seeds, server, server ? servers : List.of(), dir,
        ClusterConfig.DEFAULT_FAILURE_TIMEOUT, grace);
  }

  /** Parses {@code 2s}, {@code 1500ms}, {@code 1m}; a bare number is seconds. */
  static java.time.Duration duration(String flag, String text) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d{1,9})(ms|s|m)?").matcher(text.trim());
    if (!m.matches()) {
      throw dev.berth.agent.BerthException.invalid("invalid " + flag + " \"" + text + "\": expected a duration such as 2s or 1500ms");
    }
    long n = Long.parseLong(m.group(1));
    String unit = m.group(2) == null ? "s" : m.group(2);
    return switch (unit) {
      case "ms" -> java.time.Duration.ofMillis(n);
      case "m" -> java.time.Duration.ofMinutes(n);
      default -> java.time.Duration.ofSeconds(n);
    };
  }
}
