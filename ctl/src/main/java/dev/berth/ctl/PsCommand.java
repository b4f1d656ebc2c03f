package dev.berth.ctl;

import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ListContainersRequest;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** `ps`: the table, ids only, or one JSON object per line. The table path stays free of Jackson. */
@Command(name = "ps", description = "List containers")
final class PsCommand extends BaseCommand {
  @Option(names = {"-a", "--all"}, description = "Show all containers (default shows just running)")
  boolean all;

  @Option(names = {"-q", "--quiet"}, description = "Only display container IDs")
  boolean quiet;

  @Option(names = "--no-trunc", description = "Don't truncate output")
  boolean noTrunc;

  @Option(names = "--format", paramLabel = "FORMAT", description = "Output format: table (default) or json")
  String format = "table";

  @Option(names = "--all-nodes", description = "Show the containers of every node of the cluster, with the node "
      + "each is on; other nodes' as they last reported them (id, name, image and state)")
  boolean allNodes;

  PsCommand(Cli cli) {
    super(cli);
  }

  @Override
  int run() {
    if (!format.equals("table") && !format.equals("json")) {
      throw new CliException("unsupported format \"" + format + "\": use table or json", 1);
    }
    List<Container> containers = cli.containers()
        .list(ListContainersRequest.newBuilder().setAll(all).setAllNodes(allNodes).build()).getContainersList();
    if (quiet) {
      for (Container c : containers) {
        cli.out.println(id(c));
      }
    } else if (format.equals("json")) {
      for (Container c : containers) {
        cli.out.println(Json.compact(row(c)));
      }
    } else {
      // NODE last: the columns scripts read by position stay where they were.
      Table t = allNodes ? new Table("CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES", "NODE")
          : new Table("CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES");
      for (Container c : containers) {
        if (allNodes) {
          t.add(id(c), image(c), command(c), created(c), status(c), ports(c), name(c), c.getNode());
        } else {
          t.add(id(c), image(c), command(c), created(c), status(c), ports(c), name(c));
        }
      }
      t.print(cli.out);
    }
    return 0;
  }

  private String id(Container c) {
    return noTrunc ? c.getId() : Format.shortId(c.getId());
  }

  private String image(Container c) {
    String image = c.getImage().isEmpty() ? c.getImageId() : c.getImage();
    return !noTrunc && image.startsWith("sha256:") ? Format.shortId(image) : image;
  }

  /**
   * Whether {@code c} is another node's container as it gossiped it (--all-nodes): id, name, image,
   * status and node, no times (every container an agent returns of its own has its creation time).
   */
  private boolean gossiped(Container c) {
    return allNodes && c.getCreatedAtUnixNanos() == 0;
  }

  private String created(Container c) {
    return gossiped(c) ? "" : Format.ago(c.getCreatedAtUnixNanos(), cli.clock);
  }

  /** STATUS; for a gossiped container its state alone, as its times and exit code are not known here. */
  private String status(Container c) {
    if (gossiped(c)) {
      switch (c.getStatus()) {
        case RUNNING:
          return "Up";
        case EXITED:
          return "Exited";
        default:
          break;
      }
    }
    return Format.status(c, cli.clock);
  }

  private String command(Container c) {
    if (gossiped(c) && c.getCommand().isEmpty() && c.getPathAndArgsCount() == 0) {
      return "";
    }
    String cmd = c.getCommand().isEmpty() ? String.join(" ", c.getPathAndArgsList()) : c.getCommand();
    return Format.quote(noTrunc ? cmd : Format.ellipsis(cmd, 20));
  }

  /** PORTS: what the agent reserved, as docker shows it. */
  private static String ports(Container c) {
    return Ports.display(c.getNetwork().getPortsList());
  }

  private static String name(Container c) {
    String n = c.getName();
    return n.startsWith("/") ? n.substring(1) : n;
  }

  /** docker's {{json .}} of a ps row: string values, keys in alphabetical order. */
  private Map<String, String> row(Container c) {
    Map<String, String> m = new TreeMap<>();
    m.put("Command", command(c));
    m.put("CreatedAt", gossiped(c) ? "" : Format.goTime(c.getCreatedAtUnixNanos(), cli.zone()));
    m.put("ID", id(c));
    m.put("Image", image(c));
    StringBuilder labels = new StringBuilder();
    for (Map.Entry<String, String> l : new TreeMap<>(c.getLabelsMap()).entrySet()) {
      labels.append(labels.length() == 0 ? "" : ",").append(l.getKey()).append('=').append(l.getValue());
    }
    m.put("Labels", labels.toString());
    m.put("Names", name(c));
    if (allNodes) {
      m.put("Node", c.getNode());
    }
    m.put("Networks", c.getNetwork().getNetwork().isEmpty() ? c.getSpec().getNetworkMode() : c.getNetwork().getNetwork());
    m.put("Ports", ports(c));
    m.put("RunningFor", created(c));
    m.put("State", Format.state(c));
    m.put("Status", status(c));
    return m;
  }
}
