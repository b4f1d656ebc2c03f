package dev.berth.ctl;

import dev.berth.proto.v1.ExecSpec;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** `exec`: a new process in a running container, streamed like `run`; exits with its code. */
@Command(name = "exec", description = "Execute a command in a running container")
final class ExecCommand extends BaseCommand {
  @Option(names = {"-i", "--interactive"}, description = "Keep STDIN open even if not attached")
  boolean interactive;

  @Option(names = {"-t", "--tty"}, description = "Allocate a pseudo-TTY")
  boolean tty;

  @Option(names = {"-e", "--env"}, paramLabel = "KEY[=VALUE]", description = "Set an environment variable")
  List<String> env = new ArrayList<>();

  @Option(names = {"-u", "--user"}, paramLabel = "USER", description = "Username or UID (format: <name|uid>[:<group|gid>])")
  String user;

  @Option(names = {"-w", "--workdir"}, paramLabel = "DIR", description = "Working directory inside the container")
  String workdir;

  @Parameters(index = "0", paramLabel = "CONTAINER")
  String id;

  @Parameters(index = "1..*", arity = "1..*", paramLabel = "COMMAND", description = "The command and its arguments")
  List<String> command = new ArrayList<>();

  ExecCommand(Cli cli) {
    super(cli);
  }

  @Override
  int run() throws IOException, InterruptedException {
    ExecSpec.Builder spec = ExecSpec.newBuilder().setContainerId(id).addAllCmd(command)
        .addAllEnv(EnvVars.resolve(env, List.of(), cli.env)).setTty(tty).setStdin(interactive);
    if (user != null) {
      spec.setUser(user);
    }
    if (workdir != null) {
      spec.setWorkingDir(workdir);
    }
    return StdioSession.exitCode(cli, StdioSession.exec(cli, spec.build()), 126);
  }
}
