package dev.berth.agent.cluster;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * berthd's cluster flags, a picocli mixin of {@code AgentMain}. With none of them the agent is a
 * one-server cluster of its own on loopback: the embedded default, nothing else to start.
 */
public final class ClusterOptions {
  @Option(names = "--cluster", paramLabel = "NAME",
      description = "Name of the cluster to form or join; agents of another cluster are refused (default: ${DEFAULT-VALUE}).")
  String cluster = ClusterConfig.DEFAULT_CLUSTER;

  @Option(names = "--advertise", paramLabel = "ADDR:PORT",
      description = "Where the other agents reach this one, TCP and UDP; the only address the cluster layer binds "
          + "(default: ${DEFAULT-VALUE}).")
  String advertise = "127.0.0.1:" + ClusterConfig.DEFAULT_PORT;

  @Option(names = "--join", paramLabel = "SEED", split = ",",
      description = "Addresses (ADDR:PORT) of agents already in the cluster, or of the other servers when creating it. "
          + "Without it the agent is a one-server cluster of its own.")
  List<String> join = new ArrayList<>();

  @Option(names = "--server", description = "This agent is one of the Raft servers (it must be named in --servers).")
  boolean server;

  @Option(names = "--servers", paramLabel = "NAME", split = ",",
      description = "The fixed set of Raft servers by node name (1, 3 or 5), the same on every server. "
          + "Given once, when the cluster is created; plain members learn it from the cluster.")
  List<String> servers = new ArrayList<>();

  /** The configuration these flags describe; throws INVALID_ARGUMENT for a contradiction. */
  public ClusterConfig toConfig(String node, Path dataDir) {
    Endpoint adv = Endpoint.parse("--advertise", advertise);
    List<Endpoint> seeds = new ArrayList<>();
    join.forEach(j -> seeds.addAll(Endpoint.parseList("--join", j)));
    Path dir = dataDir.resolve("cluster");
    if (seeds.isEmpty() && (servers.isEmpty() || servers.equals(List.of(node)))) {
      return new ClusterConfig(cluster, node, adv, List.of(), true, List.of(node), dir, ClusterConfig.DEFAULT_FAILURE_TIMEOUT);
    }
    return new ClusterConfig(cluster, node, adv, seeds, server, server ? servers : List.of(), dir,
        ClusterConfig.DEFAULT_FAILURE_TIMEOUT);
  }
}
