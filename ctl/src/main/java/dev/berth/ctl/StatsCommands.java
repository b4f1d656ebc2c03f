package dev.berth.ctl;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.berth.proto.v1.ContainerProcess;
import dev.berth.proto.v1.ContainerStats;
import dev.berth.proto.v1.ContainerStatsRequest;
import dev.berth.proto.v1.ContainerStatsResponse;
import dev.berth.proto.v1.ContainerTopRequest;
import dev.berth.proto.v1.ContainerTopResponse;
import dev.berth.proto.v1.DiskUsageCategory;
import dev.berth.proto.v1.DiskUsageRequest;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** `stats`, `top` and `system df`: the live views of containers and disk, as docker shows them. */
final class StatsCommands {
  private StatsCommands() {
  }

  /**
   * `stats [-a] [--no-stream] [--format table|json] [CONTAINER...]`: CPU %, memory, net I/O and
   * pids of containers. CPU % is the CPU time used between two readings over the time between
   * them (100% = one CPU busy), so even --no-stream takes two readings, an interval apart.
   * Streaming redraws the table every interval until interrupted.
   */
  @Command(name = "stats", description = "Display a live stream of container(s) resource usage statistics")
  static final class Stats extends BaseCommand {
    @Option(names = {"-a", "--all"}, description = "Show all containers (default shows just running)")
    boolean all;

    @Option(names = "--no-stream", description = "Disable streaming stats and only pull the first result")
    boolean noStream;

    @Option(names = "--format", paramLabel = "FORMAT", description = "Output format: table (default) or json (one object per line)")
    String format = "table";

    /** Between two readings; tests make it 0. */
    @Option(names = "--interval-ms", hidden = true)
    long intervalMs = 1000;

    @Parameters(paramLabel = "CONTAINER", arity = "0..*")
    List<String> containers = new ArrayList<>();

    Stats(Cli cli) {
      super(cli);
    }

    @Override
    int run() throws InterruptedException {
      if (!format.equals("table") && !format.equals("json")) {
        throw new CliException("unsupported format \"" + format + "\": use table or json", 1);
      }
      ContainerStatsRequest req = ContainerStatsRequest.newBuilder().addAllIds(containers).setAll(all).build();
      ContainerStatsResponse before = cli.systemService().containerStats(req);
      boolean redraw = !noStream && format.equals("table") && cli.terminal.isTerminal();
      while (true) {
        Thread.sleep(intervalMs);
        ContainerStatsResponse now = cli.systemService().containerStats(req);
        if (redraw) {
          cli.out.print("\033[2J\033[H");
        }
        print(before, now);
        cli.out.flush();
        if (noStream) {
          return 0;
        }
        before = now;
      }
    }

    private void print(ContainerStatsResponse before, ContainerStatsResponse now) {
      Map<String, ContainerStats> earlier = new HashMap<>();
      before.getStatsList().forEach(s -> earlier.put(s.getId(), s));
      Table table = new Table("CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "PIDS");
      for (ContainerStats s : now.getStatsList()) {
        Row r = row(earlier.get(s.getId()), s, now.getHostMemoryBytes());
        if (format.equals("json")) {
          ObjectNode o = Json.object();
          o.put("CPUPerc", r.cpu()).put("Container", Format.shortId(s.getId())).put("ID", s.getId())
              .put("MemPerc", r.memPercent()).put("MemUsage", r.mem()).put("Name", s.getName())
              .put("NetIO", r.net()).put("PIDs", r.pids());
          cli.out.println(Json.compact(o));
        } else {
          table.add(Format.shortId(s.getId()), s.getName(), r.cpu(), r.mem(), r.memPercent(), r.net(), r.pids());
        }
      }
      if (format.equals("table")) {
        table.print(cli.out);
      }
    }
  }

  /** One line of stats, formatted as docker does. */
  record Row(String cpu, String mem, String memPercent, String net, String pids) {}

  /** The row of {@code now}; CPU % from {@code before} (0 without it, or for a stopped container). */
  static Row row(ContainerStats before, ContainerStats now, long hostMemory) {
    if (!now.getRunning()) {
      return new Row("0.00%", "0B / 0B", "0.00%", "0B / 0B", "0");
    }
    double cpu = 0;
    if (before != null && now.getReadUnixNanos() > before.getReadUnixNanos()) {
      long used = now.getCpuUsageNanos() - before.getCpuUsageNanos();
      cpu = Math.max(0, used) * 100.0 / (now.getReadUnixNanos() - before.getReadUnixNanos());
    }
    long limit = now.getMemoryLimitBytes() > 0 ? now.getMemoryLimitBytes() : hostMemory;
    double memPercent = limit > 0 ? now.getMemoryWorkingSetBytes() * 100.0 / limit : 0;
    return new Row(String.format(Locale.ROOT, "%.2f%%", cpu),
        SystemCommands.binarySize(now.getMemoryWorkingSetBytes()) + " / " + SystemCommands.binarySize(limit),
        String.format(Locale.ROOT, "%.2f%%", memPercent),
        Format.humanSize(now.getNetRxBytes()) + " / " + Format.humanSize(now.getNetTxBytes()),
        Long.toString(now.getPids()));
  }

  /** `top CONTAINER`: its processes, as ps -ef shows them (UID PID PPID STIME TIME CMD). */
  @Command(name = "top", description = "Display the running processes of a container")
  static final class Top extends BaseCommand {
    @Parameters(index = "0", paramLabel = "CONTAINER")
    String container;

    Top(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      ContainerTopResponse r = cli.systemService().containerTop(ContainerTopRequest.newBuilder().setId(container).build());
      Table table = new Table("UID", "PID", "PPID", "STIME", "TIME", "CMD");
      for (ContainerProcess p : r.getProcessesList()) {
        table.add(p.getUser(), Integer.toString(p.getPid()), Integer.toString(p.getPpid()),
            stime(p.getStartedUnixSeconds(), cli), cpuTime(p.getCpuMillis()), p.getCommand());
      }
      table.print(cli.out);
      return 0;
    }
  }

  /** ps's TIME: hours, minutes and seconds of CPU, "[DD-]HH:MM:SS". */
  static String cpuTime(long millis) {
    long s = millis / 1000;
    long days = s / 86400;
    String hms = String.format(Locale.ROOT, "%02d:%02d:%02d", s / 3600 % 24, s / 60 % 60, s % 60);
    return days > 0 ? days + "-" + hms : hms;
  }

  /** ps's STIME: "HH:MM" when it started today, else "MonDD" ("?" when unknown). */
  static String stime(long unixSeconds, Cli cli) {
    if (unixSeconds <= 0) {
      return "?";
    }
    ZonedDateTime t = Instant.ofEpochSecond(unixSeconds).atZone(cli.zone());
    if (t.toLocalDate().equals(LocalDate.now(cli.clock.withZone(cli.zone())))) {
      return t.format(DateTimeFormatter.ofPattern("HH:mm", Locale.ROOT));
    }
    return t.format(DateTimeFormatter.ofPattern("MMMdd", Locale.ROOT));
  }

  /** `system`: the group; {@link Commands} registers its subcommands. */
  @Command(name = "system", description = "Manage Berth", synopsisSubcommandLabel = "COMMAND")
  static final class SystemGroup extends GroupCommand {
    SystemGroup(Cli cli) {
      super(cli);
    }
  }

  /** `system df`: images, containers and volumes: how many, how many in use, size, reclaimable. */
  @Command(name = "df", description = "Show Berth disk usage")
  static final class Df extends BaseCommand {
    @Option(names = "--format", paramLabel = "FORMAT", description = "Output format: table (default) or json (one object per line)")
    String format = "table";

    Df(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      if (!format.equals("table") && !format.equals("json")) {
        throw new CliException("unsupported format \"" + format + "\": use table or json", 1);
      }
      var r = cli.systemService().diskUsage(DiskUsageRequest.getDefaultInstance());
      Table table = new Table("TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE");
      for (DiskUsageCategory c : r.getCategoriesList()) {
        if (format.equals("json")) {
          ObjectNode o = Json.object();
          o.put("Active", Integer.toString(c.getActive())).put("Reclaimable", reclaimable(c))
              .put("Size", Format.humanSize(c.getSizeBytes())).put("TotalCount", Integer.toString(c.getTotal()))
              .put("Type", c.getType());
          cli.out.println(Json.compact(o));
        } else {
          table.add(c.getType(), Integer.toString(c.getTotal()), Integer.toString(c.getActive()),
              Format.humanSize(c.getSizeBytes()), reclaimable(c));
        }
      }
      if (format.equals("table")) {
        table.print(cli.out);
      }
      return 0;
    }
  }

  /** "11.6MB (70%)", as docker: the share truncated to a whole percent, left out when the size is 0. */
  static String reclaimable(DiskUsageCategory c) {
    String size = Format.humanSize(c.getReclaimableBytes());
    return c.getSizeBytes() > 0 ? size + " (" + (c.getReclaimableBytes() * 100 / c.getSizeBytes()) + "%)" : size;
  }
}
