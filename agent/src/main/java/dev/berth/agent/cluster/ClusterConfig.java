package dev.berth.agent.cluster;

import dev.berth.agent.BerthException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Pattern;

/**
 * How this agent takes part in a cluster.
 *
 * @param cluster the cluster's name; agents of another cluster are not let in
 * @param node this agent's name, unique in the cluster, also its Raft member id
 * @param advertise where the others reach this agent (TCP and UDP); also the only address bound
 * @param join seeds to discover the cluster through; empty for the first agent
 * @param server whether this agent is one of the Raft servers
 * @param servers the fixed Raft server set by node name (Atomix 3 bootstraps each Raft group from
 *     a fixed member list); empty on a plain member, which learns the groups from the servers
 * @param dataDir where the Raft logs live, so state survives a restart of every agent
 * @param failureTimeout how long SWIM waits for a silent member before it removes it
 * @param gracePeriod how long the servers go without a heartbeat from a node before it is down
 *     (its allocations re-placeable); suspect before that
 * @param tls mutual TLS of the messaging (Raft) from the cluster CA; null for plaintext, which the
 *     composition root allows only on loopback or when asked for explicitly
 * @param apiAddress host:port of this agent's gRPC API over TCP as the other agents reach it (see
 *     {@link #apiAddressOf}), registered so that they can forward requests about its containers;
 *     empty when it serves none
 */
public record ClusterConfig(String cluster, String node, Endpoint advertise, List<Endpoint> join, boolean server,
    List<String> servers, Path dataDir, Duration failureTimeout, Duration gracePeriod, MessagingTls tls,
    String apiAddress) {

  /** The default port of Atomix messaging and SWIM; chosen apart from the API's 2377. */
  public static final int DEFAULT_PORT = 7946;
  /**
   * 3 s instead of Atomix's 10 s: measured here, a killed member was then removed after ~4.3 s and
   * unreachable after 0.5-1.5 s; the target is a dead member known as down within 3 s.
   */
  public static final Duration DEFAULT_FAILURE_TIMEOUT = Duration.ofSeconds(3);
  /**
   * 2 s: a node heartbeats to the servers every 250 ms, so a dead one is down 1.75-2 s after it
   * died, within the target of 3 s at p99 with room for the view to travel; eight missed
   * heartbeats in a row are not a GC pause or a busy host. Nomad waits ~20 s, Swarm ~15 s.
   */
  public static final Duration DEFAULT_GRACE_PERIOD = Duration.ofSeconds(2);
  /** Below this a grace period would count a loaded host's scheduling hiccups as deaths. */
  public static final Duration MIN_GRACE_PERIOD = Duration.ofMillis(500);
  /** The name a cluster gets when none is given. */
  public static final String DEFAULT_CLUSTER = "berth";

  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,62}");

  public ClusterConfig {
    join = List.copyOf(join);
    apiAddress = apiAddress == null ? "" : apiAddress;
    servers = List.copyOf(servers);
    requireName("cluster", cluster);
    requireName("node", node);
    servers.forEach(s -> requireName("server", s));
    if (gracePeriod == null || gracePeriod.compareTo(MIN_GRACE_PERIOD) < 0) {
      throw BerthException.invalid("--grace-period must be at least " + MIN_GRACE_PERIOD.toMillis() + "ms; got " + gracePeriod);
    }
    if (server && !servers.contains(node)) {
      throw BerthException.invalid("this agent is a server, so --servers must name it (" + node + "); got " + servers);
    }
    if (!server && !servers.isEmpty()) {
      throw BerthException.invalid("--servers is for the server agents; a plain member learns them from the cluster");
    }
    if (servers.size() % 2 == 0 && !servers.isEmpty()) {
      throw BerthException.invalid("a Raft group needs an odd number of servers (1, 3 or 5); got " + servers.size());
    }
    if (join.isEmpty() && !(server && servers.equals(List.of(node)))) {
      throw BerthException.invalid("without --join this agent is a one-server cluster of its own: it cannot wait for other servers "
          + servers + "; give --join with their addresses");
    }
  }

  /** Without TLS: plaintext messaging; no API over TCP. */
  public ClusterConfig(String cluster, String node, Endpoint advertise, List<Endpoint> join, boolean server,
      List<String> servers, Path dataDir, Duration failureTimeout, Duration gracePeriod) {
    this(cluster, node, advertise, join, server, servers, dataDir, failureTimeout, gracePeriod, null, "");
  }

  /** This configuration with its messaging over mutual TLS. */
  public ClusterConfig withTls(MessagingTls t) {
    return new ClusterConfig(cluster, node, advertise, join, server, servers, dataDir, failureTimeout, gracePeriod, t,
        apiAddress);
  }

  /** This configuration with the API address it registers ({@link #apiAddressOf}). */
  public ClusterConfig withApiAddress(String a) {
    return new ClusterConfig(cluster, node, advertise, join, server, servers, dataDir, failureTimeout, gracePeriod, tls, a);
  }

  /**
   * The address other agents reach an API bound to {@code tcp} at; empty for none ({@code tcp}
   * null). A wildcard address (0.0.0.0, ::) is reached at the host of {@code advertise}, the one
   * address the others are known to reach. A loopback address is reached only by agents that
   * share this host's loopback, which an {@code advertise} on loopback says; with any other
   * {@code advertise} it is empty, so that no agent dials its own loopback believing it reaches
   * this one.
   */
  public static String apiAddressOf(InetSocketAddress tcp, Endpoint advertise) {
    if (tcp == null || tcp.getAddress() == null) {
      return "";
    }
    InetAddress a = tcp.getAddress();
    if (a.isAnyLocalAddress()) {
      return new Endpoint(advertise.host(), tcp.getPort()).toString();
    }
    if (a.isLoopbackAddress() && !isLoopback(advertise.host())) {
      return "";
    }
    return new Endpoint(a.getHostAddress(), tcp.getPort()).toString();
  }

  private static boolean isLoopback(String host) {
    try {
      return InetAddress.getByName(host).isLoopbackAddress();
    } catch (java.net.UnknownHostException e) {
      return false;
    }
  }

  /** The embedded default: a one-server cluster of its own, on loopback. */
  public static ClusterConfig standalone(String node, Path dataDir, Endpoint advertise) {
    return new ClusterConfig(DEFAULT_CLUSTER, node, advertise, List.of(), true, List.of(node), dataDir, DEFAULT_FAILURE_TIMEOUT,
        DEFAULT_GRACE_PERIOD);
  }

  public Role role() {
    return server ? Role.SERVER : Role.MEMBER;
  }

  private static void requireName(String what, String name) {
    if (name == null || !NAME.matcher(name).matches()) {
      throw BerthException.invalid("invalid " + what + " name \"" + name
          + "\": letters, digits, '_', '.' and '-', starting with a letter or digit, at most 63");
    }
  }
}
