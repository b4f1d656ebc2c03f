package dev.berth.ctl;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.berth.proto.v1.CreateVolumeRequest;
import dev.berth.proto.v1.ListVolumesRequest;
import dev.berth.proto.v1.PruneVolumesRequest;
import dev.berth.proto.v1.PruneVolumesResponse;
import dev.berth.proto.v1.RemoveVolumeRequest;
import dev.berth.proto.v1.Volume;
import dev.berth.proto.v1.VolumeRef;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** `volume create|ls|inspect|rm|prune`: the agent's named volumes, shown as docker's local driver shows them. */
final class VolumeCommands {
  /** Every berth volume is a directory of the agent: docker's "local" driver and scope. */
  static final String DRIVER = "local";

  private VolumeCommands() {
  }

  /** `volume`: the group; {@link Commands} registers its subcommands. */
  @Command(name = "volume", description = "Manage volumes", synopsisSubcommandLabel = "COMMAND")
  static final class Group extends GroupCommand {
    Group(Cli cli) {
      super(cli);
    }
  }

  /** `volume create [--label K=V]… [NAME]`: prints the name, generated when none is given. */
  @Command(name = "create", description = "Create a volume")
  static final class Create extends BaseCommand {
    @Option(names = {"-d", "--driver"}, paramLabel = "DRIVER", description = "Volume driver name (only \"local\")")
    String driver = DRIVER;

    @Option(names = "--label", paramLabel = "KEY=VALUE", description = "Set metadata for a volume")
    List<String> labels = new ArrayList<>();

    @Parameters(index = "0", arity = "0..1", paramLabel = "VOLUME")
    String name = "";

    Create(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      if (!driver.equals(DRIVER)) {
        throw new CliException("volume driver \"" + driver + "\" is not supported: berth has only the \"local\" driver", 1);
      }
      CreateVolumeRequest.Builder r = CreateVolumeRequest.newBuilder().setName(name);
      for (String l : labels) {
        int eq = l.indexOf('=');
        r.putLabels(eq < 0 ? l : l.substring(0, eq), eq < 0 ? "" : l.substring(eq + 1));
      }
      cli.out.println(cli.volumes().create(r.build()).getName());
      return 0;
    }
  }

  /** `volume ls [-q] [--format table|json]`. */
  @Command(name = "ls", description = "List volumes")
  static final class Ls extends BaseCommand {
    @Option(names = {"-q", "--quiet"}, description = "Only display volume names")
    boolean quiet;

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
      List<Volume> volumes = cli.volumes().list(ListVolumesRequest.getDefaultInstance()).getVolumesList();
      if (quiet) {
        volumes.forEach(v -> cli.out.println(v.getName()));
        return 0;
      }
      if (format.equals("json")) {
        for (Volume v : volumes) {
          // docker's keys; N/A where docker has nothing to say either (no usage data is computed)
          Map<String, String> m = new TreeMap<>();
          m.put("Availability", "N/A");
          m.put("Driver", DRIVER);
          m.put("Group", "N/A");
          m.put("Labels", Format.labels(v.getLabelsMap()));
          m.put("Links", Integer.toString(v.getUsedByCount()));
          m.put("Mountpoint", v.getMountpoint());
          m.put("Name", v.getName());
          m.put("Scope", DRIVER);
          m.put("Size", "N/A");
          m.put("Status", "N/A");
          cli.out.println(Json.compact(m));
        }
        return 0;
      }
      Table table = new Table("DRIVER", "VOLUME NAME");
      volumes.forEach(v -> table.add(DRIVER, v.getName()));
      table.print(cli.out);
      return 0;
    }

  }

  /** `volume inspect NAME…`: a pretty JSON array; the missing ones are errors after it. */
  @Command(name = "inspect", description = "Display detailed information on one or more volumes")
  static final class Inspect extends BaseCommand {
    @Parameters(arity = "1..*", paramLabel = "VOLUME")
    List<String> names = new ArrayList<>();

    Inspect(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      return Json.inspectAll(this, names, n -> json(cli.volumes().inspect(VolumeRef.newBuilder().setName(n).build())));
    }

    /** docker's fields in docker's order, then UsedBy: the containers that mount it. */
    static ObjectNode json(Volume v) {
      ObjectNode o = Json.object();
      // docker prints CreatedAt to the second
      o.put("CreatedAt", Format.rfc3339(v.getCreatedUnixNanos() - Math.floorMod(v.getCreatedUnixNanos(), 1_000_000_000L), false));
      o.put("Driver", DRIVER);
      o.set("Labels", Json.stringMap(v.getLabelsMap()));
      o.put("Mountpoint", v.getMountpoint());
      o.put("Name", v.getName());
      o.putNull("Options");
      o.put("Scope", DRIVER);
      o.set("UsedBy", Json.strings(v.getUsedByList()));
      return o;
    }
  }

  /** `volume rm [-f] NAME…`: echoes each name removed. */
  @Command(name = "rm", description = "Remove one or more volumes")
  static final class Rm extends BaseCommand {
    @Option(names = {"-f", "--force"}, description = "Force the removal of one or more volumes, even in use")
    boolean force;

    @Parameters(arity = "1..*", paramLabel = "VOLUME")
    List<String> names = new ArrayList<>();

    Rm(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      return each(names, n -> {
        cli.volumes().remove(RemoveVolumeRequest.newBuilder().setName(n).setForce(force).build());
        cli.out.println(n);
      });
    }
  }

  /** `volume prune [-a] [-f]`. */
  @Command(name = "prune", description = "Remove unused local volumes")
  static final class Prune extends BaseCommand {
    @Option(names = {"-a", "--all"}, description = "Remove all unused volumes, not just anonymous ones")
    boolean all;

    @Option(names = {"-f", "--force"}, description = "Do not prompt for confirmation")
    boolean force;

    Prune(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      String what = all ? "all local volumes" : "anonymous local volumes";
      if (!force && !confirm("This will remove " + what + " not used by at least one container.")) {
        return 0;
      }
      PruneVolumesResponse r = cli.volumes().prune(PruneVolumesRequest.newBuilder().setAll(all).build());
      printPruned("Deleted Volumes:", r.getDeletedList(), r.getReclaimedBytes());
      return 0;
    }
  }
}
