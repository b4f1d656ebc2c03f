package dev.berth.ctl;

import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Option;

/** A subcommand: runs against {@link Cli} and turns failures into docker's messages and exit codes. */
abstract class BaseCommand implements Callable<Integer> {
  final Cli cli;

  @Option(names = "--help", usageHelp = true, description = "Print usage")
  boolean help;

  BaseCommand(Cli cli) {
    this.cli = cli;
  }

  /** The command's work; returns the exit code. */
  abstract int run() throws Exception;

  /** The exit code when the daemon refused or cannot be reached (docker run: 125). */
  int failureCode() {
    return 1;
  }

  @Override
  public final Integer call() throws Exception {
    try {
      return run();
    } catch (StatusRuntimeException e) {
      cli.report(e);
      return failureCode();
    } catch (CliException e) {
      cli.out.flush();
      cli.err.println(e.getMessage());
      return e.exitCode;
    } catch (IOException | UncheckedIOException e) {
      cli.out.flush();
      cli.err.println("Error: " + e.getMessage());
      return failureCode();
    } finally {
      cli.out.flush();
    }
  }

  /**
   * Asks "Are you sure" on the console, as docker's prune commands do; true to go on. Without a
   * terminal there is nobody to ask: that is an error telling to give -f.
   */
  static boolean confirm(String warning) {
    java.io.Console console = System.console();
    if (console == null) {
      throw new CliException("prune asks for confirmation: give -f where there is no terminal", 1);
    }
    String answer = console.readLine("WARNING! " + warning + "%nAre you sure you want to continue? [y/N] ");
    return answer != null && answer.trim().equalsIgnoreCase("y");
  }

  /** What a prune command reports, in docker's words: the deleted lines, then the space reclaimed. */
  void printPruned(String title, List<String> deletedLines, long reclaimedBytes) {
    if (!deletedLines.isEmpty()) {
      cli.out.println(title);
      deletedLines.forEach(cli.out::println);
      cli.out.println();
    }
    cli.out.println("Total reclaimed space: " + Format.humanSize(reclaimedBytes));
  }

  /** An action on one container or image named on the command line. */
  interface Each {
    void apply(String ref);
  }

  /**
   * Applies {@code action} to every reference like docker does: failures are reported as they
   * happen, the others still run, and the exit code is 1 if any failed. An unreachable daemon
   * stops at the first.
   */
  int each(List<String> refs, Each action) {
    int code = 0;
    for (String ref : refs) {
      try {
        action.apply(ref);
        cli.out.flush();
      } catch (StatusRuntimeException e) {
        code = 1;
        if (!cli.report(e)) {
          break;
        }
      }
    }
    return code;
  }
}
