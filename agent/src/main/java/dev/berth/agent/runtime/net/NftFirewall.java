package dev.berth.agent.runtime.net;

import dev.berth.agent.BerthException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The firewall as one nftables table of the agent's own ({@code table ip <prefix>}), installed
 * by running {@code nft -f -} with a script.
 *
 * <p><b>Why kernel NAT.</b> Published ports are forwarded by DNAT rules in the kernel rather
 * than by a proxy process that accepts on the host port and copies bytes to the container (as
 * Docker's docker-proxy does). No process of the agent carries the traffic, so connections
 * keep flowing while the agent restarts or is upgraded, and the bytes are not copied through
 * user space; the container also sees the client's real address. The cost is that the rules
 * must be right for every path a packet can take (from outside, from the host itself through
 * the output chain, from another container), which this class's script spells out. Measured
 * on the same stream in one run ({@code bench/net.sh}, results in {@code bench/results/net.md}),
 * NAT carried about 1.5 times the throughput of a copying userland relay, with a lower
 * round-trip time (p50 60 against 80 µs) and about 0.7 times its CPU per byte, and came within
 * 7% of a direct connection to the container's address.
 *
 * <p><b>The table.</b> Each {@link #apply} is one nft transaction that creates the table if
 * it is missing, deletes it, and creates it anew with all rules ({@link #render}); the kernel
 * commits the transaction whole or not at all, so a crash or a refused rule never leaves half
 * a rule set. Its chains:
 * <ul>
 *   <li>{@code prerouting} (nat, dstnat): published ports arriving from outside or from a
 *       container, to a local address ({@code fib daddr type local}) or the given host address,
 *       are DNATed to the container;
 *   <li>{@code output} (nat, -100): the same for connections the host itself opens, so
 *       {@code 127.0.0.1:HOSTPORT} and the host's own addresses work on the host;
 *   <li>{@code postrouting} (nat, srcnat): loopback sources leaving through a bridge are
 *       masqueraded to the bridge's address (the container could not answer 127.0.0.1; needs
 *       route_localnet, see {@link FirewallSysctls}); a container that reached a published port
 *       of its own bridge through the host is masqueraded too, so the reply comes back through
 *       the host instead of straight from the peer; and each network with masquerade on has
 *       its subnet masqueraded when it leaves through any other interface;
 *   <li>{@code forward} (filter, 0, policy accept): connections to a published port are
 *       accepted (a published port is public, whichever network asks); otherwise traffic from
 *       one Berth bridge to a different Berth bridge is dropped, which isolates networks; the
 *       rest to and from the bridges is accepted. Another base chain on the same hook (e.g.
 *       Docker's iptables FORWARD chain with policy drop) still sees the packets and may drop
 *       them: an accept only ends this chain;
 *   <li>{@code input} (filter, 0): new connections arriving on a bridge for 127.0.0.0/8 are
 *       dropped, because route_localnet would otherwise let containers reach the host's
 *       loopback-only services.
 * </ul>
 *
 * <p>Thread-safe: {@link #apply} and {@link #remove} are serialized on the instance.
 */
public final class NftFirewall implements Firewall {
  /** The command on the host: the nft binary of Debian's nftables package, from PATH. */
  public static final List<String> NFT = List.of("nft");

  /** How long nft may take; it answers in milliseconds unless the kernel is stuck. */
  static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

  private final String table;
  private final List<String> command;
  private final Duration timeout;

  /** The table for this agent prefix (see {@link #tableName}), applied with {@code nft}. */
  public NftFirewall(String prefix) {
    this(prefix, NFT);
  }

  /**
   * The table for this agent prefix, applied with {@code command} followed by {@code -f -}; for
   * instance {@code ip netns exec NS nft} to act in another network namespace.
   */
  public NftFirewall(String prefix, List<String> command) {
    this(prefix, command, DEFAULT_TIMEOUT);
  }

  /** The host's firewall for this agent prefix: {@code new NftFirewall(prefix)}. */
  public static NftFirewall forPrefix(String prefix) {
    return new NftFirewall(prefix);
  }

  NftFirewall(String prefix, List<String> command, Duration timeout) {
    if (command.isEmpty()) {
      throw new IllegalArgumentException("no nft command");
    }
    this.table = tableName(prefix);
    this.command = List.copyOf(command);
    this.timeout = timeout;
  }

  /**
   * The nft table name for an agent prefix: lower-cased, characters nft does not accept in a
   * name replaced by '_', "berth-" in front when it does not start with a letter; e.g. "berth"
   * stays "berth", "bt-1A2B" becomes "bt-1a2b", "" becomes "berth".
   */
  public static String tableName(String prefix) {
    return FirewallNames.table(prefix);
  }

  /** The name of this firewall's table (family ip). */
  public String table() {
    return table;
  }

  @Override
  public synchronized void apply(Rules rules) {
    run(render(table, rules), "apply the rules of");
  }

  @Override
  public synchronized void remove() {
    run(renderRemove(table), "remove");
  }

  /**
   * The nft script that replaces the table with {@code rules}, in one transaction. A pure
   * function: the same rules give the same text.
   */
  public static String render(String table, Rules rules) {
    StringBuilder s = new StringBuilder(renderRemove(table));
    s.append("table ip ").append(table).append(" {\n");

    List<String> dnat = new ArrayList<>();
    for (PublishedPort p : rules.ports()) {
      String match = p.hostIp().isEmpty() ? "fib daddr type local" : "ip daddr " + p.hostIp();
      dnat.add(match + " " + p.protocol().keyword() + " dport " + p.hostPort() + " dnat to "
          + p.containerIp().getHostAddress() + ":" + p.containerPort());
    }
    chain(s, "prerouting", "type nat hook prerouting priority dstnat; policy accept;", dnat);
    chain(s, "output", "type nat hook output priority -100; policy accept;", dnat);

    List<String> snat = new ArrayList<>();
    for (Network n : rules.networks()) {
      String br = quote(n.bridge());
      snat.add("ip saddr 127.0.0.0/8 oifname " + br + " masquerade");
      snat.add("ip saddr " + n.subnet() + " oifname " + br + " ct status dnat masquerade");
      if (n.masquerade()) {
        snat.add("ip saddr " + n.subnet() + " oifname != " + br + " masquerade");
      }
    }
    chain(s, "postrouting", "type nat hook postrouting priority srcnat; policy accept;", snat);

    List<String> forward = new ArrayList<>();
    if (!rules.networks().isEmpty()) {
      forward.add("ct status dnat accept");
    }
    if (rules.networks().size() > 1) {
      for (Network n : rules.networks()) {
        List<String> others = rules.networks().stream().filter(o -> o != n).map(o -> quote(o.bridge())).toList();
        forward.add("iifname " + quote(n.bridge()) + " oifname { " + String.join(", ", others) + " } drop");
      }
    }
    for (Network n : rules.networks()) {
      forward.add("iifname " + quote(n.bridge()) + " accept");
      forward.add("oifname " + quote(n.bridge()) + " accept");
    }
    chain(s, "forward", "type filter hook forward priority filter; policy accept;", forward);

    List<String> input = new ArrayList<>();
    for (Network n : rules.networks()) {
      input.add("iifname " + quote(n.bridge()) + " ip daddr 127.0.0.0/8 ct state != { established, related } drop");
    }
    chain(s, "input", "type filter hook input priority filter; policy accept;", input);

    s.append("}\n");
    return s.toString();
  }

  /**
   * The nft script that deletes the table. Creating it first makes the deletion succeed when
   * there is none, so removing twice is harmless.
   */
  public static String renderRemove(String table) {
    return "table ip " + table + " {}\ndelete table ip " + table + "\n";
  }

  private static void chain(StringBuilder s, String name, String base, List<String> rules) {
    s.append("\tchain ").append(name).append(" {\n\t\t").append(base).append('\n');
    for (String rule : rules) {
      s.append("\t\t").append(rule).append('\n');
    }
    s.append("\t}\n");
  }

  private static String quote(String iface) {
    return "\"" + iface + "\"";
  }

  private void run(String script, String what) {
    List<String> argv = new ArrayList<>(command);
    argv.add("-f");
    argv.add("-");
    Process process;
    try {
      process = new ProcessBuilder(argv).redirectErrorStream(true).start();
    } catch (IOException e) {
      throw BerthException.failedPrecondition("cannot run " + String.join(" ", command)
          + " (the nft binary of the nftables package is needed for published ports and networks): " + e.getMessage());
    }
    ByteArrayOutputStream output = new ByteArrayOutputStream();
    // Read while writing: nft may answer before it has read the whole script.
    Thread reader = new Thread(() -> {
      try (InputStream in = process.getInputStream()) {
        in.transferTo(output);
      } catch (IOException e) {
        // The process went away; what was read is reported.
      }
    }, "nft-output");
    reader.setDaemon(true);
    reader.start();
    try {
      try (OutputStream in = process.getOutputStream()) {
        in.write(script.getBytes(StandardCharsets.UTF_8));
      } catch (IOException e) {
        // nft exited early (a broken pipe); its exit status and output say why.
      }
      if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        process.destroyForcibly();
        process.waitFor(5, TimeUnit.SECONDS);
        throw BerthException.internal("nft did not " + what + " table ip " + table + " within " + timeout.toSeconds() + "s", null);
      }
      reader.join(timeout.toMillis());
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
      throw BerthException.internal("interrupted while nft was running for table ip " + table, e);
    }
    if (process.exitValue() != 0) {
      String out = output.toString(StandardCharsets.UTF_8).strip();
      throw BerthException.internal("nft could not " + what + " table ip " + table + " (exit status " + process.exitValue()
          + "): " + out, null);
    }
  }
}
