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

/** `nodes`, `node inspect|update`: the cluster's nodes as any agent sees them. */
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

  /** ready, suspect or down; "(drain)" or "(ineligible)" after it when set. */
  static String status(Node n) {
    String s = statusWord(n.getStatus());
    if (n.getDrain()) {
      s += " (drain)";
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
