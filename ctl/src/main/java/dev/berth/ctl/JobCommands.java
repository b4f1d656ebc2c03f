package dev.berth.ctl;

import dev.berth.proto.v1.AllocationInfo;
import dev.berth.proto.v1.AllocationPort;
import dev.berth.proto.v1.AllocationState;
import dev.berth.proto.v1.GroupPlan;
import dev.berth.proto.v1.GroupStatus;
import dev.berth.proto.v1.JobHistory;
import dev.berth.proto.v1.JobRef;
import dev.berth.proto.v1.JobServiceGrpc;
import dev.berth.proto.v1.JobStatus;
import dev.berth.proto.v1.JobSummary;
import dev.berth.proto.v1.JobVersionInfo;
import dev.berth.proto.v1.ListJobsRequest;
import dev.berth.proto.v1.NodeVerdict;
import dev.berth.proto.v1.PlanJobRequest;
import dev.berth.proto.v1.PlanJobResponse;
import dev.berth.proto.v1.PlannedAllocation;
import dev.berth.proto.v1.PlannedStop;
import dev.berth.proto.v1.RegistryCredential;
import dev.berth.proto.v1.RollbackJobRequest;
import dev.berth.proto.v1.RollbackJobResponse;
import dev.berth.proto.v1.StopJobRequest;
import dev.berth.proto.v1.SubmitJobRequest;
import dev.berth.proto.v1.SubmitJobResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.StringJoiner;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * `job run|plan|status|history|rollback|ls|stop`: jobs as Nomad shows them, through the agent's JobService. Any
 * agent answers; the helpers here (submitting and following a job, printing replicas and their
 * ports) are shared with {@link ServiceCommands}.
 */
final class JobCommands {
  private JobCommands() {
  }

  static JobServiceGrpc.JobServiceBlockingStub stub(Cli cli) {
    return JobServiceGrpc.newBlockingStub(cli.channel());
  }

  /** `job`: the group; {@link Commands} registers its subcommands. */
  @Command(name = "job", description = "Manage jobs: what the cluster keeps running", synopsisSubcommandLabel = "COMMAND")
  static final class Group extends GroupCommand {
    Group(Cli cli) {
      super(cli);
    }
  }

  /** The options of the commands that submit a job and follow it (`job run`, `service create`). */
  static final class SubmitOptions {
    @Option(names = {"-d", "--detach"}, description = "Exit once the job is submitted, without waiting for its replicas")
    boolean detach;

    @Option(names = "--timeout", paramLabel = "DURATION", defaultValue = JobMonitor.DEFAULT_TIMEOUT,
        description = "How long to wait for the replicas (e.g. 90s, 5m; default: ${DEFAULT-VALUE})")
    String timeout;

    @Option(names = "--registry-auth", paramLabel = "REGISTRY=USER:PASSWORD",
        description = "Credentials to pull the job's images from REGISTRY (visible to other users in ps: prefer berth login and --with-registry-auth)")
    List<String> registryAuth = new ArrayList<>();

    @Option(names = "--with-registry-auth",
        description = "Send the credentials stored by berth login for the registries of the job's images to the agents that run it")
    boolean withRegistryAuth;

    /** The flags' values, checked before any call: a bad one is a usage error of {@code spec}. */
    Checked check(CommandSpec spec) {
      try {
        return new Checked(JobMonitor.parseDuration(timeout), JobFiles.parseRegistryAuth(registryAuth));
      } catch (IllegalArgumentException e) {
        throw new ParameterException(spec.commandLine(), e.getMessage());
      }
    }

    record Checked(Duration timeout, Map<String, RegistryCredential> credentials) {
    }

    /** The credentials to send with a job whose images are {@code images} (read only when needed). */
    List<RegistryCredential> credentials(Checked checked, Cli cli, java.util.function.Supplier<Set<String>> images) throws IOException {
      return JobFiles.credentials(checked.credentials(), withRegistryAuth, withRegistryAuth ? images.get() : Set.of(),
          new Credentials(cli.env));
    }
  }

  /**
   * Submits {@code request}, prints the job, its version and the evaluation, then (unless
   * {@code detach}) follows it with a {@link JobMonitor}; returns the exit code.
   */
  static int submitAndWatch(Cli cli, SubmitJobRequest request, SubmitOptions options, Duration timeout)
      throws InterruptedException {
    SubmitJobResponse r = stub(cli).submit(request);
    cli.out.println("Job \"" + r.getJob() + "\" " + (r.getChanged() ? "submitted" : "unchanged") + ": version " + r.getVersion()
        + (r.getEvaluationId().isEmpty() ? "" : ", evaluation " + r.getEvaluationId()));
    cli.out.flush();
    if (options.detach) {
      return 0;
    }
    JobRef ref = JobRef.newBuilder().setName(r.getJob()).build();
    JobMonitor monitor = new JobMonitor(
        remaining -> stub(cli).withDeadlineAfter(remaining.toNanos(), TimeUnit.NANOSECONDS).status(ref),
        cli.out, cli.err, JobMonitor.Ticker.SYSTEM, JobMonitor.INTERVAL);
    return monitor.watch(r.getJob(), r.getVersion(), r.getChanged(), timeout, options.timeout);
  }

  /** The job file named by -f or by the one positional argument; exactly one of them. */
  static String file(CommandSpec spec, String option, String positional) {
    if (option != null && positional != null) {
      throw new ParameterException(spec.commandLine(), "give the job file once: -f " + option + " or " + positional);
    }
    if (option == null && positional == null) {
      throw new ParameterException(spec.commandLine(), "no job file: give -f FILE (- for stdin)");
    }
    return option != null ? option : positional;
  }

  static void checkFormat(CommandSpec spec, String format) {
    if (!format.equals("table") && !format.equals("json")) {
      throw new ParameterException(spec.commandLine(), "unsupported format \"" + format + "\": use table or json");
    }
  }

  /**
   * `job run [-f] FILE [-d] [--timeout D] [--registry-auth R=U:P]… [--with-registry-auth]`:
   * submits, then follows the replicas until they run.
   */
  @Command(name = "run", description = "Submit a job file and follow its replicas until they run",
      footer = {"", "Exit status: 0 every replica runs (batch: complete), or --detach;",
          "1 a replica failed, the job was stopped, the timeout passed first,",
          "or the agent refused the job; 2 bad usage."})
  static final class Run extends BaseCommand {
    @Spec
    CommandSpec spec;

    @Option(names = {"-f", "--file"}, paramLabel = "FILE", description = "The job file, YAML or JSON; - reads stdin")
    String file;

    @Parameters(index = "0", arity = "0..1", paramLabel = "FILE", description = "The job file, as with -f")
    String positional;

    @Mixin
    SubmitOptions submit;

    Run(Cli cli) {
      super(cli);
    }

    @Override
    int run() throws IOException, InterruptedException {
      String f = file(spec, file, positional);
      SubmitOptions.Checked checked = submit.check(spec);
      JobFiles.Source source = JobFiles.read(f, cli, 1);
      SubmitJobRequest request = SubmitJobRequest.newBuilder().setSource(source.name()).setText(source.text())
          .addAllCredentials(submit.credentials(checked, cli, () -> JobFiles.images(source.text()))).build();
      return submitAndWatch(cli, request, submit, checked.timeout());
    }
  }

  /** `job plan [-f] FILE [--format table|json]`: a dry run of the scheduler. */
  @Command(name = "plan", description = "Show where a job's replicas would be placed, and why other nodes were not chosen; nothing changes",
      footer = {"", "Exit status: 0 every replica would be placed; 1 some would stay pending;",
          "2 bad usage; 255 no plan was made (a missing or refused job file, an",
          "error from the agent)."})
  static final class Plan extends BaseCommand {
    @Spec
    CommandSpec spec;

    @Option(names = {"-f", "--file"}, paramLabel = "FILE", description = "The job file, YAML or JSON; - reads stdin")
    String file;

    @Parameters(index = "0", arity = "0..1", paramLabel = "FILE", description = "The job file, as with -f")
    String positional;

    @Option(names = "--format", paramLabel = "FORMAT", description = "Output format: table (default) or json (the agent's answer as it is)")
    String format = "table";

    Plan(Cli cli) {
      super(cli);
    }

    /** As `nomad plan`: an error is 255, apart from the "would stay pending" of 1. */
    @Override
    int failureCode() {
      return 255;
    }

    @Override
    int run() throws IOException {
      String f = file(spec, file, positional);
      checkFormat(spec, format);
      JobFiles.Source source = JobFiles.read(f, cli, failureCode());
      PlanJobResponse r = stub(cli).plan(PlanJobRequest.newBuilder().setSource(source.name()).setText(source.text()).build());
      boolean pending = r.getGroupsList().stream().anyMatch(g -> g.getUnplacedCount() > 0);
      if (format.equals("json")) {
        cli.out.println(Json.pretty(ProtoJson.of(r)));
      } else {
        printPlan(r);
      }
      return pending ? 1 : 0;
    }

    private void printPlan(PlanJobResponse r) {
      cli.out.println("Job \"" + r.getJob() + "\"");
      r.getWarningsList().forEach(w -> cli.out.println("Warning: " + w));
      for (GroupPlan g : r.getGroupsList()) {
        cli.out.println();
        cli.out.println("Group \"" + g.getGroup() + "\"");
        if (g.getPlacementsCount() + g.getUnplacedCount() > 0) {
          Table t = new Table("REPLICA", "NODE", "PORTS");
          for (PlannedAllocation p : g.getPlacementsList()) {
            t.add(g.getGroup() + "[" + p.getIndex() + "]", p.getNode(), p.getPortsCount() == 0 ? "-" : ports(p.getPortsList(), false));
          }
          for (int i : g.getUnplacedList()) {
            t.add(g.getGroup() + "[" + i + "]", "-", "(stays pending)");
          }
          print(t, cli.out);
        }
        if (g.getStopsCount() > 0) {
          cli.out.println();
          Table t = new Table("STOP", "NODE", "ID", "REASON");
          for (PlannedStop s : g.getStopsList()) {
            t.add(g.getGroup() + "[" + s.getIndex() + "]", s.getNode(), Format.shortId(s.getAllocationId()), s.getReason());
          }
          print(t, cli.out);
        }
        Set<String> chosen = new HashSet<>();
        g.getPlacementsList().forEach(p -> chosen.add(p.getNode()));
        List<NodeVerdict> others = g.getNodesList().stream().filter(v -> !chosen.contains(v.getNode())).toList();
        if (!others.isEmpty()) {
          cli.out.println();
          Table t = new Table("NOT CHOSEN", "FILTER", "REASON");
          for (NodeVerdict v : others) {
            t.add(v.getNode(), v.getFilter().isEmpty() ? "-" : v.getFilter(),
                v.getReason().isEmpty() ? (v.getFeasible() ? "feasible, scored lower" : "-") : v.getReason());
          }
          print(t, cli.out);
        }
      }
      cli.out.println();
      cli.out.println("Scheduler dry-run:");
      for (GroupPlan g : r.getGroupsList()) {
        cli.out.println("- " + g.getGroup() + ": " + (g.getSummary().isEmpty() ? (g.getUnplacedCount() == 0 ? "all replicas placed" : g.getUnplacedCount() + " would stay pending") : g.getSummary())
            + (g.getNodesChecked() > 0 ? " (" + g.getNodesChecked() + " nodes checked)" : ""));
      }
    }
  }

  /** `job status NAME [--format table|json]`: the job, its groups, then its allocations. */
  @Command(name = "status", description = "Show a job, its task groups and its allocations")
  static final class Status extends BaseCommand {
    @Spec
    CommandSpec spec;

    @Option(names = "--format", paramLabel = "FORMAT", description = "Output format: table (default) or json (the agent's answer as it is)")
    String format = "table";

    @Parameters(index = "0", paramLabel = "JOB")
    String name;

    Status(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      checkFormat(spec, format);
      JobStatus s = stub(cli).status(JobRef.newBuilder().setName(name).build());
      if (format.equals("json")) {
        cli.out.println(Json.pretty(ProtoJson.of(s)));
        return 0;
      }
      cli.out.println("Name:       " + s.getName());
      cli.out.println("Type:       " + s.getType());
      cli.out.println("Priority:   " + s.getPriority());
      cli.out.println("Version:    " + s.getVersion());
      cli.out.println("Status:     " + s.getStatus() + (s.getStopped() ? " (stopped)" : ""));
      cli.out.println("Submitted:  " + when(s.getSubmittedAtUnixMillis(), cli.clock));
      cli.out.println("Deployment: " + (s.getDeployment().isEmpty() ? "-" : s.getDeployment())
          + (s.getDeploymentMessage().isEmpty() ? "" : " (" + s.getDeploymentMessage() + ")"));
      cli.out.println("Stable:     " + (s.getStableVersion() == 0 ? "none yet" : "version " + s.getStableVersion()));
      cli.out.println();
      Table groups = new Table("GROUP", "DESIRED", "PENDING", "RUNNING", "COMPLETE", "FAILED", "LOST", "PENDING REASON");
      for (GroupStatus g : s.getGroupsList()) {
        groups.add(g.getName(), Integer.toString(g.getDesired()), Integer.toString(g.getPending()), Integer.toString(g.getRunning()),
            Integer.toString(g.getComplete()), Integer.toString(g.getFailed()), Integer.toString(g.getLost()), g.getPendingReason());
      }
      print(groups, cli.out);
      cli.out.println();
      Table allocations = new Table("ID", "REPLICA", "NODE", "VERSION", "STATE", "HEALTHY", "DESIRED", "PORTS", "UPDATED",
          "MESSAGE");
      for (AllocationInfo a : sorted(s.getAllocationsList())) {
        allocations.add(Format.shortId(a.getId()), JobMonitor.replica(a), a.getNode().isEmpty() ? "-" : a.getNode(),
            a.getJobVersion() == 0 ? "-" : Long.toString(a.getJobVersion()), state(a.getState()),
            a.getHealthy() ? "yes" : "no",
            a.getDesiredRunning() ? "run" : "stop", a.getPortsCount() == 0 ? "-" : ports(a.getPortsList(), false),
            age(a.getUpdatedAtUnixMillis(), cli.clock), a.getMessage());
      }
      print(allocations, cli.out);
      return 0;
    }
  }

  /** `job history NAME [--format table|json]`: the job's kept versions, newest first. */
  @Command(name = "history", description = "Show a job's kept versions: when each was submitted, whether it rolled out,"
      + " and what it changed")
  static final class History extends BaseCommand {
    @Spec
    CommandSpec spec;

    @Option(names = "--format", paramLabel = "FORMAT", description = "Output format: table (default) or json (the agent's answer as it is)")
    String format = "table";

    @Parameters(index = "0", paramLabel = "JOB")
    String name;

    History(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      checkFormat(spec, format);
      JobHistory h = stub(cli).history(JobRef.newBuilder().setName(name).build());
      if (format.equals("json")) {
        cli.out.println(Json.pretty(ProtoJson.of(h)));
        return 0;
      }
      Table t = new Table("VERSION", "SUBMITTED", "STABLE", "ROLLOUT", "CHANGES", "MESSAGE");
      for (JobVersionInfo v : h.getVersionsList()) {
        t.add(v.getVersion() + (v.getCurrent() ? " (current)" : ""), age(v.getSubmittedAtUnixMillis(), cli.clock),
            v.getStable() ? "yes" : "no", v.getDeployment().isEmpty() ? "-" : v.getDeployment(),
            v.getChanges().isEmpty() ? "-" : v.getChanges(), v.getDeploymentMessage());
      }
      print(t, cli.out);
      return 0;
    }
  }

  /** `job rollback NAME [--version N]`: a kept version's job file submitted again, as a new version. */
  @Command(name = "rollback", description = "Submit a kept version of a job again, as a new version"
      + " (default: the latest stable version older than the current one)")
  static final class Rollback extends BaseCommand {
    @Spec
    CommandSpec spec;

    @Option(names = "--version", paramLabel = "N", description = "The kept version to go back to (see job history)")
    long version;

    @Parameters(index = "0", paramLabel = "JOB")
    String name;

    Rollback(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      if (version < 0) {
        throw new ParameterException(spec.commandLine(), "--version must be a version number (1 or more), not " + version);
      }
      RollbackJobResponse r = stub(cli).rollback(RollbackJobRequest.newBuilder().setName(name).setVersion(version).build());
      cli.out.println("Job \"" + r.getJob() + "\" rolled back to version " + r.getRolledBackTo() + ": now version "
          + r.getVersion() + " (evaluation " + Format.shortId(r.getEvaluationId()) + ")");
      return 0;
    }
  }

  /** `job ls [--format table|json]`: one line per job; json: one object per line. */
  @Command(name = "ls", description = "List jobs")
  static final class Ls extends BaseCommand {
    @Spec
    CommandSpec spec;

    @Option(names = "--format", paramLabel = "FORMAT", description = "Output format: table (default) or json (one object per line)")
    String format = "table";

    Ls(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      checkFormat(spec, format);
      List<JobSummary> jobs = stub(cli).list(ListJobsRequest.getDefaultInstance()).getJobsList();
      if (format.equals("json")) {
        jobs.forEach(j -> cli.out.println(Json.compact(ProtoJson.of(j))));
        return 0;
      }
      Table t = new Table("NAME", "TYPE", "PRIORITY", "STATUS", "RUNNING/DESIRED", "VERSION", "SUBMITTED");
      for (JobSummary j : jobs) {
        t.add(j.getName(), j.getType(), Integer.toString(j.getPriority()), j.getStatus(), j.getRunning() + "/" + j.getDesired(),
            Long.toString(j.getVersion()), age(j.getSubmittedAtUnixMillis(), cli.clock));
      }
      print(t, cli.out);
      return 0;
    }
  }

  /** `job stop [--purge] JOB…`: stops every allocation of each job. */
  @Command(name = "stop", description = "Stop a job's allocations; with --purge the job is then forgotten")
  static final class Stop extends BaseCommand {
    @Option(names = "--purge", description = "Forget the job once its allocations have stopped (its name and history go)")
    boolean purge;

    @Parameters(arity = "1..*", paramLabel = "JOB")
    List<String> names = new ArrayList<>();

    Stop(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      return each(names, n -> {
        JobStatus s = stub(cli).stop(StopJobRequest.newBuilder().setName(n).setPurge(purge).build());
        cli.out.println("Job \"" + s.getName() + "\" stopped: version " + s.getVersion()
            + (purge ? "; purged once its allocations have stopped" : ""));
      });
    }
  }

  /**
   * {@link Table#print} without the blanks it leaves at the end of a line whose last cells are
   * empty (a MESSAGE or PENDING REASON column is, mostly).
   */
  static void print(Table t, PrintStream out) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    t.print(new PrintStream(b, true, StandardCharsets.UTF_8));
    for (String line : b.toString(StandardCharsets.UTF_8).split("\n")) {
      out.println(line.stripTrailing());
    }
  }

  /** pending, running, complete, failed, lost, stopped. */
  static String state(AllocationState s) {
    return switch (s) {
      case ALLOCATION_PENDING -> "pending";
      case ALLOCATION_RUNNING -> "running";
      case ALLOCATION_COMPLETE -> "complete";
      case ALLOCATION_FAILED -> "failed";
      case ALLOCATION_LOST -> "lost";
      case ALLOCATION_STOPPED -> "stopped";
      default -> "unknown";
    };
  }

  /**
   * "10.0.0.2:8080->80, 10.0.0.2:23456->9100": HOST_IP:HOST_PORT->CONTAINER_PORT, with "/tcp"
   * after the container port when {@code protocol} (job files publish TCP only).
   */
  static String ports(List<AllocationPort> ports, boolean protocol) {
    StringJoiner j = new StringJoiner(", ");
    for (AllocationPort p : ports) {
      String ip = p.getHostIp();
      String host = (ip.isEmpty() ? "" : (ip.indexOf(':') >= 0 ? "[" + ip + "]" : ip) + ":") + p.getHostPort();
      j.add(p.getContainerPort() == 0 ? host : host + "->" + p.getContainerPort() + (protocol ? "/tcp" : ""));
    }
    return j.toString();
  }

  /** By group, index, then newest generation first. */
  static List<AllocationInfo> sorted(List<AllocationInfo> allocations) {
    List<AllocationInfo> out = new ArrayList<>(allocations);
    out.sort(Comparator.comparing(AllocationInfo::getGroup, Ports::compareNatural)
        .thenComparingInt(AllocationInfo::getIndex)
        .thenComparing(Comparator.comparingLong(AllocationInfo::getGeneration).reversed()));
    return out;
  }

  /** "3 minutes ago"; "-" for a time never set. */
  static String age(long unixMillis, Clock clock) {
    return unixMillis == 0 ? "-" : Format.ago(unixMillis * 1_000_000L, clock);
  }

  /** "2024-05-01T11:58:00Z (2 minutes ago)"; "-" for a time never set. */
  static String when(long unixMillis, Clock clock) {
    return unixMillis == 0 ? "-" : Format.rfc3339(unixMillis * 1_000_000L, false) + " (" + age(unixMillis, clock) + ")";
  }
}
