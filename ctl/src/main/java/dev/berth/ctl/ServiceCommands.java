package dev.berth.ctl;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.berth.proto.v1.AllocationInfo;
import dev.berth.proto.v1.GroupStatus;
import dev.berth.proto.v1.JobRef;
import dev.berth.proto.v1.JobStatus;
import dev.berth.proto.v1.JobSummary;
import dev.berth.proto.v1.ListJobsRequest;
import dev.berth.proto.v1.PortBinding;
import dev.berth.proto.v1.ScaleJobRequest;
import dev.berth.proto.v1.StopJobRequest;
import dev.berth.proto.v1.SubmitJobRequest;
import java.io.IOException;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * `service create|scale|inspect|ls|rm`: Docker Swarm's service commands over jobs. A service is
 * a job of type service (system for {@code --mode global}) with one task group named as the
 * job: `service create` writes that job file from its flags and submits it as `job run` does.
 */
final class ServiceCommands {
  /** Job and group names as the agent's job file parser accepts them. */
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");
  /** Memory sizes as the job file takes them: bytes, or binary units as docker's -m. */
  private static final Pattern MEMORY = Pattern.compile("\\d+(?:\\.\\d+)?\\s*[kmgtp]?i?b?", Pattern.CASE_INSENSITIVE);

  private ServiceCommands() {
  }

  /** `service`: the group; {@link Commands} registers its subcommands. */
  @Command(name = "service", description = "Manage services: replicated jobs of one image", synopsisSubcommandLabel = "COMMAND")
  static final class Group extends GroupCommand {
    Group(Cli cli) {
      super(cli);
    }
  }

  /**
   * `service create --name NAME [--replicas N] [-p [HOST:]CONTAINER[/tcp]]… [-e K=V]… [--cpus X]
   * [--memory M] [--constraint A==V]… [--mode replicated|global] IMAGE [CMD…]`.
   */
  @Command(name = "create", description = "Create a service: a job running IMAGE on the cluster, then follow its replicas",
      footer = {"", "Constraints: ATTRIBUTE==VALUE or ATTRIBUTE!=VALUE, where ATTRIBUTE is",
          "label.KEY (a node label; Swarm's node.labels.KEY too), attr.KEY (a fact",
          "the agent reports), node.name (Swarm's node.hostname too) or node.id.",
          "", "Exit status: as berth job run."})
  static final class Create extends BaseCommand {
    @Spec
    CommandSpec spec;

    @Option(names = "--name", required = true, paramLabel = "NAME", description = "Service name (letters, digits, . _ -)")
    String name;

    @Option(names = "--replicas", paramLabel = "N", description = "Number of replicas (default: 1; not with --mode global)")
    Integer replicas;

    @Option(names = "--mode", paramLabel = "MODE", description = "replicated (default): --replicas of them; global: one on every eligible node")
    String mode = "replicated";

    @Option(names = {"-p", "--publish"}, paramLabel = "[HOST:]CONTAINER[/tcp]",
        description = "Publish a container port on every replica's node: a fixed HOST port, or one the agent chooses")
    List<String> publish = new ArrayList<>();

    @Option(names = {"-e", "--env"}, paramLabel = "KEY=VALUE", description = "Set an environment variable (KEY alone: its value here)")
    List<String> env = new ArrayList<>();

    @Option(names = "--cpus", paramLabel = "CPUS", description = "CPUs each replica reserves, e.g. 0.5 (default: the agent's, 0.1)")
    String cpus;

    @Option(names = "--memory", paramLabel = "SIZE", description = "Memory each replica reserves, e.g. 512m, 1g (default: the agent's, 300m)")
    String memory;

    @Option(names = "--constraint", paramLabel = "ATTRIBUTE==VALUE", description = "Placement constraint (== or !=)")
    List<String> constraints = new ArrayList<>();

    @Mixin
    JobCommands.SubmitOptions submit;

    @Parameters(index = "0", paramLabel = "IMAGE", description = "The image every replica runs")
    String image;

    @Parameters(index = "1..*", paramLabel = "CMD", description = "Command and arguments, instead of the image's")
    List<String> command = new ArrayList<>();

    Create(Cli cli) {
      super(cli);
    }

    @Override
    int run() throws IOException, InterruptedException {
      ObjectNode job;
      JobCommands.SubmitOptions.Checked checked;
      try {
        job = jobFile();
        checked = submit.check(spec);
      } catch (IllegalArgumentException e) {
        throw new ParameterException(spec.commandLine(), e.getMessage());
      }
      SubmitJobRequest request = SubmitJobRequest.newBuilder().setSource("service " + name).setText(Json.pretty(job))
          .addAllCredentials(submit.credentials(checked, cli, () -> Set.of(image))).build();
      return JobCommands.submitAndWatch(cli, request, submit, checked.timeout());
    }

    /**
     * The job file of the flags, with the keys of scheduler/README.md; what is not given is left
     * out, so the agent's defaults apply. A bad value is an {@link IllegalArgumentException}.
     */
    ObjectNode jobFile() {
      if (!NAME.matcher(name).matches()) {
        throw new IllegalArgumentException("invalid service name \"" + name + "\": 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit");
      }
      boolean global = switch (mode) {
        case "replicated" -> false;
        case "global" -> true;
        default -> throw new IllegalArgumentException("invalid --mode \"" + mode + "\": replicated or global");
      };
      if (global && replicas != null) {
        throw new IllegalArgumentException("--replicas cannot be used with --mode global: it runs one replica on every eligible node");
      }
      if (replicas != null && replicas < 0) {
        throw new IllegalArgumentException("invalid --replicas " + replicas + ": 0 or more");
      }
      if (image.isBlank() || image.chars().anyMatch(Character::isWhitespace)) {
        throw new IllegalArgumentException("invalid image reference \"" + image + "\"");
      }
      ObjectNode job = Json.object();
      job.put("name", name);
      job.put("type", global ? "system" : "service");
      ObjectNode g = job.putArray("groups").addObject();
      g.put("name", name);
      if (!global) {
        g.put("count", replicas == null ? 1 : replicas);
      }
      g.put("image", image);
      if (!command.isEmpty()) {
        g.set("command", Json.strings(command));
      }
      Map<String, String> vars = env(env, cli.env);
      if (!vars.isEmpty()) {
        ObjectNode e = g.putObject("env");
        vars.forEach(e::put);
      }
      if (cpus != null || memory != null) {
        ObjectNode r = g.putObject("resources");
        if (cpus != null) {
          r.put("cpu", cpus(cpus));
        }
        if (memory != null) {
          if (!MEMORY.matcher(memory.trim()).matches()) {
            throw new IllegalArgumentException("invalid --memory \"" + memory + "\": expected e.g. 512m, 1g or a number of bytes");
          }
          r.put("memory", memory.trim());
        }
      }
      if (!publish.isEmpty()) {
        ArrayNode ports = g.putArray("ports");
        for (String p : publish) {
          ports(p, ports);
        }
      }
      if (!constraints.isEmpty()) {
        ArrayNode c = g.putArray("constraints");
        constraints.forEach(s -> c.add(constraint(s)));
      }
      return job;
    }
  }

  /** -e as docker reads it: KEY=VALUE, or KEY alone for the client's value (left out without one). */
  static Map<String, String> env(List<String> flags, Map<String, String> clientEnv) {
    Map<String, String> out = new LinkedHashMap<>();
    for (String e : flags) {
      int eq = e.indexOf('=');
      if (eq == 0 || e.isEmpty()) {
        throw new IllegalArgumentException("invalid environment variable \"" + e + "\": expected KEY=VALUE");
      }
      if (eq > 0) {
        out.put(e.substring(0, eq), e.substring(eq + 1));
      } else if (clientEnv.get(e) != null) {
        out.put(e, clientEnv.get(e));
      }
    }
    return out;
  }

  /** --cpus as cores, to the millicore the scheduler counts in. */
  static BigDecimal cpus(String text) {
    BigDecimal c;
    try {
      c = new BigDecimal(text.trim());
    } catch (NumberFormatException e) {
      c = null;
    }
    if (c == null || c.signum() <= 0 || c.stripTrailingZeros().scale() > 3 || text.trim().matches(".*[eE].*")) {
      throw new IllegalArgumentException("invalid --cpus \"" + text + "\": expected a number of CPUs above 0 such as 0.5 or 2, to a thousandth");
    }
    return c;
  }

  /**
   * One -p into the job file's ports: "HOST:CONTAINER" for a fixed host port, the number alone
   * for one the agent chooses; a range gives one entry per port. A service is reached on every
   * node's address and over TCP: an IP or udp is refused.
   */
  static void ports(String spec, ArrayNode out) {
    for (PortBinding b : Ports.parse(spec)) {
      if (!b.getHostIp().isEmpty()) {
        throw new IllegalArgumentException("invalid -p/--publish \"" + spec + "\": a service publishes on its nodes' addresses; leave out the IP");
      }
      if (!Ports.protocol(b).equals("tcp")) {
        throw new IllegalArgumentException("invalid -p/--publish \"" + spec + "\": job files publish TCP ports only");
      }
      if (b.getHostPort() == 0) {
        out.add(b.getContainerPort());
      } else {
        out.add(b.getHostPort() + ":" + b.getContainerPort());
      }
    }
  }

  /**
   * "label.zone==a" as {attribute, operator, value}; Swarm's node.labels.KEY and node.hostname
   * are read as label.KEY and node.name.
   */
  static ObjectNode constraint(String spec) {
    int eq = spec.indexOf("==");
    int ne = spec.indexOf("!=");
    int at = eq < 0 ? ne : ne < 0 ? eq : Math.min(eq, ne);
    String attribute = at < 0 ? "" : spec.substring(0, at).trim();
    String value = at < 0 ? "" : spec.substring(at + 2).trim();
    if (attribute.isEmpty() || value.isEmpty()) {
      throw new IllegalArgumentException("invalid --constraint \"" + spec + "\": expected ATTRIBUTE==VALUE or ATTRIBUTE!=VALUE, e.g. label.zone==a");
    }
    if (attribute.startsWith("node.labels.")) {
      attribute = "label." + attribute.substring("node.labels.".length());
    } else if (attribute.equals("node.hostname")) {
      attribute = "node.name";
    }
    ObjectNode c = Json.object();
    c.put("attribute", attribute);
    c.put("operator", spec.substring(at, at + 2));
    c.put("value", value);
    return c;
  }

  /** `service scale SERVICE=REPLICAS…`: every argument is checked before the first call. */
  @Command(name = "scale", description = "Set the number of replicas of one or more services")
  static final class Scale extends BaseCommand {
    @Spec
    CommandSpec spec;

    @Parameters(arity = "1..*", paramLabel = "SERVICE=REPLICAS", description = "e.g. web=3; 0 stops every replica but keeps the service")
    List<String> specs = new ArrayList<>();

    Scale(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      Map<String, Integer> counts = new LinkedHashMap<>();
      for (String s : specs) {
        int eq = s.indexOf('=');
        if (eq <= 0) {
          throw new ParameterException(spec.commandLine(), "invalid scale specifier \"" + s + "\": expected SERVICE=REPLICAS, e.g. web=3");
        }
        String n = s.substring(0, eq);
        String v = s.substring(eq + 1);
        if (!v.matches("\\d{1,6}")) {
          throw new ParameterException(spec.commandLine(), "invalid replicas value \"" + v + "\" for service " + n + ": expected a whole number, 0 or more");
        }
        counts.put(n, Integer.parseInt(v));
      }
      return each(new ArrayList<>(counts.keySet()), n -> {
        stub(cli).scale(ScaleJobRequest.newBuilder().setName(n).setCount(counts.get(n)).build());
        cli.out.println(n + " scaled to " + counts.get(n));
      });
    }
  }

  private static dev.berth.proto.v1.JobServiceGrpc.JobServiceBlockingStub stub(Cli cli) {
    return JobCommands.stub(cli);
  }

  /** `service inspect SERVICE [--format table|json]`: the service, then each replica with its endpoints. */
  @Command(name = "inspect", description = "Show a service and where each replica can be reached")
  static final class Inspect extends BaseCommand {
    @Spec
    CommandSpec spec;

    @Option(names = "--format", paramLabel = "FORMAT", description = "Output format: table (default) or json (as job status)")
    String format = "table";

    @Parameters(index = "0", paramLabel = "SERVICE")
    String name;

    Inspect(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      JobCommands.checkFormat(spec, format);
      JobStatus s = stub(cli).status(JobRef.newBuilder().setName(name).build());
      if (format.equals("json")) {
        cli.out.println(Json.pretty(ProtoJson.of(s)));
        return 0;
      }
      int running = 0;
      int desired = 0;
      for (GroupStatus g : s.getGroupsList()) {
        running += g.getRunning();
        desired += g.getDesired();
      }
      cli.out.println("Name:       " + s.getName());
      cli.out.println("Mode:       " + mode(s.getType()));
      Set<String> images = JobFiles.images(s.getSource());
      if (!images.isEmpty()) {
        cli.out.println("Image:      " + String.join(", ", images));
      }
      cli.out.println("Replicas:   " + running + "/" + desired + " running");
      cli.out.println("Version:    " + s.getVersion());
      cli.out.println("Status:     " + s.getStatus() + (s.getStopped() ? " (stopped)" : ""));
      for (GroupStatus g : s.getGroupsList()) {
        if (!g.getPendingReason().isEmpty() && g.getPending() > 0) {
          cli.out.println("Pending:    " + g.getName() + ": " + g.getPending() + " pending: " + g.getPendingReason());
        }
      }
      cli.out.println();
      Table t = new Table("REPLICA", "NODE", "ENDPOINTS", "STATE", "MESSAGE");
      for (AllocationInfo a : JobCommands.sorted(JobMonitor.current(s, s.getVersion(), false))) {
        t.add(JobMonitor.replica(a), a.getNode().isEmpty() ? "-" : a.getNode(),
            a.getPortsCount() == 0 ? "-" : JobCommands.ports(a.getPortsList(), true), JobCommands.state(a.getState()), a.getMessage());
      }
      JobCommands.print(t, cli.out);
      return 0;
    }
  }

  /** Swarm's words: replicated for a service job, global for a system one. */
  static String mode(String type) {
    return switch (type) {
      case "service" -> "replicated";
      case "system" -> "global";
      default -> type;
    };
  }

  /** `service ls [-q]`: the jobs of type service and system. */
  @Command(name = "ls", description = "List services")
  static final class Ls extends BaseCommand {
    @Option(names = {"-q", "--quiet"}, description = "Only display names")
    boolean quiet;

    Ls(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      List<JobSummary> jobs = stub(cli).list(ListJobsRequest.getDefaultInstance()).getJobsList().stream()
          .filter(j -> j.getType().equals("service") || j.getType().equals("system")).toList();
      if (quiet) {
        jobs.forEach(j -> cli.out.println(j.getName()));
        return 0;
      }
      Table t = new Table("NAME", "MODE", "REPLICAS", "STATUS", "VERSION");
      for (JobSummary j : jobs) {
        t.add(j.getName(), mode(j.getType()), j.getRunning() + "/" + j.getDesired(), j.getStatus(), Long.toString(j.getVersion()));
      }
      JobCommands.print(t, cli.out);
      return 0;
    }
  }

  /** `service rm SERVICE…`: job stop --purge, echoing each name as docker does. */
  @Command(name = "rm", description = "Remove one or more services: their replicas stop and the services are forgotten")
  static final class Rm extends BaseCommand {
    @Parameters(arity = "1..*", paramLabel = "SERVICE")
    List<String> names = new ArrayList<>();

    Rm(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      return each(names, n -> {
        stub(cli).stop(StopJobRequest.newBuilder().setName(n).setPurge(true).build());
        cli.out.println(n);
      });
    }
  }
}
