package dev.berth.ctl;

import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.IExecutionExceptionHandler;
import picocli.CommandLine.IParameterExceptionHandler;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * The picocli command tree. Only the command named on the command line is registered (all of
 * them for help or an unknown name), so a run builds one command's model, not the whole tree.
 */
final class Commands {
  /** In the order `berth --help` lists them. */
  static final String[] NAMES = {
    "run", "create", "start", "stop", "kill", "rm", "ps", "inspect", "logs", "wait", "exec", "port", "stats", "top",
    "images", "image", "pull", "push", "commit", "tag", "save", "load", "login", "logout", "rmi", "volume", "network", "nodes", "node", "cluster", "job", "service", "events", "cert", "system", "info", "version"
  };

  private Commands() {
  }

  static int execute(String[] args, Cli cli) {
    Root root = new Root(cli);
    CommandLine cmd = new CommandLine(root);
    String only = invoked(args);
    for (String name : NAMES) {
      if (only == null || only.equals(name)) {
        cmd.addSubcommand(name, command(name, cli));
      }
    }
    cmd.setExpandAtFiles(false);  // "@x" is an argument to pass on, not a file to read
    cmd.setOut(writer(cli.out));
    cmd.setErr(writer(cli.err));
    cmd.setParameterExceptionHandler(root);
    cmd.setExecutionExceptionHandler(root);
    return cmd.execute(args);
  }

  private static PrintWriter writer(PrintStream s) {
    return new PrintWriter(new OutputStreamWriter(s, StandardCharsets.UTF_8), true);
  }

  /** The subcommand named by {@code args}, skipping the global options; null if none is clear. */
  static String invoked(String[] args) {
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("-H") || a.equals("--host") || Cli.TLS_FILE_OPTIONS.contains(a)) {
        i++;
      } else if (a.startsWith("-H") || a.startsWith("--host=") || a.equals("--tlsverify")
          || Cli.TLS_FILE_OPTIONS.stream().anyMatch(o -> a.startsWith(o + "="))) {
        continue;
      } else if (a.startsWith("-")) {
        return null;  // --help, --version, a typo: picocli wants the full tree
      } else {
        for (String c : NAMES) {
          if (c.equals(a)) {
            return a;
          }
        }
        return null;
      }
    }
    return null;
  }

  private static Object command(String name, Cli cli) {
    switch (name) {
      case "run":
        return stopAtImage(new RunCommands.Run(cli));
      case "create":
        return stopAtImage(new RunCommands.Create(cli));
      case "start":
        return new LifecycleCommands.Start(cli);
      case "stop":
        return new LifecycleCommands.Stop(cli);
      case "kill":
        return new LifecycleCommands.Kill(cli);
      case "rm":
        return new LifecycleCommands.Rm(cli);
      case "ps":
        return new PsCommand(cli);
      case "inspect":
        return new InspectCommand(cli);
      case "logs":
        return new LogsCommand(cli);
      case "wait":
        return new LifecycleCommands.Wait(cli);
      case "exec":
        return stopAtImage(new ExecCommand(cli));
      case "images":
        return new ImageCommands.Ls(cli);
      case "image":
        // ls and rm are the classes behind `images` and `rmi`, renamed for their usage lines.
        return new CommandLine(new ImageCommands.Group(cli))
            .addSubcommand("import", new ImageCommands.Import(cli))
            .addSubcommand("pull", new PullCommand(cli))
            .addSubcommand("push", new ImageTransferCommands.Push(cli))
            .addSubcommand("tag", new ImageTransferCommands.Tag(cli))
            .addSubcommand("save", new ImageTransferCommands.Save(cli))
            .addSubcommand("load", new ImageTransferCommands.Load(cli))
            .addSubcommand("prune", new ImageTransferCommands.Prune(cli))
            .addSubcommand("ls", new CommandLine(new ImageCommands.Ls(cli)).setCommandName("ls"))
            .addSubcommand("rm", new CommandLine(new ImageCommands.Rm(cli)).setCommandName("rm"))
            .addSubcommand("inspect", new ImageCommands.Inspect(cli));
      case "nodes":
        return new NodeCommands.Ls(cli);
      case "node":
        return new CommandLine(new NodeCommands.Group(cli))
            .addSubcommand("ls", new CommandLine(new NodeCommands.Ls(cli)).setCommandName("ls"))
            .addSubcommand("inspect", new NodeCommands.Inspect(cli))
            .addSubcommand("update", new NodeCommands.Update(cli))
            .addSubcommand("drain", new NodeCommands.Drain(cli))
            .addSubcommand("activate", new NodeCommands.Activate(cli));
      case "cluster":
        return new CommandLine(new ClusterCommands.Group(cli))
            .addSubcommand("status", new ClusterCommands.Status(cli));
      case "job":
        return new CommandLine(new JobCommands.Group(cli))
            .addSubcommand("run", new JobCommands.Run(cli))
            .addSubcommand("plan", new JobCommands.Plan(cli))
            .addSubcommand("status", new JobCommands.Status(cli))
            .addSubcommand("history", new JobCommands.History(cli))
            .addSubcommand("rollback", new JobCommands.Rollback(cli))
            .addSubcommand("ls", new JobCommands.Ls(cli), "list")
            .addSubcommand("stop", new JobCommands.Stop(cli));
      case "service":
        // create: everything after IMAGE is the command, "-c" too
        return new CommandLine(new ServiceCommands.Group(cli))
            .addSubcommand("create", stopAtImage(new ServiceCommands.Create(cli)))
            .addSubcommand("scale", new ServiceCommands.Scale(cli))
            .addSubcommand("inspect", new ServiceCommands.Inspect(cli))
            .addSubcommand("ls", new ServiceCommands.Ls(cli), "list")
            .addSubcommand("rm", new ServiceCommands.Rm(cli), "remove");
      case "cert":
        return new CommandLine(new CertCommands.Group(cli))
            .addSubcommand("ca", new CertCommands.Ca(cli))
            .addSubcommand("node", new CertCommands.Node(cli))
            .addSubcommand("client", new CertCommands.Client(cli));
      case "volume":
        return new CommandLine(new VolumeCommands.Group(cli))
            .addSubcommand("create", new VolumeCommands.Create(cli))
            .addSubcommand("ls", new VolumeCommands.Ls(cli), "list")
            .addSubcommand("inspect", new VolumeCommands.Inspect(cli))
            .addSubcommand("rm", new VolumeCommands.Rm(cli), "remove")
            .addSubcommand("prune", new VolumeCommands.Prune(cli));
      case "network":
        return new CommandLine(new NetworkCommands.Group(cli))
            .addSubcommand("create", new NetworkCommands.Create(cli))
            .addSubcommand("ls", new NetworkCommands.Ls(cli), "list")
            .addSubcommand("inspect", new NetworkCommands.Inspect(cli))
            .addSubcommand("rm", new NetworkCommands.Rm(cli), "remove")
            .addSubcommand("prune", new NetworkCommands.Prune(cli));
      case "events":
        return new EventsCommand(cli);
      case "port":
        return new PortCommand(cli);
      case "pull":
        return new PullCommand(cli);
      case "push":
        return new ImageTransferCommands.Push(cli);
      case "commit":
        return new ImageTransferCommands.Commit(cli);
      case "tag":
        return new ImageTransferCommands.Tag(cli);
      case "save":
        return new ImageTransferCommands.Save(cli);
      case "load":
        return new ImageTransferCommands.Load(cli);
      case "login":
        return new LoginCommands.Login(cli);
      case "logout":
        return new LoginCommands.Logout(cli);
      case "rmi":
        return new ImageCommands.Rm(cli);
      case "stats":
        return new StatsCommands.Stats(cli);
      case "top":
        return new StatsCommands.Top(cli);
      case "system":
        return new CommandLine(new StatsCommands.SystemGroup(cli))
            .addSubcommand("info", new SystemCommands.Info(cli))
            .addSubcommand("df", new StatsCommands.Df(cli));
      case "info":
        return new SystemCommands.Info(cli);
      case "version":
        return new SystemCommands.Version(cli);
      default:
        throw new IllegalArgumentException(name);
    }
  }

  /** run, create, exec: everything after the first positional (IMAGE, CONTAINER) is the command, "-c" too. */
  private static CommandLine stopAtImage(Object command) {
    return new CommandLine(command).setStopAtPositional(true);
  }

  /** Usage errors exit 125 for run, create and exec (docker's code for "the CLI refused") and 2 elsewhere. */
  static int usageExitCode(CommandLine c) {
    String name = c.getCommandName();
    boolean container = c.getParent() != null && c.getParent().getParent() == null
        && (name.equals("run") || name.equals("create") || name.equals("exec"));
    return container ? 125 : 2;
  }

  @Command(name = "berth", synopsisSubcommandLabel = "COMMAND",
      description = "A container platform: berth drives berthd.",
      footer = {"", "Run 'berth COMMAND --help' for more information on a command."})
  static final class Root implements Runnable, IParameterExceptionHandler, IExecutionExceptionHandler {
    private final Cli cli;

    @picocli.CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Print usage")
    boolean help;

    @Option(names = {"-v", "--version"}, description = "Print version information and quit")
    boolean version;

    Root(Cli cli) {
      this.cli = cli;
    }

    @Option(names = {"-H", "--host"}, paramLabel = "HOST",
        description = "Daemon socket to connect to: /path.sock, unix:///path or host:port (default: $BERTH_HOST, else /run/berth/berthd.sock)")
    void host(String host) {
      cli.host(host);
    }

    @Option(names = "--tlscacert", paramLabel = "FILE",
        description = "Trust only agents whose certificate this CA signed (default: $BERTH_CERT_PATH/ca.pem, else ~/.berth/ca.pem)")
    void tlsCa(java.nio.file.Path f) {
      cli.tls(f, null, null, false);
    }

    @Option(names = "--tlscert", paramLabel = "FILE",
        description = "Client certificate, from 'berth cert client' (default: $BERTH_CERT_PATH/cert.pem, else ~/.berth/cert.pem)")
    void tlsCert(java.nio.file.Path f) {
      cli.tls(null, f, null, false);
    }

    @Option(names = "--tlskey", paramLabel = "FILE",
        description = "Client key (default: $BERTH_CERT_PATH/key.pem, else ~/.berth/key.pem)")
    void tlsKey(java.nio.file.Path f) {
      cli.tls(null, null, f, false);
    }

    @Option(names = "--tlsverify",
        description = "Talk to a tcp:// host over mutual TLS (also on with any --tls* file, $BERTH_TLS_VERIFY or $BERTH_CERT_PATH)")
    void tlsVerify(boolean v) {
      cli.tls(null, null, null, v);
    }

    @Override
    public void run() {
      if (version) {
        cli.out.println("Berth version " + SystemCommands.clientVersion());
      } else {
        spec.commandLine().usage(cli.out);
      }
    }

    @Override
    public int handleParseException(ParameterException ex, String[] args) {
      CommandLine c = ex.getCommandLine();
      PrintWriter err = c.getErr();
      err.println("berth: " + ex.getMessage());
      UnmatchedArgumentException.printSuggestions(ex, err);
      err.println("See '" + c.getCommandSpec().qualifiedName() + " --help'.");
      err.flush();
      return usageExitCode(c);
    }

    @Override
    public int handleExecutionException(Exception ex, CommandLine c, ParseResult parseResult) {
      cli.out.flush();
      cli.err.println("Error: " + ex);
      return c.getCommand() instanceof BaseCommand b ? b.failureCode() : 1;
    }
  }
}
