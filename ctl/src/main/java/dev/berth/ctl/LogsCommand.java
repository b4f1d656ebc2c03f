package dev.berth.ctl;

import dev.berth.proto.v1.LogEntry;
import dev.berth.proto.v1.LogsRequest;
import dev.berth.proto.v1.Stream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** `logs`: stdout records to stdout, stderr records to stderr, optionally following. */
@Command(name = "logs", description = "Fetch the logs of a container")
final class LogsCommand extends BaseCommand {
  @Option(names = {"-f", "--follow"}, description = "Follow log output")
  boolean follow;

  @Option(names = {"-n", "--tail"}, paramLabel = "N", description = "Number of lines to show from the end of the logs (default: all)")
  String tail = "all";

  @Option(names = {"-t", "--timestamps"}, description = "Show timestamps")
  boolean timestamps;

  @Parameters(index = "0", paramLabel = "CONTAINER")
  String id;

  LogsCommand(Cli cli) {
    super(cli);
  }

  @Override
  int run() throws IOException {
    int lines;
    try {
      lines = tail.equals("all") ? -1 : Integer.parseInt(tail);
    } catch (NumberFormatException e) {
      throw new CliException("invalid value for --tail: \"" + tail + "\" (a number or all)", 1);
    }
    LogsRequest request = LogsRequest.newBuilder().setId(id).setFollow(follow)
        .setTail(lines).setTimestamps(timestamps).build();
    Iterator<LogEntry> entries = cli.containers().logs(request);
    while (entries.hasNext()) {
      LogEntry e = entries.next();
      PrintStream to = e.getStream() == Stream.STDERR ? cli.err : cli.out;
      if (to == cli.err) {
        cli.out.flush();  // keep the two streams in order on a shared terminal
      }
      if (timestamps) {
        to.write((Format.rfc3339(e.getTimeUnixNanos(), true) + " ").getBytes(StandardCharsets.UTF_8));
      }
      e.getData().writeTo(to);
      if (follow || to == cli.err) {
        to.flush();
      }
    }
    return 0;
  }
}
