package dev.berth.ctl;

import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerRef;
import dev.berth.proto.v1.ContainerSpec;
import dev.berth.proto.v1.CreateContainerRequest;
import dev.berth.proto.v1.ExitStatus;
import dev.berth.proto.v1.HealthConfig;
import dev.berth.proto.v1.LogConfig;
import dev.berth.proto.v1.RemoveContainerRequest;
import dev.berth.proto.v1.Resources;
import dev.berth.proto.v1.RestartPolicy;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** `create` and `run`: the container flags docker has, turned into a {@link ContainerSpec}. */
final class RunCommands {
  private RunCommands() {
  }

  /** The flags `create` and `run` share. Option parsing stops at IMAGE (see {@link Main}). */
  abstract static class ContainerFlags extends BaseCommand {
    @Spec
    CommandSpec commandSpec;

    @Option(names = "--name", paramLabel = "NAME", description = "Assign a name to the container")
    String name;

    @Option(names = {"-e", "--env"}, paramLabel = "KEY[=VALUE]", description = "Set an environment variable; KEY alone takes it from this environment")
    List<String> env = new ArrayList<>();

    @Option(names = "--env-file", paramLabel = "FILE", description = "Read environment variables from a file")
    List<Path> envFiles = new ArrayList<>();

    @Option(names = {"-w", "--workdir"}, paramLabel = "DIR", description = "Working directory inside the container")
    String workdir;

    @Option(names = {"-u", "--user"}, paramLabel = "USER", description = "Username or UID (format: <name|uid>[:<group|gid>])")
    String user;

    @Option(names = {"-h", "--hostname"}, paramLabel = "NAME", description = "Container host name")
    String hostname;

    @Option(names = {"--network", "--net"}, paramLabel = "NETWORK",
        description = "Connect the container to a network: bridge (the default), none (loopback only), host (the host's network stack) or a network's name or id")
    String network;

    @Option(names = "--network-alias", paramLabel = "NAME", description = "Add a name the container has on its (user-defined) network")
    List<String> networkAliases = new ArrayList<>();

    @Option(names = {"-p", "--publish"}, paramLabel = "[IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]",
        description = "Publish a container's port (or a range, 8000-8001:80-81) to the host; no host port: one the agent chooses")
    List<String> publish = new ArrayList<>();

    @Option(names = {"-P", "--publish-all"}, description = "Publish all exposed ports to random host ports")
    boolean publishAll;

    @Option(names = "--entrypoint", paramLabel = "CMD", description = "Overwrite the default ENTRYPOINT of the image (\"\" clears it)")
    String entrypoint;

    @Option(names = {"-m", "--memory"}, paramLabel = "BYTES", description = "Memory limit, e.g. 512m, 1g")
    String memory;

    @Option(names = "--cpus", paramLabel = "N", description = "Number of CPUs, e.g. 0.5")
    String cpus;

    @Option(names = "--pids-limit", paramLabel = "N", description = "Tune container pids limit (-1 for unlimited)")
    long pidsLimit;

    @Option(names = {"-i", "--interactive"}, description = "Keep STDIN open even if not attached")
    boolean interactive;

    @Option(names = {"-t", "--tty"}, description = "Allocate a pseudo-TTY")
    boolean tty;

    @Option(names = "--rm", description = "Automatically remove the container when it exits")
    boolean autoRemove;

    @Option(names = "--security-opt", paramLabel = "OPT", description = "Security options, e.g. seccomp=unconfined")
    List<String> securityOpts = new ArrayList<>();

    @Option(names = {"-l", "--label"}, paramLabel = "KEY=VALUE", description = "Set metadata on a container")
    List<String> labels = new ArrayList<>();

    @Option(names = "--log-opt", paramLabel = "OPT", description = "Log driver options: max-size=10m, max-file=3")
    List<String> logOpts = new ArrayList<>();

    @Option(names = "--stop-signal", paramLabel = "SIGNAL", description = "Signal to stop the container")
    String stopSignal;

    @Option(names = "--stop-timeout", paramLabel = "SECONDS", description = "Timeout to stop a container, in seconds")
    int stopTimeout;

    @Option(names = {"-v", "--volume"}, paramLabel = "[SRC:]DST[:ro|rw]", converter = Mounts.VolumeArg.class,
        description = "Mount a volume: SRC a volume name or an absolute host path (a bind mount); DST alone: an anonymous volume")
    List<Mounts.Arg> volumes = new ArrayList<>();

    @Option(names = "--mount", paramLabel = "type=…,source=…,target=…", converter = Mounts.MountArg.class,
        description = "Attach a mount: type=bind|volume|tmpfs, source|src, target|dst|destination, readonly|ro, tmpfs-size, tmpfs-mode")
    List<Mounts.Arg> mountFlags = new ArrayList<>();

    @Option(names = "--tmpfs", paramLabel = "PATH[:size=64m,mode=1777]", converter = Mounts.TmpfsArg.class,
        description = "Mount a tmpfs directory")
    List<Mounts.Arg> tmpfs = new ArrayList<>();

    @Option(names = "--restart", paramLabel = "POLICY",
        description = "Restart policy to apply when a container exits: no, on-failure[:max-retries], always, unless-stopped (default: no)")
    String restart;

    @Option(names = "--health-cmd", paramLabel = "COMMAND", description = "Command to run to check health (with /bin/sh -c)")
    String healthCmd;

    @Option(names = "--health-interval", paramLabel = "DURATION", description = "Time between running the check (ms|s|m|h) (default 30s)")
    String healthInterval;

    @Option(names = "--health-timeout", paramLabel = "DURATION", description = "Maximum time to allow one check to run (ms|s|m|h) (default 30s)")
    String healthTimeout;

    @Option(names = "--health-retries", paramLabel = "N", description = "Consecutive failures needed to report unhealthy (default 3)")
    int healthRetries;

    @Option(names = "--health-start-period", paramLabel = "DURATION",
        description = "Start period for the container to initialize before failures count (ms|s|m|h) (default 0s)")
    String healthStartPeriod;

    @Option(names = "--no-healthcheck", description = "Disable any container-specified HEALTHCHECK")
    boolean noHealthcheck;

    @Parameters(index = "0", paramLabel = "IMAGE", description = "The image to run")
    String image;

    @Parameters(index = "1..*", paramLabel = "COMMAND", description = "The command and its arguments")
    List<String> command = new ArrayList<>();

    ContainerFlags(Cli cli) {
      super(cli);
    }

    @Override
    int failureCode() {
      return 125;
    }

    /** The request the flags describe; bad flag values are usage errors (exit 125). */
    ContainerSpec containerSpec() throws IOException {
      ContainerSpec.Builder s = ContainerSpec.newBuilder().setImage(image).addAllCmd(command)
          .setTty(tty).setOpenStdin(interactive).setAutoRemove(autoRemove)
          .addAllSecurityOpt(securityOpts).setStopTimeout(stopTimeout);
      try {
        s.addAllEnv(EnvVars.resolve(env, envFiles, cli.env));
      } catch (IOException e) {
        throw new ParameterException(commandSpec.commandLine(), e.getMessage(), e);
      }
      if (name != null) {
        s.setName(name);
      }
      if (entrypoint != null) {
        s.setEntrypointSet(true);
        if (!entrypoint.isEmpty()) {
          s.addEntrypoint(entrypoint);
        }
      }
      if (workdir != null) {
        s.setWorkingDir(workdir);
      }
      if (user != null) {
        s.setUser(user);
      }
      if (network != null) {
        s.setNetworkMode(network);
      }
      s.addAllNetworkAliases(networkAliases).setPublishAll(publishAll);
      try {
        s.addAllPorts(Ports.parse(publish));
      } catch (IllegalArgumentException e) {
        throw new ParameterException(commandSpec.commandLine(), e.getMessage());
      }
      if (hostname != null) {
        s.setHostname(hostname);
      }
      if (stopSignal != null) {
        s.setStopSignal(stopSignal);
      }
      if (memory != null || cpus != null || pidsLimit != 0) {
        Resources.Builder r = Resources.newBuilder().setPidsLimit(pidsLimit);
        if (memory != null) {
          r.setMemory(memory);
        }
        if (cpus != null) {
          r.setCpus(cpus);
        }
        s.setResources(r);
      }
      for (String l : labels) {
        int eq = l.indexOf('=');
        s.putLabels(eq < 0 ? l : l.substring(0, eq), eq < 0 ? "" : l.substring(eq + 1));
      }
      if (!logOpts.isEmpty()) {
        s.setLogConfig(logConfig());
      }
      try {
        s.addAllMounts(Mounts.parse(volumes, mountFlags, tmpfs));
      } catch (IllegalArgumentException e) {
        throw new ParameterException(commandSpec.commandLine(), e.getMessage());
      }
      try {
        if (restart != null) {
          RestartPolicy policy = restartPolicy(restart);
          if (autoRemove && !policy.getName().equals("no")) {
            throw new IllegalArgumentException("conflicting options: cannot specify both --restart and --rm");
          }
          s.setRestartPolicy(policy);
        }
        HealthConfig health = healthConfig();
        if (health != null) {
          s.setHealthcheck(health);
        }
      } catch (IllegalArgumentException e) {
        throw new ParameterException(commandSpec.commandLine(), e.getMessage());
      }
      return s.build();
    }

    /** The --health-* flags, as docker's CLI reads them; null when none is given. */
    private HealthConfig healthConfig() {
      long interval = nanos("--health-interval", healthInterval);
      long timeout = nanos("--health-timeout", healthTimeout);
      long startPeriod = nanos("--health-start-period", healthStartPeriod);
      if (healthRetries < 0) {
        throw new IllegalArgumentException("--health-retries cannot be negative");
      }
      boolean any = healthCmd != null && !healthCmd.isEmpty() || interval != 0 || timeout != 0 || startPeriod != 0
          || healthRetries != 0;
      if (noHealthcheck) {
        if (any) {
          throw new IllegalArgumentException("--no-healthcheck conflicts with --health-* options");
        }
        return HealthConfig.newBuilder().setDisabled(true).build();
      }
      if (!any) {
        return null;
      }
      HealthConfig.Builder h = HealthConfig.newBuilder().setIntervalNanos(interval).setTimeoutNanos(timeout)
          .setStartPeriodNanos(startPeriod).setRetries(healthRetries);
      if (healthCmd != null && !healthCmd.isEmpty()) {
        h.addTest("CMD-SHELL").addTest(healthCmd);
      }
      return h.build();
    }

    private static long nanos(String flag, String value) {
      if (value == null) {
        return 0;
      }
      long n = goDuration(flag, value);
      if (n < 0) {
        throw new IllegalArgumentException(flag + " cannot be negative");
      }
      return n;
    }

    private LogConfig logConfig() {
      LogConfig.Builder b = LogConfig.newBuilder();
      for (String opt : logOpts) {
        int eq = opt.indexOf('=');
        String key = eq < 0 ? opt : opt.substring(0, eq);
        String value = eq < 0 ? "" : opt.substring(eq + 1);
        if (key.equals("max-size") && !value.isEmpty()) {
          b.setMaxSize(value);
        } else if (key.equals("max-file")) {
          try {
            b.setMaxFile(Integer.parseInt(value));
          } catch (NumberFormatException e) {
            throw new ParameterException(commandSpec.commandLine(), "invalid value for log opt 'max-file': '" + value + "'");
          }
        } else {
          throw new ParameterException(commandSpec.commandLine(), "unknown log opt '" + key + "' for json-file log driver");
        }
      }
      return b.build();
    }

    @Option(names = "--pull", paramLabel = "POLICY", defaultValue = "missing",
        description = "Pull the image before creating: always, missing (when it is not present), never")
    String pull;

    /** Creates the container, pulling its image first as --pull says (docker's order: try, pull on NOT_FOUND, retry). */
    Container create() throws IOException {
      CreateContainerRequest req = CreateContainerRequest.newBuilder().setSpec(containerSpec()).build();
      if (req.getSpec().getNetworkMode().equals("host") && (req.getSpec().getPortsCount() > 0 || req.getSpec().getPublishAll())) {
        // docker's daemon sends this as a warning; Container has no warnings, so the client says it
        cli.err.println("WARNING: Published ports are discarded when using host network mode");
      }
      switch (pull) {
        case "always" -> PullCommand.pull(cli, req.getSpec().getImage(), cli.err);
        case "missing", "never" -> { }
        default -> throw new CliException("invalid --pull \"" + pull + "\": expected always, missing or never", 125);
      }
      try {
        return cli.containers().create(req);
      } catch (StatusRuntimeException e) {
        if (!pull.equals("missing") || !missingImage(e)) {
          throw e;
        }
        cli.err.println("Unable to find image '" + req.getSpec().getImage() + "' locally");
        PullCommand.pull(cli, req.getSpec().getImage(), cli.err);
        return cli.containers().create(req);
      }
    }
  }

  /** --restart as docker's CLI splits it: NAME[:MAX_RETRIES]; the agent checks the rest. */
  static RestartPolicy restartPolicy(String value) {
    String[] parts = value.split(":", -1);
    if (parts.length > 2 || parts[0].isEmpty()) {
      throw new IllegalArgumentException("invalid restart policy format: " + value);
    }
    RestartPolicy.Builder b = RestartPolicy.newBuilder().setName(parts[0]);
    if (parts.length == 2) {
      try {
        b.setMaxRetries(Integer.parseInt(parts[1]));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("invalid restart policy format: maximum retry count must be an integer");
      }
    }
    return b.build();
  }

  private static final java.util.regex.Pattern DURATION_PART =
      java.util.regex.Pattern.compile("(\\d+(?:\\.\\d*)?|\\.\\d+)(ns|us|µs|ms|s|m|h)");

  /** A Go duration ("1m30s", "500ms", "-1s") in nanoseconds, as docker's duration flags take them. */
  static long goDuration(String flag, String text) {
    String t = text.startsWith("-") || text.startsWith("+") ? text.substring(1) : text;
    int sign = text.startsWith("-") ? -1 : 1;
    if (t.equals("0")) {
      return 0;
    }
    java.util.regex.Matcher m = DURATION_PART.matcher(t);
    java.math.BigDecimal nanos = java.math.BigDecimal.ZERO;
    int at = 0;
    while (at < t.length() || at == 0) {
      if (!m.find(at) || m.start() != at) {
        throw new IllegalArgumentException("invalid argument \"" + text + "\" for \"" + flag + "\" flag: time: invalid duration \""
            + text + "\"");
      }
      long unit = switch (m.group(2)) {
        case "ns" -> 1L;
        case "us", "µs" -> 1_000L;
        case "ms" -> 1_000_000L;
        case "s" -> 1_000_000_000L;
        case "m" -> 60_000_000_000L;
        default -> 3_600_000_000_000L;
      };
      nanos = nanos.add(new java.math.BigDecimal(m.group(1)).multiply(java.math.BigDecimal.valueOf(unit)));
      at = m.end();
    }
    return sign * nanos.longValue();
  }

  /**
   * The agent's NOT_FOUND for the image, not for something else the spec names (a network): only
   * that one is worth a pull. The message is the only thing telling them apart.
   */
  static boolean missingImage(StatusRuntimeException e) {
    String d = e.getStatus().getDescription();
    return e.getStatus().getCode() == Status.Code.NOT_FOUND && d != null && d.startsWith("No such image");
  }

  @Command(name = "create", description = "Create a new container")
  static final class Create extends ContainerFlags {
    Create(Cli cli) {
      super(cli);
    }

    @Override
    int failureCode() {
      return 1;  // docker create: daemon errors exit 1, flag errors 125
    }

    @Override
    int run() throws IOException {
      cli.out.println(create().getId());
      return 0;
    }
  }

  @Command(name = "run", description = "Create and run a new container from an image")
  static final class Run extends ContainerFlags {
    @Option(names = {"-d", "--detach"}, description = "Run container in background and print container ID")
    boolean detach;

    Run(Cli cli) {
      super(cli);
    }

    @Override
    int run() throws IOException, InterruptedException {
      Container c = create();
      if (detach) {
        cli.containers().start(ContainerRef.newBuilder().setId(c.getId()).build());
        cli.out.println(c.getId());
        return 0;
      }
      try {
        ExitStatus exit = StdioSession.attach(cli, c.getId(), interactive, tty, true);
        return StdioSession.exitCode(cli, exit, 125);
      } finally {
        if (autoRemove) {
          removeQuietly(c.getId());
        }
      }
    }

    /** --rm: the agent removes it too; whichever comes second finds nothing, which is fine. Like docker, anonymous volumes go with it. */
    private void removeQuietly(String id) {
      try {
        cli.containers().remove(RemoveContainerRequest.newBuilder().setId(id).setForce(true).setVolumes(true).build());
      } catch (StatusRuntimeException e) {
        // already gone, or the daemon went away: nothing left to do
      }
    }
  }
}
