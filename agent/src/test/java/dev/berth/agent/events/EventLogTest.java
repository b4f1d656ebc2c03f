package dev.berth.agent.events;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The on-disk event log: stamping, reading from a time on, following, bounds, torn lines, restarts. */
@Timeout(30)
class EventLogTest {
  private static final Instant T0 = Instant.parse("2026-11-27T12:00:00Z");
  private static final Duration WAIT = Duration.ofMillis(50);

  @TempDir
  Path dir;
  final TestClock clock = new TestClock(T0);
  final List<EventLog> open = new ArrayList<>();

  @AfterEach
  void close() {
    open.forEach(EventLog::close);
  }

  private EventLog log(EventLog.Settings settings) {
    EventLog l = new EventLog(dir, "n1", settings, clock);
    open.add(l);
    return l;
  }

  private EventLog log() {
    return log(EventLog.Settings.DEFAULT);
  }

  private static Event die(String name, int code) {
    return Event.of(Event.CONTAINER, "die", "id-" + name, name, "n1", Map.of("exitCode", String.valueOf(code)));
  }

  /** Everything a reader gets until it has caught up. */
  private static List<Event> drain(EventLog.Reader r) throws InterruptedException {
    List<Event> all = new ArrayList<>();
    while (true) {
      EventLog.Batch b = r.next(WAIT);
      if (b.events().isEmpty()) {
        return all;
      }
      all.addAll(b.events());
    }
  }

  private static List<Long> seqs(List<Event> events) {
    return events.stream().map(Event::sequence).toList();
  }

  private static long nanos(Instant t) {
    return t.getEpochSecond() * 1_000_000_000L + t.getNano();
  }

  @Test
  void stampsEachEventWithTimeSourceAndSequenceAndReadsThemBackFromATime() throws Exception {
    EventLog log = log();
    Event first = log.append(die("a", 1));
    clock.advance(Duration.ofSeconds(1));
    log.append(die("b", 2));
    clock.advance(Duration.ofSeconds(1));
    log.append(die("c", 137));

    assertEquals(new Event(nanos(T0), Event.CONTAINER, "die", "id-a", "a", "n1", Map.of("exitCode", "1"), "n1", 1), first);
    try (EventLog.Reader r = log.readSince(nanos(T0.plusSeconds(1)))) {
      List<Event> got = drain(r);
      assertEquals(List.of("b", "c"), got.stream().map(Event::actorName).toList());
      assertEquals(List.of(2L, 3L), seqs(got));
      assertEquals(Map.of("exitCode", "137"), got.get(1).attributes());
      assertEquals(nanos(T0.plusSeconds(2)), got.get(1).timeNanos());
    }
    try (EventLog.Reader r = log.readSince(0)) {
      assertEquals(List.of(1L, 2L, 3L), seqs(drain(r)));
    }
  }

  @Test
  void timeGrowsStrictlyEvenWhenTheClockStepsBack() {
    EventLog log = log();
    long t1 = log.append(die("a", 0)).timeNanos();
    long t2 = log.append(die("b", 0)).timeNanos();
    clock.advance(Duration.ofSeconds(-10));
    long t3 = log.append(die("c", 0)).timeNanos();
    assertEquals(List.of(t1, t1 + 1, t1 + 2), List.of(t1, t2, t3));
  }

  @Test
  void aRestartedLogGoesOnWithItsSequenceInANewSegmentAndReadsTheOldOnes() throws Exception {
    EventLog before = log();
    before.append(die("a", 0));
    before.append(die("b", 0));
    long lastTime = before.append(die("c", 0)).timeNanos();
    before.close();
    clock.advance(Duration.ofSeconds(-5));  // and the clock went back meanwhile

    EventLog after = log();
    assertEquals(3, after.lastSequence());
    Event d = after.append(die("d", 0));
    assertEquals(4, d.sequence());
    assertTrue(d.timeNanos() > lastTime, "time goes on from the log's last");
    assertEquals(2, after.segmentFiles().size(), "a new segment, never an append to the old one");
    try (EventLog.Reader r = after.readSince(0)) {
      assertEquals(List.of("a", "b", "c", "d"), drain(r).stream().map(Event::actorName).toList());
    }
  }

  @Test
  void aTornLastLineIsSkippedAndItsNumberGivenAgain() throws Exception {
    EventLog before = log();
    before.append(die("a", 0));
    before.append(die("b", 0));
    before.close();
    Path segment = before.segmentFiles().get(0);
    // A crash in the middle of the third write.
    Files.write(segment, "{\"seq\":3,\"time\":17640".getBytes(StandardCharsets.UTF_8), StandardOpenOption.APPEND);
    // And a segment whose only line is torn: it tells nothing and goes.
    Path tornOnly = dir.resolve(String.format("%020d-%020d.events", 3, nanos(T0) + 5));
    Files.write(tornOnly, "{\"seq\":3,\"ti".getBytes(StandardCharsets.UTF_8));

    EventLog after = log();
    assertEquals(2, after.lastSequence());
    assertFalse(Files.exists(tornOnly));
    after.append(die("c", 0));
    try (EventLog.Reader r = after.readSince(0)) {
      List<Event> got = drain(r);
      assertEquals(List.of("a", "b", "c"), got.stream().map(Event::actorName).toList());
      assertEquals(List.of(1L, 2L, 3L), seqs(got));
    }
  }

  @Test
  void aGarbledLineInTheMiddleIsSkipped() throws Exception {
    EventLog before = log();
    before.append(die("a", 0));
    before.close();
    Files.write(before.segmentFiles().get(0), "not json\n\n{\"seq\":\"x\"}\n".getBytes(StandardCharsets.UTF_8),
        StandardOpenOption.APPEND);
    EventLog after = log();
    after.append(die("b", 0));
    try (EventLog.Reader r = after.readSince(0)) {
      assertEquals(List.of("a", "b"), drain(r).stream().map(Event::actorName).toList());
    }
  }

  @Test
  void sizeBoundDeletesTheOldestSegmentsAndReadersStartAtTheOldestKept() throws Exception {
    EventLog.Settings s = new EventLog.Settings(Duration.ofDays(1), EventLog.Settings.MIN_MAX_BYTES, 4096,
        Duration.ofDays(1));
    EventLog log = log(s);
    int n = 1000;  // some 150 bytes each: more than twice the bound
    for (int i = 1; i <= n; i++) {
      log.append(die("c" + i, i));
    }
    long bytes = 0;
    for (Path p : log.segmentFiles()) {
      bytes += Files.size(p);
      assertTrue(Files.size(p) <= 4096 + 300, p + " stays near the segment size");
    }
    assertTrue(bytes <= EventLog.Settings.MIN_MAX_BYTES, bytes + " bytes kept");
    assertTrue(bytes > EventLog.Settings.MIN_MAX_BYTES - 2 * 4096, "only what is over the bound goes: " + bytes);
    try (EventLog.Reader r = log.readSince(0)) {
      List<Event> kept = drain(r);
      assertEquals(n, kept.get(kept.size() - 1).sequence());
      assertTrue(kept.get(0).sequence() > 1, "the oldest are gone");
      for (int i = 1; i < kept.size(); i++) {
        assertEquals(kept.get(i - 1).sequence() + 1, kept.get(i).sequence(), "no gap in what is kept");
      }
    }
  }

  @Test
  void ageBoundDeletesSegmentsWhoseEventsAreAllTooOld() throws Exception {
    EventLog.Settings s = new EventLog.Settings(Duration.ofHours(1), EventLog.Settings.DEFAULT_MAX_BYTES, 1 << 20,
        Duration.ofMinutes(10));
    EventLog log = log(s);
    for (int i = 0; i < 12; i++) {  // one event every 10 minutes for two hours: a segment each
      log.append(die("m" + (i * 10), 0));
      clock.advance(Duration.ofMinutes(10));
    }
    log.append(die("m120", 0));
    try (EventLog.Reader r = log.readSince(0)) {
      List<String> names = drain(r).stream().map(Event::actorName).toList();
      // m50's segment ends where m60's begins, 60 minutes ago: within the hour, kept; m40's went.
      assertEquals(List.of("m50", "m60", "m70", "m80", "m90", "m100", "m110", "m120"), names);
    }
    assertEquals(8, log.segmentFiles().size());
  }

  @Test
  void aLogOpenedAfterLongSilenceDeletesWhatIsTooOld() throws Exception {
    EventLog.Settings s = EventLog.Settings.of(Duration.ofHours(1), EventLog.Settings.DEFAULT_MAX_BYTES);
    EventLog before = log(s);
    before.append(die("old", 0));
    before.close();
    Path segment = before.segmentFiles().get(0);
    Files.setLastModifiedTime(segment, FileTime.from(T0));
    clock.advance(Duration.ofHours(2));
    EventLog after = log(s);
    assertFalse(Files.exists(segment));
    try (EventLog.Reader r = after.readSince(0)) {
      assertEquals(List.of(), drain(r));
    }
    assertEquals(2, after.append(die("new", 0)).sequence(), "a number is never given twice");
  }

  @Test
  void aLiveReaderWaitsForTheNextEventAndItsWatermarkIsNeverPassedByOne() throws Exception {
    EventLog log = log();
    log.append(die("before", 0));
    try (EventLog.Reader r = log.readLive()) {
      EventLog.Batch idle = r.next(WAIT);
      assertEquals(List.of(), idle.events());
      CompletableFuture<EventLog.Batch> next = CompletableFuture.supplyAsync(() -> {
        try {
          return r.next(Duration.ofSeconds(10));
        } catch (InterruptedException e) {
          throw new IllegalStateException(e);
        }
      });
      Thread.sleep(100);
      assertFalse(next.isDone(), "it waits for an event");
      Event e = log.append(die("after", 0));  // the clock has not moved since the watermark
      EventLog.Batch b = next.get(5, TimeUnit.SECONDS);
      assertEquals(List.of(e), b.events());
      assertTrue(e.timeNanos() > idle.watermark(), "an event after a watermark is later than it");
    }
  }

  @Test
  void aReaderFromATimeGoesOnLiveWithoutGapOrRepeatAcrossSegments() throws Exception {
    EventLog.Settings s = new EventLog.Settings(Duration.ofDays(1), EventLog.Settings.DEFAULT_MAX_BYTES, 1024,
        Duration.ofDays(1));
    EventLog log = log(s);
    for (int i = 1; i <= 20; i++) {
      log.append(die("c" + i, 0));
    }
    try (EventLog.Reader r = log.readSince(0)) {
      List<Event> got = new ArrayList<>(drain(r));
      for (int i = 21; i <= 60; i++) {  // rolling over several segments while it reads
        log.append(die("c" + i, 0));
        if (i % 7 == 0) {
          got.addAll(r.next(WAIT).events());
        }
      }
      got.addAll(drain(r));
      assertEquals(java.util.stream.LongStream.rangeClosed(1, 60).boxed().toList(), seqs(got));
    }
    assertTrue(log.segmentFiles().size() > 5);
  }

  @Test
  void aReaderLeftBehindByTheSizeBoundGoesOnFromTheOldestKept() throws Exception {
    EventLog.Settings s = new EventLog.Settings(Duration.ofDays(1), EventLog.Settings.MIN_MAX_BYTES, 4096,
        Duration.ofDays(1));
    EventLog log = log(s);
    log.append(die("first", 0));
    try (EventLog.Reader r = log.readSince(0)) {
      for (int i = 0; i < 1000; i++) {
        log.append(die("c" + i, 0));
      }
      List<Event> got = drain(r);
      assertTrue(got.get(0).sequence() > 1);
      assertEquals(1001, got.get(got.size() - 1).sequence());
    }
  }

  @Test
  void aLongHistoryIsHandedOutInBoundedBatches() throws Exception {
    EventLog log = log();
    for (int i = 0; i < 1200; i++) {
      log.append(die("c" + i, 0));
    }
    try (EventLog.Reader r = log.readSince(0)) {
      EventLog.Batch b = r.next(WAIT);
      assertEquals(EventLog.MAX_BATCH, b.events().size());
      assertEquals(b.events().get(b.events().size() - 1).timeNanos(), b.watermark(), "complete up to the last handed out");
      assertEquals(1200 - EventLog.MAX_BATCH, drain(r).size());
    }
  }

  @Test
  void aClosedLogRecordsNothingAndEndsItsReaders() throws Exception {
    EventLog log = log();
    EventLog.Reader r = log.readLive();
    log.close();
    assertNull(log.append(die("late", 0)));
    assertTrue(r.next(Duration.ofSeconds(5)).closed());
    r.close();
  }

  @Test
  void boundsTooSmallAreRefused() {
    assertThrows(BerthException.class, () -> EventLog.Settings.of(Duration.ofHours(1), 1000));
    assertThrows(BerthException.class, () -> EventLog.Settings.of(Duration.ZERO, 64L << 20));
  }

  @Test
  void defaultsAreEightSegmentsOfADayAnd64MiB() {
    EventLog.Settings d = EventLog.Settings.DEFAULT;
    assertEquals(Duration.ofHours(24), d.maxAge());
    assertEquals(64L << 20, d.maxBytes());
    assertEquals(8L << 20, d.segmentBytes());
    assertEquals(Duration.ofHours(3), d.segmentAge());
  }

  @Test
  void linesAreJsonWithTheRecordedFields() throws IOException {
    EventLog log = log();
    log.append(Event.of(Event.IMAGE, "pull", "sha256:ab", "busybox:latest", "n1", Map.of()));
    String line = Files.readString(log.segmentFiles().get(0));
    assertEquals("{\"seq\":1,\"time\":" + nanos(T0) + ",\"type\":\"image\",\"action\":\"pull\",\"id\":\"sha256:ab\","
        + "\"name\":\"busybox:latest\",\"node\":\"n1\",\"source\":\"n1\",\"attrs\":{}}\n", line);
  }
}
