package dev.berth.ctl;

import com.fasterxml.jackson.databind.node.ArrayNode;
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
    ArrayNode found = Json.array();
    // Errors go to stderr as they happen; the array follows on stdout, as docker does it.
    int code = each(ids, id -> found.add(Json.container(cli.containers().inspect(LifecycleCommands.ref(id)))));
    cli.out.println(Json.pretty(found));
    return code;
  }
}
