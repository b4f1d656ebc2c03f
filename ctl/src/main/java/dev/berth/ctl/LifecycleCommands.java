package dev.berth.ctl;

import dev.berth.proto.v1.ContainerRef;
import dev.berth.proto.v1.ExitStatus;
import dev.berth.proto.v1.KillContainerRequest;
import dev.berth.proto.v1.RemoveContainerRequest;
import dev.berth.proto.v1.StopContainerRequest;
import dev.berth.proto.v1.WaitResponse;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** start, stop, kill, rm and wait: one call per container named, each name echoed like docker. */
final class LifecycleCommands {
  private LifecycleCommands() {
  }

  static ContainerRef ref(String id) {
    return ContainerRef.newBuilder().setId(id).build();
  }

  @Command(name = "start", description = "Start one or more stopped containers")
  static final class Start extends BaseCommand {
    @Option(names = {"-a", "--attach"}, description = "Attach STDOUT/STDERR and exit with the container's code")
    boolean attach;

    @Option(names = {"-i", "--interactive"}, description = "Attach container's STDIN")
    boolean interactive;

    @Parameters(arity = "1..*", paramLabel = "CONTAINER")
    List<String> ids = new ArrayList<>();

    Start(Cli cli) {
      super(cli);
    }

    @Override
    int run() throws InterruptedException {
      if (attach || interactive) {
        if (ids.size() > 1) {
          throw new CliException("you cannot start and attach multiple containers at once", 1);
        }
        String id = ids.get(0);
        boolean tty = cli.containers().inspect(ref(id)).getSpec().getTty();
        ExitStatus exit = StdioSession.attach(cli, id, interactive, tty, true);
        return StdioSession.exitCode(cli, exit, 1);
      }
      return each(ids, id -> {
        cli.containers().start(ref(id));
        cli.out.println(id);
      });
    }
  }

  @Command(name = "stop", description = "Stop one or more running containers")
  static final class Stop extends BaseCommand {
    @Option(names = {"-t", "--time"}, paramLabel = "SECONDS", description = "Seconds to wait before killing the container")
    Integer timeout;

    @Parameters(arity = "1..*", paramLabel = "CONTAINER")
    List<String> ids = new ArrayList<>();

    Stop(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      return each(ids, id -> {
        StopContainerRequest.Builder r = StopContainerRequest.newBuilder().setId(id);
        if (timeout != null) {
          r.setTimeoutSeconds(timeout).setHasTimeout(true);
        }
        cli.containers().stop(r.build());
        cli.out.println(id);
      });
    }
  }

  @Command(name = "kill", description = "Kill one or more running containers")
  static final class Kill extends BaseCommand {
    @Option(names = {"-s", "--signal"}, paramLabel = "SIGNAL", description = "Signal to send to the container (default: KILL)")
    String signal = "KILL";

    @Parameters(arity = "1..*", paramLabel = "CONTAINER")
    List<String> ids = new ArrayList<>();

    Kill(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      return each(ids, id -> {
        cli.containers().kill(KillContainerRequest.newBuilder().setId(id).setSignal(signal).build());
        cli.out.println(id);
      });
    }
  }

  @Command(name = "rm", description = "Remove one or more containers")
  static final class Rm extends BaseCommand {
    @Option(names = {"-f", "--force"}, description = "Force the removal of a running container (uses SIGKILL)")
    boolean force;

    @Option(names = {"-v", "--volumes"}, description = "Remove anonymous volumes associated with the container")
    boolean volumes;

    @Parameters(arity = "1..*", paramLabel = "CONTAINER")
    List<String> ids = new ArrayList<>();

    Rm(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      return each(ids, id -> {
        cli.containers().remove(RemoveContainerRequest.newBuilder().setId(id).setForce(force).setVolumes(volumes).build());
        cli.out.println(id);
      });
    }
  }

  @Command(name = "wait", description = "Block until one or more containers stop, then print their exit codes")
  static final class Wait extends BaseCommand {
    @Parameters(arity = "1..*", paramLabel = "CONTAINER")
    List<String> ids = new ArrayList<>();

    Wait(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      return each(ids, id -> {
        WaitResponse w = cli.containers().wait(ref(id));
        cli.out.println(w.getExitCode());
      });
    }
  }
}
