package dev.berth.agent.events;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.berth.agent.AtomicFiles;
import dev.berth.agent.BerthException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * This agent's events on its disk: append-only segment files of JSON lines under one directory,
 * bounded by age and size, read back from any time on and followed as they are written.
 *
 * <p>Each event is stamped as it is appended: the source (this agent's node name), the next
 * number of the sequence, and the time, which grows strictly, even when the wall clock steps
 * back (then it is the last time plus a nanosecond). A sequence and the times go on after a
 * restart from what the last segment holds.
 *
 * <p>On disk: {@code <first sequence>-<first time>.events}, one event per line. A segment is
 * never appended to after the log that wrote it closed or crashed: each start begins a new one
 * at its first event, so a torn last line (a crash in the middle of a write) stays torn and
 * readers skip it, as they skip any line that does not parse. A segment is closed (and forced to
 * disk) once it holds {@link Settings#segmentBytes} or its first event is {@link
 * Settings#segmentAge} old; then the oldest segments go while the log is bigger than {@link
 * Settings#maxBytes}, or while every event of theirs is older than {@link Settings#maxAge}.
 * Events are written, not forced, one by one: they survive a crash of the agent, and on a crash
 * of the host those since the last segment closed may be lost.
 *
 * <p>Threading: thread-safe. {@link #record} writes on the caller's thread under the log's lock
 * (a write of a few hundred bytes, rarely a segment closed and one deleted); {@link Reader}s
 * read the files without it.
 */
public final class EventLog implements EventSink, AutoCloseable {
  private static final Logger LOG = Logger.getLogger(EventLog.class.getName());
  private static final Pattern NAME = Pattern.compile("(\\d{20})-(\\d{20})\\.events");
  private static final ObjectMapper JSON = new ObjectMapper();
  /** A line longer than this is no event of ours: skipped as damaged. */
  private static final int MAX_LINE = 1 << 20;
  /** Events a reader hands out at once, so that a long history is read in bounded steps. */
  static final int MAX_BATCH = 512;

  /**
   * The log's bounds.
   *
   * @param maxAge events older than this go (a segment at a time)
   * @param maxBytes the segments together stay within this (the oldest go first)
   * @param segmentBytes a segment is closed once it holds this much
   * @param segmentAge a segment is closed once its first event is this old, so that old events
   *     can go a segment at a time
   */
  public record Settings(Duration maxAge, long maxBytes, long segmentBytes, Duration segmentAge) {
    /** A day: what `berth events --since` is asked for in practice ("what happened last night"). */
    public static final Duration DEFAULT_MAX_AGE = Duration.ofHours(24);
    /** 64 MiB: some 200,000 events, a busy day of a host, and nothing next to its images. */
    public static final long DEFAULT_MAX_BYTES = 64L << 20;
    /** Smaller bounds than this make little sense, and segments of a few lines. */
    public static final long MIN_MAX_BYTES = 64L << 10;
    public static final Settings DEFAULT = of(DEFAULT_MAX_AGE, DEFAULT_MAX_BYTES);

    public Settings {
      if (maxAge.isNegative() || maxAge.isZero()) {
        throw BerthException.invalid("the events' max age must be positive: " + maxAge);
      }
      if (maxBytes < MIN_MAX_BYTES) {
        throw BerthException.invalid("the events' max size must be at least " + MIN_MAX_BYTES + " bytes: " + maxBytes);
      }
      if (segmentBytes <= 0 || segmentAge.isNegative() || segmentAge.isZero()) {
        throw new IllegalArgumentException("segments must have a positive size and age");
      }
    }

    /**
     * Eight segments to a log, each at most 8 MiB: the log keeps within an eighth of its bounds
     * (a segment goes as a whole), and one segment is read quickly when a reader starts in it.
     */
    public static Settings of(Duration maxAge, long maxBytes) {
      long segment = Math.max(4L << 10, Math.min(maxBytes / 8, 8L << 20));
      return new Settings(maxAge, maxBytes, segment, maxAge.dividedBy(8).isZero() ? maxAge : maxAge.dividedBy(8));
    }
  }

  /** One segment file. {@code size} is what this log knows of it (guarded by the log). */
  private static final class Segment {
    final Path path;
    final long firstSeq;
    final long firstTime;
    long size;

    Segment(Path path, long firstSeq, long firstTime, long size) {
      this.path = path;
      this.firstSeq = firstSeq;
      this.firstTime = firstTime;
      this.size = size;
    }
  }

  /**
   * What a reader got.
   *
   * @param events in sequence order
   * @param watermark every event of this log up to this time has been handed out (or was before
   *     the reader's start): a later event will have a later time
   * @param closed the log was closed: nothing more will come
   */
  public record Batch(List<Event> events, long watermark, boolean closed) {}

  private final Path dir;
  private final String source;
  private final Settings settings;
  private final Clock clock;
  /** Oldest first; the last is the one written to when {@link #active} is set. Guarded by this. */
  private final List<Segment> segments = new ArrayList<>();
  private FileChannel active;
  private long lastSeq;
  /** The latest time stamped or promised by a watermark: the next event is later. */
  private long floor;
  private boolean closed;
  private boolean failing;

  /**
   * Opens the log in {@code dir} (created when missing): finds the sequence and time where it
   * left off and deletes what is out of bounds.
   *
   * @param source this agent's node name, stamped on each event
   * @throws UncheckedIOException when the directory cannot be read
   */
  public EventLog(Path dir, String source, Settings settings, Clock clock) {
    this.dir = dir;
    this.source = source;
    this.settings = settings;
    this.clock = clock;
    try {
      Files.createDirectories(dir);
      List<Segment> found = new ArrayList<>();
      try (DirectoryStream<Path> s = Files.newDirectoryStream(dir, "*.events")) {
        for (Path p : s) {
          Matcher m = NAME.matcher(p.getFileName().toString());
          if (m.matches()) {
            found.add(new Segment(p, Long.parseLong(m.group(1)), Long.parseLong(m.group(2)), Files.size(p)));
          }
        }
      }
      found.sort(Comparator.comparingLong((Segment x) -> x.firstSeq).thenComparingLong(x -> x.firstTime));
      // The last segment tells where the sequence and the time are; one with no whole event
      // (a crash during its first write) tells nothing and goes, so that no two share a first sequence.
      while (!found.isEmpty()) {
        Segment last = found.get(found.size() - 1);
        long[] end = lastEvent(last.path);
        if (end != null) {
          lastSeq = end[0];
          floor = end[1];
          break;
        }
        Files.deleteIfExists(last.path);
        found.remove(found.size() - 1);
      }
      segments.addAll(found);
      long now = now();
      // Age by the next segment's first event; for the last, by when it was last written.
      while (!segments.isEmpty()) {
        Segment oldest = segments.get(0);
        long newest = segments.size() > 1 ? segments.get(1).firstTime
            : Files.getLastModifiedTime(oldest.path).toInstant().getEpochSecond() * 1_000_000_000L;
        if (newest >= now - settings.maxAge().toNanos()) {
          break;
        }
        delete(segments.remove(0));
      }
      trim(now);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open the event log in " + dir + ": " + e.getMessage(), e);
    }
  }

  /** The sequence number and time of the last whole event in {@code p}; null when it has none. */
  private static long[] lastEvent(Path p) throws IOException {
    byte[] all = Files.readAllBytes(p);
    long[] last = null;
    int start = 0;
    for (int i = 0; i < all.length; i++) {
      if (all[i] == '\n') {
        Event e = decode(all, start, i - start);
        if (e != null && (last == null || e.sequence() > last[0])) {
          last = new long[] {e.sequence(), Math.max(e.timeNanos(), last == null ? 0 : last[1])};
        }
        start = i + 1;
      }
    }
    return last;
  }

  private long now() {
    Instant i = clock.instant();
    return i.getEpochSecond() * 1_000_000_000L + i.getNano();
  }

  /** Stamps and writes {@code e}; a failure to write is logged, and the event is lost. */
  @Override
  public void record(Event e) {
    try {
      append(e);
    } catch (RuntimeException ex) {
      LOG.log(Level.WARNING, "cannot record the event " + e, ex);  // a sink never throws at its caller
    }
  }

  /**
   * Stamps and writes {@code e} (made with {@link Event#of}) and wakes the readers.
   *
   * @return the event as recorded; null when it could not be written (logged) or the log is closed
   */
  public synchronized Event append(Event e) {
    if (closed) {
      return null;
    }
    long time = Math.max(now(), floor + 1);
    Event r = e.recorded(time, source, lastSeq + 1);
    byte[] line = encode(r);
    try {
      Segment current = active != null ? segments.get(segments.size() - 1) : null;
      if (current != null && (current.size + line.length > settings.segmentBytes() && current.size > 0
          || time - current.firstTime >= settings.segmentAge().toNanos())) {
        closeActive();
        current = null;
      }
      if (current == null) {
        current = new Segment(dir.resolve(String.format("%020d-%020d.events", r.sequence(), time)), r.sequence(), time, 0);
        active = FileChannel.open(current.path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        segments.add(current);
        AtomicFiles.syncDirectory(dir);
      }
      ByteBuffer b = ByteBuffer.wrap(line);
      while (b.hasRemaining()) {
        active.write(b);
      }
      current.size += line.length;
      lastSeq = r.sequence();
      floor = time;
      failing = false;
      trim(time);
    } catch (IOException | UncheckedIOException ex) {
      // A half-written line stays torn: the next event starts a new segment.
      if (!failing) {
        LOG.log(Level.WARNING, "cannot write to the event log in " + dir + "; events are lost until it works again", ex);
      }
      failing = true;
      try {
        closeActive();
      } catch (IOException ignored) {
        // the next append starts a new segment either way
      }
      Segment last = segments.isEmpty() ? null : segments.get(segments.size() - 1);
      if (last != null && last.size == 0) {
        // Created for this event and holding nothing: the next starts one of the same number.
        segments.remove(segments.size() - 1);
        delete(last);
      }
      return null;
    } finally {
      notifyAll();
    }
    return r;
  }

  /** Closes the segment written to, forcing it to disk. Caller holds the lock. */
  private void closeActive() throws IOException {
    if (active != null) {
      try {
        active.force(true);
      } finally {
        active.close();
        active = null;
      }
    }
  }

  /** Deletes the oldest segments while the log is too big, or while all of a segment's events are too old. */
  private void trim(long now) {
    long total = 0;
    for (Segment s : segments) {
      total += s.size;
    }
    while (segments.size() > 1) {
      Segment oldest = segments.get(0);
      boolean tooOld = segments.get(1).firstTime < now - settings.maxAge().toNanos();
      if (!tooOld && total <= settings.maxBytes()) {
        break;
      }
      total -= oldest.size;
      delete(segments.remove(0));
    }
  }

  private static void delete(Segment s) {
    try {
      Files.deleteIfExists(s.path);
    } catch (IOException e) {
      LOG.log(Level.WARNING, "cannot delete the old event segment " + s.path, e);
    }
  }

  /**
   * A watermark: every event up to the returned time is written, and the next will be later.
   * Caller holds the lock.
   */
  private long mark() {
    floor = Math.max(floor, now());
    return floor;
  }

  /** The segment files, oldest first: for tests and {@code system df}. */
  public synchronized List<Path> segmentFiles() {
    return segments.stream().map(s -> s.path).toList();
  }

  /** The last sequence number written. */
  public synchronized long lastSequence() {
    return lastSeq;
  }

  public String source() {
    return source;
  }

  /** A reader of every event kept from {@code sinceNanos} on (0: from the oldest kept), then of those to come. */
  public synchronized Reader readSince(long sinceNanos) {
    long after = 0;
    for (Segment s : segments) {
      if (s.firstTime <= sinceNanos) {
        after = s.firstSeq - 1;
      }
    }
    if (!segments.isEmpty() && after == 0) {
      after = segments.get(0).firstSeq - 1;
    }
    return new Reader(after, sinceNanos);
  }

  /** A reader of the events to come only. */
  public synchronized Reader readLive() {
    Reader r = new Reader(lastSeq, Long.MIN_VALUE);
    if (active != null) {
      // At the end of the segment written to, rather than reading it through to get there.
      Segment s = segments.get(segments.size() - 1);
      r.startAt(new SegmentRef(s.path, s.firstSeq), s.size);
    }
    return r;
  }

  /** Stops recording (later events are dropped) and wakes the readers, which end. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      closeActive();
    } catch (IOException e) {
      LOG.log(Level.WARNING, "closing the event log in " + dir, e);
    }
    notifyAll();
  }

  private synchronized Snapshot snapshot() {
    return new Snapshot(lastSeq, segments.stream().map(s -> new SegmentRef(s.path, s.firstSeq)).toList(), closed);
  }

  private record SegmentRef(Path path, long firstSeq) {}

  private record Snapshot(long lastSeq, List<SegmentRef> segments, boolean closed) {}

  /**
   * Follows the log from a point: hands out, in sequence order, each event after it, first those
   * on disk, then each as it is written. One thread at a time; close it when done.
   */
  public final class Reader implements AutoCloseable {
    private final long since;
    /** Every event up to this sequence number has been handed out or skipped. */
    private long done;
    /** The time of the last event read: the watermark while the reader is behind. */
    private long lastTime;
    private SegmentRef segment;
    private FileChannel channel;
    private long position;
    private byte[] buf = new byte[64 << 10];

    private Reader(long after, long since) {
      this.done = after;
      this.since = since;
      this.lastTime = since == Long.MIN_VALUE ? floor : Math.max(0, since - 1);
    }

    /**
     * The next events, waiting up to {@code wait} when there are none yet. An empty batch with a
     * watermark says how far the log is known to be complete.
     */
    public Batch next(Duration wait) throws InterruptedException {
      Snapshot s = snapshot();
      if (done >= s.lastSeq()) {
        synchronized (EventLog.this) {
          long deadline = System.nanoTime() + wait.toNanos();
          while (lastSeq <= done && !closed) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
              break;
            }
            EventLog.this.wait(Math.max(1, left / 1_000_000));
          }
          if (lastSeq <= done) {
            return new Batch(List.of(), closed ? lastTime : (lastTime = mark()), closed);
          }
        }
        s = snapshot();
      }
      List<Event> out = new ArrayList<>();
      try {
        read(s, out);
      } catch (IOException e) {
        LOG.log(Level.WARNING, "reading the event log in " + dir, e);
        closeChannel();
        segment = null;
      }
      return new Batch(out, lastTime, false);
    }

    private void read(Snapshot s, List<Event> out) throws IOException {
      int seen = 0;
      while (done < s.lastSeq() && seen < MAX_BATCH) {
        if (segment == null || !holdsNext(s)) {
          if (!locate(s)) {
            done = s.lastSeq();  // nothing left on disk of what is missing
            return;
          }
        }
        int n = channel == null ? -1 : channel.read(ByteBuffer.wrap(buf), position);
        if (n <= 0) {
          // The end of this segment: what is missing is in a later one.
          int i = indexOf(s, segment);
          if (i < 0 || i + 1 >= s.segments().size()) {
            done = s.lastSeq();  // a line lost to damage: nothing more to find
            return;
          }
          open(s.segments().get(i + 1));
          continue;
        }
        int start = 0;
        boolean stop = false;
        for (int i = 0; i < n && !stop && seen < MAX_BATCH; i++) {
          if (buf[i] != '\n') {
            continue;
          }
          Event e = decode(buf, start, i - start);
          if (e != null && e.sequence() > s.lastSeq()) {
            stop = true;  // written after the snapshot: the next call
            break;
          }
          position += i + 1 - start;
          start = i + 1;
          if (e == null || e.sequence() <= done) {
            continue;  // damaged, or read before
          }
          seen++;
          done = e.sequence();
          lastTime = Math.max(lastTime, e.timeNanos());
          if (e.timeNanos() >= since) {
            out.add(e);
          }
        }
        if (stop) {
          return;
        }
        if (start == 0 && n == buf.length) {
          if (buf.length >= MAX_LINE) {
            position += n;  // no event is this long: skip the damage
          } else {
            buf = Arrays.copyOf(buf, buf.length * 2);
          }
        } else if (start == 0) {
          // Only part of a line: a torn tail, or a line being written after the snapshot.
          int i = indexOf(s, segment);
          if (i < 0 || i + 1 >= s.segments().size()) {
            done = Math.max(done, s.lastSeq());
            return;
          }
          open(s.segments().get(i + 1));
        }
      }
    }

    /** Whether the segment read now may hold the next event: the next segment starts later. */
    private boolean holdsNext(Snapshot s) {
      int i = indexOf(s, segment);
      return i >= 0 && (i + 1 >= s.segments().size() || s.segments().get(i + 1).firstSeq() > done + 1);
    }

    /** Opens the segment that holds the next event; false when the log holds none of those still to read. */
    private boolean locate(Snapshot s) throws IOException {
      SegmentRef at = null;
      for (SegmentRef r : s.segments()) {
        if (r.firstSeq() <= done + 1) {
          at = r;
        }
      }
      if (at == null) {
        if (s.segments().isEmpty()) {
          return false;
        }
        at = s.segments().get(0);  // what was to be read next is gone (trimmed): go on from the oldest kept
        done = at.firstSeq() - 1;
      }
      if (segment == null || !segment.path().equals(at.path())) {
        open(at);
      }
      return true;
    }

    private void startAt(SegmentRef r, long at) {
      try {
        open(r);
        position = at;
      } catch (IOException e) {
        closeChannel();
        segment = null;  // found again on the first read
      }
    }

    private void open(SegmentRef r) throws IOException {
      closeChannel();
      segment = r;
      position = 0;
      try {
        channel = FileChannel.open(r.path(), StandardOpenOption.READ);
      } catch (NoSuchFileException e) {
        channel = null;  // trimmed meanwhile: read as empty, so the reader moves on to the next
      }
    }

    private int indexOf(Snapshot s, SegmentRef r) {
      if (r == null) {
        return -1;
      }
      for (int i = 0; i < s.segments().size(); i++) {
        if (s.segments().get(i).path().equals(r.path())) {
          return i;
        }
      }
      return -1;
    }

    private void closeChannel() {
      if (channel != null) {
        try {
          channel.close();
        } catch (IOException ignored) {
          // read-only
        }
        channel = null;
      }
    }

    @Override
    public void close() {
      closeChannel();
    }
  }

  // ---------------------------------------------------------------- lines

  static byte[] encode(Event e) {
    ObjectNode o = JSON.createObjectNode();
    o.put("seq", e.sequence());
    o.put("time", e.timeNanos());
    o.put("type", e.type());
    o.put("action", e.action());
    o.put("id", e.actorId());
    o.put("name", e.actorName());
    o.put("node", e.node());
    o.put("source", e.source());
    ObjectNode attrs = o.putObject("attrs");
    e.attributes().forEach(attrs::put);
    try {
      byte[] json = JSON.writeValueAsBytes(o);
      byte[] line = Arrays.copyOf(json, json.length + 1);
      line[json.length] = '\n';
      return line;
    } catch (IOException ex) {
      throw new UncheckedIOException(ex);
    }
  }

  /** The event of one line, or null when the line is damaged (torn, garbled). */
  static Event decode(byte[] b, int off, int len) {
    if (len <= 2 || b[off] != '{') {
      return null;
    }
    try {
      JsonNode o = JSON.readTree(b, off, len);
      if (o == null || !o.isObject() || !o.path("seq").canConvertToLong() || !o.path("time").canConvertToLong()
          || o.path("seq").asLong() <= 0) {
        return null;
      }
      Map<String, String> attrs = new LinkedHashMap<>();
      o.path("attrs").fields().forEachRemaining(f -> attrs.put(f.getKey(), f.getValue().asText()));
      return new Event(o.path("time").asLong(), o.path("type").asText(), o.path("action").asText(),
          o.path("id").asText(), o.path("name").asText(), o.path("node").asText(), attrs, o.path("source").asText(),
          o.path("seq").asLong());
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }
}
