package dev.berth.ctl;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.CreateNetworkRequest;
import dev.berth.proto.v1.ListNetworksRequest;
import dev.berth.proto.v1.Network;
import dev.berth.proto.v1.NetworkEndpoint;
import dev.berth.proto.v1.NetworkRef;
import dev.berth.proto.v1.NetworkServiceGrpc;
import dev.berth.proto.v1.NetworkSettings;
import dev.berth.proto.v1.PortBinding;
import dev.berth.proto.v1.PruneNetworksRequest;
import dev.berth.proto.v1.PruneNetworksResponse;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * `network create|ls|inspect|rm|prune`: the agent's networks, shown as docker shows its local
 * ones; and a container's NetworkSettings as docker's inspect shows them.
 */
final class NetworkCommands {
  /** The only driver a user can create networks with; host and null belong to the predefined ones. */
  static final String DRIVER = "bridge";
  /** Every berth network belongs to one agent: docker's "local" scope. */
  static final String SCOPE = "local";

  private NetworkCommands() {
  }

  static NetworkServiceGrpc.NetworkServiceBlockingStub networks(Cli cli) {
    return NetworkServiceGrpc.newBlockingStub(cli.channel());
  }

  static NetworkRef ref(String nameOrId) {
    return NetworkRef.newBuilder().setId(nameOrId).build();
  }

  /** `network`: the group; {@link Commands} registers its subcommands. */
  @Command(name = "network", description = "Manage networks", synopsisSubcommandLabel = "COMMAND")
  static final class Group extends GroupCommand {
    Group(Cli cli) {
      super(cli);
    }
  }

  /** `network create [-d bridge] [--subnet CIDR] [--gateway IP] [--label K=V]… [--internal] NAME`: prints the id. */
  @Command(name = "create", description = "Create a network")
  static final class Create extends BaseCommand {
    @Option(names = {"-d", "--driver"}, paramLabel = "DRIVER", description = "Driver to manage the Network (only \"bridge\")")
    String driver = DRIVER;

    @Option(names = "--subnet", paramLabel = "CIDR", description = "Subnet in CIDR format; default: a free one from the agent's pool")
    String subnet = "";

    @Option(names = "--gateway", paramLabel = "IP", description = "IPv4 gateway for the subnet; default: its first address")
    String gateway = "";

    @Option(names = "--label", paramLabel = "KEY=VALUE", description = "Set metadata on a network")
    List<String> labels = new ArrayList<>();

    @Option(names = "--internal", description = "Restrict external access to the network")
    boolean internal;

    @Parameters(index = "0", paramLabel = "NETWORK")
    String name;

    Create(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      if (!driver.equals(DRIVER)) {
        throw new CliException("network driver \"" + driver + "\" is not supported: berth creates \"bridge\" networks only", 1);
      }
      if (!gateway.isEmpty() && subnet.isEmpty()) {
        // docker's client refuses this too, before asking the daemon
        throw new CliException("every ip-range or gateway must have a corresponding subnet", 1);
      }
      CreateNetworkRequest.Builder r = CreateNetworkRequest.newBuilder().setName(name).setDriver(driver)
          .setSubnet(subnet).setGateway(gateway).setInternal(internal);
      for (String l : labels) {
        int eq = l.indexOf('=');
        r.putLabels(eq < 0 ? l : l.substring(0, eq), eq < 0 ? "" : l.substring(eq + 1));
      }
      cli.out.println(networks(cli).create(r.build()).getId());
      return 0;
    }
  }

  /** `network ls [-q] [--no-trunc] [--format table|json]`: sorted by name, as docker sorts them. */
  @Command(name = "ls", description = "List networks")
  static final class Ls extends BaseCommand {
    @Option(names = {"-q", "--quiet"}, description = "Only display network IDs")
    boolean quiet;

    @Option(names = "--no-trunc", description = "Do not truncate the output")
    boolean noTrunc;

    @Option(names = "--format", paramLabel = "FORMAT", description = "Output format: table (default) or json")
    String format = "table";

    Ls(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      if (!format.equals("table") && !format.equals("json")) {
        throw new CliException("unsupported format \"" + format + "\": use table or json", 1);
      }
      List<Network> list = new ArrayList<>(networks(cli).list(ListNetworksRequest.getDefaultInstance()).getNetworksList());
      list.sort((a, b) -> Ports.compareNatural(a.getName(), b.getName()));
      if (quiet) {
        list.forEach(n -> cli.out.println(id(n)));
      } else if (format.equals("json")) {
        for (Network n : list) {
          // docker's {{json .}} keys, all strings
          Map<String, String> m = new TreeMap<>();
          m.put("CreatedAt", Format.goTime(n.getCreatedUnixNanos(), cli.zone()));
          m.put("Driver", n.getDriver());
          m.put("ID", id(n));
          m.put("IPv6", "false");
          m.put("Internal", Boolean.toString(n.getInternal()));
          m.put("Labels", Format.labels(n.getLabelsMap()));
          m.put("Name", n.getName());
          m.put("Scope", SCOPE);
          cli.out.println(Json.compact(m));
        }
      } else {
        Table table = new Table("NETWORK ID", "NAME", "DRIVER", "SCOPE");
        list.forEach(n -> table.add(id(n), n.getName(), n.getDriver(), SCOPE));
        table.print(cli.out);
      }
      return 0;
    }

    private String id(Network n) {
      return noTrunc ? n.getId() : Format.shortId(n.getId());
    }

  }

  /** `network inspect NETWORK…`: a pretty JSON array; the missing ones are errors after it. */
  @Command(name = "inspect", description = "Display detailed information on one or more networks")
  static final class Inspect extends BaseCommand {
    @Parameters(arity = "1..*", paramLabel = "NETWORK")
    List<String> names = new ArrayList<>();

    Inspect(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      return Json.inspectAll(this, names, n -> json(networks(cli).inspect(ref(n))));
    }

    /** docker's fields in docker's order (IPv4 only), then Berth: what docker has no field for. */
    static ObjectNode json(Network n) {
      ObjectNode o = Json.object();
      o.put("Name", n.getName());
      o.put("Id", n.getId());
      o.put("Created", Format.rfc3339(n.getCreatedUnixNanos(), false));
      o.put("Scope", SCOPE);
      o.put("Driver", n.getDriver());
      o.put("EnableIPv6", false);
      ObjectNode ipam = o.putObject("IPAM");
      ipam.put("Driver", "default");
      ipam.putObject("Options");
      if (n.getSubnet().isEmpty()) {
        ipam.putArray("Config");
      } else {
        ObjectNode config = ipam.putArray("Config").addObject();
        config.put("Subnet", n.getSubnet());
        if (!n.getGateway().isEmpty()) {
          config.put("Gateway", n.getGateway());
        }
      }
      o.put("Internal", n.getInternal());
      o.put("Attachable", false);
      o.put("Ingress", false);
      o.putObject("ConfigFrom").put("Network", "");
      o.put("ConfigOnly", false);
      ObjectNode containers = o.putObject("Containers");
      String prefix = prefixLength(n.getSubnet());
      for (NetworkEndpoint e : n.getContainersList()) {
        ObjectNode c = containers.putObject(e.getContainerId());
        c.put("Name", e.getName());
        c.put("EndpointID", "");
        c.put("MacAddress", e.getMacAddress());
        c.put("IPv4Address", e.getIpAddress().isEmpty() || prefix.isEmpty() ? e.getIpAddress() : e.getIpAddress() + "/" + prefix);
        c.put("IPv6Address", "");
      }
      o.putObject("Options");
      o.set("Labels", Json.stringMap(n.getLabelsMap()));
      ObjectNode berth = o.putObject("Berth");
      berth.put("Bridge", n.getBridge());
      berth.put("Predefined", n.getPredefined());
      return o;
    }

    /** "16" of "172.18.0.0/16"; empty without a subnet. */
    private static String prefixLength(String cidr) {
      int slash = cidr.indexOf('/');
      return slash < 0 ? "" : cidr.substring(slash + 1);
    }
  }

  /** `network rm [-f] NETWORK…`: echoes each name removed; -f is silent about missing ones, as docker's. */
  @Command(name = "rm", description = "Remove one or more networks")
  static final class Rm extends BaseCommand {
    @Option(names = {"-f", "--force"}, description = "Do not error if the network does not exist")
    boolean force;

    @Parameters(arity = "1..*", paramLabel = "NETWORK")
    List<String> names = new ArrayList<>();

    Rm(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      return each(names, n -> {
        try {
          networks(cli).remove(ref(n));
        } catch (StatusRuntimeException e) {
          if (force && e.getStatus().getCode() == Status.Code.NOT_FOUND) {
            return;
          }
          throw e;
        }
        cli.out.println(n);
      });
    }
  }

  /** `network prune [-f]`: the user-defined networks no container uses. */
  @Command(name = "prune", description = "Remove all unused networks")
  static final class Prune extends BaseCommand {
    @Option(names = {"-f", "--force"}, description = "Do not prompt for confirmation")
    boolean force;

    Prune(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      if (!force && !confirm("This will remove all custom networks not used by at least one container.")) {
        return 0;
      }
      PruneNetworksResponse r = networks(cli).prune(PruneNetworksRequest.getDefaultInstance());
      // docker prints no reclaimed space for networks, and nothing at all when none went
      if (r.getDeletedCount() > 0) {
        cli.out.println("Deleted Networks:");
        r.getDeletedList().forEach(cli.out::println);
        cli.out.println();
      }
      return 0;
    }
  }

  /**
   * A container's network as docker's inspect shows NetworkSettings: the published ports keyed
   * "80/tcp", and the one network it is on under Networks. The top-level address fields are
   * filled for the default bridge only, as docker does.
   */
  static ObjectNode settings(Container c) {
    NetworkSettings s = c.getNetwork();
    ObjectNode o = Json.object();
    boolean defaultBridge = s.getNetwork().equals("bridge");
    o.put("Bridge", s.getBridge());
    o.set("Ports", portMap(s.getPortsList(), false));
    o.put("Gateway", defaultBridge ? s.getGateway() : "");
    o.put("IPAddress", defaultBridge ? s.getIpAddress() : "");
    o.put("IPPrefixLen", defaultBridge ? s.getIpPrefixLen() : 0);
    o.put("MacAddress", defaultBridge ? s.getMacAddress() : "");
    ObjectNode networks = o.putObject("Networks");
    String name = s.getNetwork().isEmpty() ? c.getSpec().getNetworkMode() : s.getNetwork();
    if (!name.isEmpty()) {
      ObjectNode n = networks.putObject(name);
      n.set("Aliases", s.getAliasesCount() == 0 ? null : Json.strings(s.getAliasesList()));
      n.put("MacAddress", s.getMacAddress());
      n.put("NetworkID", s.getNetworkId());
      n.put("Gateway", s.getGateway());
      n.put("IPAddress", s.getIpAddress());
      n.put("IPPrefixLen", s.getIpPrefixLen());
    }
    return o;
  }

  /**
   * docker's port maps: {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}. As requested
   * ({@code requested} true, HostConfig.PortBindings) the host ip and port stay empty when not
   * given; as reserved, a port without a host port maps to null.
   */
  static ObjectNode portMap(List<PortBinding> ports, boolean requested) {
    ObjectNode o = Json.object();
    for (PortBinding p : ports) {
      String key = Ports.containerPort(p);
      if (!requested && !Ports.published(p)) {
        if (!o.has(key)) {
          o.putNull(key);
        }
        continue;
      }
      ArrayNode bindings = o.get(key) instanceof ArrayNode a ? a : o.putArray(key);
      ObjectNode b = bindings.addObject();
      b.put("HostIp", requested ? p.getHostIp() : Ports.hostIp(p));
      b.put("HostPort", p.getHostPort() == 0 ? "" : Integer.toString(p.getHostPort()));
    }
    return o;
  }
}
