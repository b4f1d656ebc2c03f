package dev.berth.ctl;

import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** `inspect`: a pretty JSON array of the containers found; the missing ones are errors after it. */
@Command(name = "inspect", description = "Display detailed information on one or more containers")
final class InspectCommand extends BaseCommand {
  @Parameters(arity = "1..*", paramLabel = "CONTAINER")
  List<String> ids = new ArrayList<>();

  InspectCommand(Cli cli) {
    super(cli);
  }

  @Override
  int run() {
    // Errors go to stderr as they happen; the array follows on stdout, as docker does it.
    return Json.inspectAll(this, ids, id -> Json.container(cli.containers().inspect(LifecycleCommands.ref(id))));
  }
}
