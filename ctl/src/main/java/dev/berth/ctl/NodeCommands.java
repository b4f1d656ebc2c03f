package dev.berth.ctl;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.berth.proto.v1.ListNodesRequest;
import dev.berth.proto.v1.Node;
import dev.berth.proto.v1.NodeContainer;
import dev.berth.proto.v1.NodeRef;
import dev.berth.proto.v1.NodeRole;
import dev.berth.proto.v1.NodeServiceGrpc;
import dev.berth.proto.v1.NodeStatus;
import dev.berth.proto.v1.UpdateNodeRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.TreeMap;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** `nodes`, `node inspect|update|drain|activate`: the cluster's nodes as any agent sees them. */
final class NodeCommands {
  private NodeCommands() {
  }

  static NodeServiceGrpc.NodeServiceBlockingStub stub(Cli cli) {
    return NodeServiceGrpc.newBlockingStub(cli.channel());
  }

  /** `node`: the group; {@link Commands} registers its subcommands. */
  @Command(name = "node", description = "Manage the cluster's nodes", synopsisSubcommandLabel = "COMMAND")
  static final class Group extends GroupCommand {
    Group(Cli cli) {
      super(cli);
    }
  }

  /**
   * `nodes [--format table|json|prometheus-sd]`: one line per node; json: one object per line;
   * prometheus-sd: a Prometheus file_sd target list of every node's metrics endpoint.
   */
  @Command(name = "nodes", description = "List the cluster's nodes")
  static final class Ls extends BaseCommand {
    @Option(names = "--format", paramLabel = "FORMAT",
        description = "Output format: table (default), json, or prometheus-sd (targets for Prometheus' file_sd_configs)")
    String format = "table";

    @Option(names = "--metrics-port", paramLabel = "PORT",
        description = "With prometheus-sd: the port of the agents' --metrics-addr (default: ${DEFAULT-VALUE})")
    int metricsPort = 9323;

    Ls(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      if (!format.equals("table") && !format.equals("json") && !format.equals("prometheus-sd")) {
        throw new CliException("unsupported format \"" + format + "\": use table, json or prometheus-sd", 1);
      }
      List<Node> nodes = stub(cli).list(ListNodesRequest.getDefaultInstance()).getNodesList();
      if (format.equals("prometheus-sd")) {
        cli.out.println(Json.pretty(prometheusTargets(nodes, metricsPort)));
        return 0;
      }
      if (format.equals("json")) {
        nodes.forEach(n -> cli.out.println(Json.compact(json(n))));
        return 0;
      }
      Table table = new Table("NAME", "ADDRESS", "ROLE", "STATUS", "CPU", "MEMORY", "CONTAINERS", "LABELS");
      for (Node n : nodes) {
        table.add(n.getName(), n.getAddress(), role(n.getRole()), status(n),
            n.getCpus() == 0 ? "-" : String.format(Locale.ROOT, "%.1f/%d", n.getCpus() - n.getFreeCpus(), n.getCpus()),
            n.getMemoryBytes() == 0 ? "-" : Format.humanSize(n.getMemoryBytes() - n.getFreeMemoryBytes()) + "/"
                + Format.humanSize(n.getMemoryBytes()),
            Integer.toString(n.getContainersCount()), Format.labels(n.getLabelsMap()));
      }
      table.print(cli.out);
      return 0;
    }
  }

  /** `node inspect NODE…`: a pretty JSON array; the missing ones are errors after it. */
  @Command(name = "inspect", description = "Display detailed information on one or more nodes")
  static final class Inspect extends BaseCommand {
    @Parameters(arity = "1..*", paramLabel = "NODE")
    List<String> names = new ArrayList<>();

    Inspect(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      return Json.inspectAll(this, names, n -> json(stub(cli).inspect(NodeRef.newBuilder().setName(n).build())));
    }
  }

  /** `node update [--label-add K=V]… [--label-rm K]… [--drain|--no-drain] [--eligible|--ineligible] NODE`. */
  @Command(name = "update", description = "Update a node's labels, drain or eligibility")
  static final class Update extends BaseCommand {
    @Option(names = "--label-add", paramLabel = "KEY=VALUE", description = "Add or update a node label")
    List<String> add = new ArrayList<>();

    @Option(names = "--label-rm", paramLabel = "KEY", description = "Remove a node label if it exists")
    List<String> rm = new ArrayList<>();

    @Option(names = "--drain", negatable = true, description = "Move allocations away and place none here (--no-drain: undo)")
    Boolean drain;

    @Option(names = "--eligible", negatable = true, description = "Whether new allocations may be placed here (--no-eligible: not)")
    Boolean eligible;

    @Parameters(index = "0", paramLabel = "NODE")
    String name;

    Update(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      UpdateNodeRequest.Builder r = UpdateNodeRequest.newBuilder().setName(name).addAllLabelRm(rm);
      for (String l : add) {
        int eq = l.indexOf('=');
        if (eq <= 0) {
          throw new CliException("invalid label \"" + l + "\": expected KEY=VALUE", 1);
        }
        r.putLabelAdd(l.substring(0, eq), l.substring(eq + 1));
      }
      if (drain != null) {
        r.setDrain(drain);
      }
      if (eligible != null) {
        r.setEligible(eligible);
      }
      cli.out.println(stub(cli).update(r.build()).getName());
      return 0;
    }
  }

  /**
   * `node drain NODE [--deadline DUR | --no-deadline | --force] [--yes]`: moves the node's
   * allocations elsewhere, each job's {@code update.max_parallel} at a time, and places nothing
   * new there; once the deadline passed, what is left is stopped (and placed elsewhere) at once.
   * System jobs' allocations go last. Asks first, as {@code nomad node drain} does, unless
   * {@code --yes}; returns once the drain is recorded (the scheduler does the moving).
   */
  @Command(name = "drain", description = "Move a node's allocations elsewhere and place nothing new on it")
  static final class Drain extends BaseCommand {
    @Parameters(index = "0", paramLabel = "NODE")
    String name;

    @Option(names = "--deadline", paramLabel = "DURATION",
        description = "After this long, stop what is left at once (default: 1h)")
    String deadline;

    @Option(names = "--no-deadline", description = "Never stop what is left: wait for every allocation to move")
    boolean noDeadline;

    @Option(names = "--force", description = "Stop and move every allocation at once (a deadline of 0)")
    boolean force;

    @Option(names = {"-y", "--yes"}, description = "Do not ask for confirmation")
    boolean yes;

    Drain(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      if ((deadline != null ? 1 : 0) + (noDeadline ? 1 : 0) + (force ? 1 : 0) > 1) {
        throw new CliException("give at most one of --deadline, --no-deadline and --force", 1);
      }
      long millis = ClusterDefaults.DRAIN_DEADLINE_MILLIS;
      if (deadline != null) {
        try {
          millis = JobMonitor.parseDuration(deadline).toMillis();
        } catch (IllegalArgumentException e) {
          throw new CliException("--deadline: " + e.getMessage(), 1);
        }
      } else if (noDeadline) {
        millis = -1;
      } else if (force) {
        millis = 0;
      }
      if (!yes && !ask("Drain node " + name + "? Its allocations move to other nodes"
          + (millis == 0 ? ", all at once" : millis < 0 ? "" : "; what is left after " + deadlineText(millis)
              + " is stopped at once") + ".")) {
        cli.out.println("Not drained.");
        return 1;
      }
      Node n = stub(cli).update(UpdateNodeRequest.newBuilder().setName(name).setDrain(true)
          .setDrainDeadlineMillis(millis).build());
      cli.out.println("Node " + n.getName() + " is draining"
          + (n.getDrainDeadlineUnixMillis() > 0 ? " (deadline " + java.time.Instant.ofEpochMilli(n.getDrainDeadlineUnixMillis())
              .truncatedTo(java.time.temporal.ChronoUnit.SECONDS) + ")" : " (no deadline)"));
      return 0;
    }

    private static String deadlineText(long millis) {
      String h = Format.humanDuration(millis * 1_000_000L);
      return h.substring(0, 1).toLowerCase(Locale.ROOT) + h.substring(1);
    }
  }

  /** `node activate NODE`: ends a drain and makes the node eligible for new allocations again. */
  @Command(name = "activate", description = "Stop draining a node and let new allocations be placed on it")
  static final class Activate extends BaseCommand {
    @Parameters(index = "0", paramLabel = "NODE")
    String name;

    Activate(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      Node n = stub(cli).update(UpdateNodeRequest.newBuilder().setName(name).setDrain(false).setEligible(true).build());
      cli.out.println("Node " + n.getName() + " is eligible");
      return 0;
    }
  }

  /** Defaults the agent applies too, repeated here only to word the question. */
  static final class ClusterDefaults {
    /** Nomad's default drain deadline. */
    static final long DRAIN_DEADLINE_MILLIS = 3_600_000L;

    private ClusterDefaults() {
    }
  }

  /** Asks on the console; without one there is nobody to ask: an error telling to give --yes. */
  static boolean ask(String question) {
    java.io.Console console = System.console();
    if (console == null) {
      throw new CliException("node drain asks for confirmation: give --yes where there is no terminal", 1);
    }
    String answer = console.readLine(question + "%nAre you sure? [y/N] ");
    return answer != null && answer.trim().equalsIgnoreCase("y");
  }

  /**
   * Prometheus' file_sd format: one target group per node, {@code HOST:PORT} of its metrics
   * endpoint with the node's name, role and labels (as {@code label_KEY}, made a valid label
   * name). Every node is listed, down ones too: their {@code up} is then 0, which is what the
   * node-down alert watches.
   *
   * <p>The node facts carry the cluster address (Atomix messaging, {@code HOST:PORT}), not the
   * metrics address: the target is that host with {@code port}, so every agent is assumed to
   * serve {@code --metrics-addr} on the same port of its cluster address.
   */
  static ArrayNode prometheusTargets(List<Node> nodes, int port) {
    ArrayNode groups = Json.array();
    for (Node n : nodes) {
      String host = host(n.getAddress());
      if (host.isEmpty()) {
        continue; // never seen: no address to scrape
      }
      ObjectNode g = groups.addObject();
      g.putArray("targets").add((host.contains(":") ? "[" + host + "]" : host) + ":" + port);
      ObjectNode labels = g.putObject("labels");
      labels.put("node", n.getName());
      labels.put("role", role(n.getRole()));
      new TreeMap<>(n.getLabelsMap()).forEach((k, v) -> labels.put("label_" + k.replaceAll("[^a-zA-Z0-9_]", "_"), v));
    }
    return groups;
  }

  /** The host of "HOST:PORT" or "[V6]:PORT"; the whole string when it has no port. */
  static String host(String address) {
    if (address.startsWith("[")) {
      int close = address.indexOf(']');
      return close > 0 ? address.substring(1, close) : address;
    }
    int colon = address.lastIndexOf(':');
    return colon > 0 && address.indexOf(':') == colon ? address.substring(0, colon) : address;
  }

  static String role(NodeRole r) {
    return r == NodeRole.NODE_ROLE_SERVER ? "server" : "member";
  }

  /** ready, suspect or down; "(draining)" or "(ineligible)" after it when set. */
  static String status(Node n) {
    String s = statusWord(n.getStatus());
    if (n.getDrain()) {
      s += " (draining)";
    } else if (n.getRegistered() && !n.getEligible()) {
      s += " (ineligible)";
    }
    return s;
  }

  static String statusWord(NodeStatus s) {
    return switch (s) {
      case NODE_STATUS_READY -> "ready";
      case NODE_STATUS_SUSPECT -> "suspect";
      case NODE_STATUS_DOWN -> "down";
      default -> "unknown";
    };
  }


  static ObjectNode json(Node n) {
    ObjectNode o = Json.object();
    o.put("Name", n.getName());
    o.put("Address", n.getAddress());
    o.put("Role", role(n.getRole()));
    o.put("Status", statusWord(n.getStatus()));
    o.put("Registered", n.getRegistered());
    o.put("Drain", n.getDrain());
    if (n.getDrainDeadlineUnixMillis() > 0) {
      o.put("DrainDeadline", java.time.Instant.ofEpochMilli(n.getDrainDeadlineUnixMillis()).toString());
    }
    o.put("Eligible", n.getEligible());
    o.set("Labels", Json.stringMap(n.getLabelsMap()));
    o.put("Cpus", n.getCpus());
    o.put("FreeCpus", n.getFreeCpus());
    o.put("MemoryBytes", n.getMemoryBytes());
    o.put("FreeMemoryBytes", n.getFreeMemoryBytes());
    ArrayNode containers = o.putArray("Containers");
    for (NodeContainer c : n.getContainersList()) {
      containers.addObject().put("Id", c.getId()).put("Name", c.getName()).put("Image", c.getImage()).put("State", c.getState());
    }
    o.set("Images", Json.strings(n.getImageDigestsList()));
    return o;
  }
}
