package dev.berth.ctl;

import static dev.berth.ctl.CliRunner.NOW;
import static dev.berth.ctl.CliRunner.NOW_NANOS;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerStatus;
import java.time.Clock;
import java.time.ZoneId;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** docker's wording of durations, sizes, statuses, commands and times. */
@Timeout(10)
class FormatTest {
  private static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);
  private static final long S = 1_000_000_000L;

  @ParameterizedTest(name = "{0} s -> {1}")
  @CsvSource({
      "0, Less than a second", "0.9, Less than a second", "1, 1 second", "1.9, 1 second", "5, 5 seconds",
      "59, 59 seconds", "60, About a minute", "119, About a minute", "120, 2 minutes", "3599, 59 minutes",
      "3600, About an hour", "5399, About an hour", "5400, 2 hours", "169199, 47 hours",
      "171000, 2 days", "1206000, 13 days", "1209600, 2 weeks", "5180400, 8 weeks",
      "5184000, 2 months", "63000000, 24 months", "63072000, 2 years",
  })
  void humanDuration(double seconds, String text) {
    assertEquals(text, Format.humanDuration((long) (seconds * S)));
  }

  @ParameterizedTest(name = "{0} B -> {1}")
  @CsvSource({
      "0, 0B", "999, 999B", "1000, 1kB", "1234, 1.23kB", "4200000, 4.2MB", "4194304, 4.19MB",
      "7797760, 7.8MB", "123456789, 123MB", "1000000000, 1GB", "5368709120, 5.37GB",
  })
  void humanSize(long bytes, String text) {
    assertEquals(text, Format.humanSize(bytes));
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({
      "RUNNING, 0, 3, 0, Up 3 seconds",
      "RUNNING, 0, 7200, 0, Up 2 hours",
      "EXITED, 0, 0, 120, Exited (0) 2 minutes ago",
      "EXITED, 137, 0, 1, Exited (137) 1 second ago",
      "CREATED, 0, 0, 0, Created",
      "REMOVING, 0, 0, 0, Removal In Progress",
  })
  void status(ContainerStatus status, int code, long upFor, long exitedAgo, String text) {
    Container c = Container.newBuilder().setStatus(status).setExitCode(code)
        .setStartedAtUnixNanos(NOW_NANOS - upFor * S).setFinishedAtUnixNanos(NOW_NANOS - exitedAgo * S).build();
    assertEquals(text, Format.status(c, CLOCK));
  }

  @Test
  void commandsAreTruncatedThenQuotedLikeGo() {
    assertEquals("\"sleep 1000\"", Format.quote(Format.ellipsis("sleep 1000", 20)));
    assertEquals("\"sh -c 'while true; …\"", Format.quote(Format.ellipsis("sh -c 'while true; do sleep 1; done'", 20)));
    assertEquals("\"a\\\"b\\\\c\\n\\t\\x01\"", Format.quote("a\"b\\c\n\t\u0001"));
    assertEquals("\"日本語\"", Format.quote("日本語"));
    assertEquals("12345678901234567890", Format.ellipsis("12345678901234567890", 20));
  }

  @Test
  void ids() {
    assertEquals("0123456789ab", Format.shortId("sha256:0123456789abcdef"));
    assertEquals("0123456789ab", Format.shortId("0123456789abcdef"));
    assertEquals("abc", Format.shortId("abc"));
  }

  @Test
  void times() {
    assertEquals("2024-05-01T12:00:00Z", Format.rfc3339(NOW_NANOS, false));
    assertEquals("2024-05-01T12:00:00.5Z", Format.rfc3339(NOW_NANOS + 500_000_000, false));
    assertEquals("2024-05-01T12:00:00.500000000Z", Format.rfc3339(NOW_NANOS + 500_000_000, true));
    assertEquals("0001-01-01T00:00:00Z", Format.rfc3339(0, false));
    assertEquals("2024-05-01 12:00:00 +0000 UTC", Format.goTime(NOW_NANOS, ZoneId.of("UTC")));
    assertEquals("2024-05-01 14:00:00 +0200 CEST", Format.goTime(NOW_NANOS, ZoneId.of("Europe/Berlin")));
  }

  @Test
  void tableAlignsLikeTabwriter() {
    java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream();
    Table t = new Table("A", "LONG HEADER", "LAST");
    t.add("x", "y", "z z");
    t.add("wide cell here", "", "");
    t.print(new java.io.PrintStream(buf, true, java.nio.charset.StandardCharsets.UTF_8));
    assertEquals("A                LONG HEADER   LAST\nx                y             z z\nwide cell here                 \n",
        buf.toString(java.nio.charset.StandardCharsets.UTF_8));
  }
}
