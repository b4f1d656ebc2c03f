package dev.berth.ctl;

import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** A command that only groups subcommands (`image`, `volume`): run alone, it prints its usage. */
abstract class GroupCommand extends BaseCommand {
  @Spec
  CommandSpec spec;

  GroupCommand(Cli cli) {
    super(cli);
  }

  @Override
  final int run() {
    spec.commandLine().usage(cli.out);
    return 0;
  }
}
