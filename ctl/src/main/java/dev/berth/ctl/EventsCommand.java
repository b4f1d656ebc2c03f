package dev.berth.ctl;

import dev.berth.proto.v1.Event;
import dev.berth.proto.v1.EventFilter;
import dev.berth.proto.v1.EventServiceGrpc;
import dev.berth.proto.v1.EventsRequest;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * `events`: the cluster's events as docker events shows them, one line each (or a JSON line each),
 * following live until interrupted, or up to --until. Warnings about nodes left out go to stderr.
 */
@Command(name = "events", description = "Get real time events from the cluster",
    footer = {"", "TIME: RFC 3339 (2026-11-27T12:00:00Z, 2026-11-27T13:00:00+01:00, 2026-11-27), unix seconds (1795780800),",
        "or a duration before now (10m, 1h30m).",
        "Filters: type=container|image|node|job|allocation, event=ACTION, container=NAME|ID, image=REF, node=NODE,",
        "job=JOB. The same key again widens the filter, another key narrows it."})
final class EventsCommand extends BaseCommand {
  @Option(names = {"-f", "--filter"}, paramLabel = "KEY=VALUE", description = "Filter output based on conditions provided")
  List<String> filters = new ArrayList<>();

  @Option(names = "--since", paramLabel = "TIME", description = "Show events since TIME, then follow")
  String since;

  @Option(names = "--until", paramLabel = "TIME", description = "Stream events until TIME, then end")
  String until;

  @Option(names = "--format", paramLabel = "FORMAT", description = "Output format: plain (default) or json (JSON lines)")
  String format = "plain";

  EventsCommand(Cli cli) {
    super(cli);
  }

  @Override
  int run() {
    if (!format.equals("plain") && !format.equals("json")) {
      throw new CliException("invalid --format \"" + format + "\": plain or json", 1);
    }
    EventsRequest.Builder req = EventsRequest.newBuilder();
    for (String f : filters) {
      int eq = f.indexOf('=');
      if (eq <= 0) {
        throw new CliException("invalid filter '" + f + "': expected KEY=VALUE, e.g. type=container", 1);
      }
      req.addFilters(EventFilter.newBuilder().setKey(f.substring(0, eq)).setValue(f.substring(eq + 1)));
    }
    Instant now = cli.clock.instant();
    if (since != null) {
      req.setSinceUnixNanos(nanos(time("--since", since, now, cli.zone())));
    }
    if (until != null) {
      req.setUntilUnixNanos(nanos(time("--until", until, now, cli.zone())));
    }
    Iterator<Event> events = EventServiceGrpc.newBlockingStub(cli.channel()).stream(req.build());
    while (events.hasNext()) {
      Event e = events.next();
      if (e.getProgress()) {
        continue;
      }
      if (e.getType().equals("warning")) {
        cli.out.flush();
        cli.err.println("warning: " + e.getAttributesOrDefault("message", "node " + e.getNode() + " is left out"));
        continue;
      }
      cli.out.println(format.equals("json") ? json(e) : line(e));
      cli.out.flush();  // a follower sees each event as it comes
    }
    return 0;
  }

  /** docker's line: {@code 2026-11-27T12:00:00.000000000Z container die 3f2a… (name=web, exitCode=1, node=n2)}. */
  static String line(Event e) {
    StringBuilder b = new StringBuilder(Format.rfc3339(e.getTimeUnixNanos(), true)).append(' ').append(e.getType())
        .append(' ').append(e.getAction()).append(' ')
        .append(e.getActor().getId().isEmpty() ? e.getActor().getName() : e.getActor().getId());
    List<String> attrs = new ArrayList<>();
    if (!e.getActor().getName().isEmpty()) {
      attrs.add("name=" + e.getActor().getName());
    }
    Map<String, String> sorted = new TreeMap<>(e.getAttributesMap());
    if (!e.getNode().isEmpty()) {
      sorted.put("node", e.getNode());
    }
    sorted.forEach((k, v) -> attrs.add(k + "=" + v));
    return b.append(" (").append(String.join(", ", attrs)).append(')').toString();
  }

  /** The event as the API has it, in ProtoJson's mapping, on one line. */
  static String json(Event e) {
    var o = ProtoJson.of(e);
    o.remove("progress");
    return o.toString();
  }

  private static long nanos(Instant t) {
    return Math.addExact(Math.multiplyExact(t.getEpochSecond(), 1_000_000_000L), t.getNano());
  }

  /**
   * A time as docker takes it: unix seconds (with a fraction), RFC 3339 (a time without an offset,
   * or a date alone, in {@code zone}), or a duration before {@code now} (10m, 1h30m).
   */
  static Instant time(String flag, String text, Instant now, ZoneId zone) {
    String t = text.trim();
    if (t.matches("\\d+(\\.\\d{1,9})?")) {
      BigDecimal seconds = new BigDecimal(t);
      long whole = seconds.longValue();
      int nano = seconds.subtract(BigDecimal.valueOf(whole)).movePointRight(9).intValue();
      return Instant.ofEpochSecond(whole, nano);
    }
    if (t.matches("(\\d+(\\.\\d+)?(ms|s|m|h))+")) {
      if (t.matches("(0+(\\.0+)?(ms|s|m|h))+")) {
        return now;  // "0s": now, as docker takes it
      }
      try {
        Duration d = JobMonitor.parseDuration(t);
        return now.minus(d);
      } catch (IllegalArgumentException e) {
        throw new CliException("invalid value for " + flag + ": \"" + text + "\": " + e.getMessage(), 1);
      }
    }
    try {
      return OffsetDateTime.parse(t).toInstant();
    } catch (DateTimeParseException e) {
      // a local time, or a date
    }
    try {
      return LocalDateTime.parse(t).atZone(zone).toInstant();
    } catch (DateTimeParseException e) {
      // a date
    }
    try {
      return LocalDate.parse(t).atStartOfDay(zone).toInstant();
    } catch (DateTimeParseException e) {
      throw new CliException("invalid value for " + flag + ": \"" + text + "\": expected RFC 3339 (2026-11-27T12:00:00Z), "
          + "unix seconds, or a duration before now (10m)", 1);
    }
  }
}
