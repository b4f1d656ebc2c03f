package dev.berth.agent.events;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.function.LongSupplier;

/**
 * Merges several sources' events into one stream ordered by time, then source, then sequence.
 * Each source hands its events in its own order (time grows strictly within a source) and says
 * how far it is complete with a watermark: an event is let out once every source still waited
 * for has passed its time.
 *
 * <p>A source that has said nothing (no event, no watermark) for {@code stallAfter} is not waited
 * for until it speaks again, so one slow or cut-off node cannot hold up the stream; what it sends
 * later may then come out of order. A closed source is never waited for; what it sent still comes
 * out in order.
 *
 * <p>Bounded: {@link #offer} waits while a source has {@code perSource} events held, which is
 * what paces a source that reads a long history ahead of the others.
 *
 * <p>Thread-safe: sources offer from their own threads, one thread drains. Time for the stall
 * rule comes from {@code nanoTime}, so that tests can drive it.
 */
public final class EventMerge {
  private static final Comparator<Held> ORDER = Comparator.comparing(Held::event, Comparator.comparingLong(Event::timeNanos)
      .thenComparing(Event::source).thenComparingLong(Event::sequence));

  /** An event and the source it came through (which may have recorded it under another name). */
  private record Held(String source, Event event) {}

  private static final class Source {
    /** Its events in {@link #pending}. */
    int held;
    /** Every event up to this time has been offered; Long.MIN_VALUE until the first word. */
    long watermark = Long.MIN_VALUE;
    long heardAt;
    boolean closed;
  }

  private final LongSupplier nanoTime;
  private final long stallAfter;
  private final int perSource;
  private final Map<String, Source> sources = new LinkedHashMap<>();
  private final PriorityQueue<Held> pending = new PriorityQueue<>(ORDER);

  public EventMerge(LongSupplier nanoTime, Duration stallAfter, int perSource) {
    this.nanoTime = nanoTime;
    this.stallAfter = stallAfter.toNanos();
    this.perSource = perSource;
  }

  /** A source to wait for, from now on. */
  public synchronized void open(String source) {
    Source s = new Source();
    s.heardAt = nanoTime.getAsLong();
    sources.put(source, s);
  }

  /** The next event of {@code source}; waits while the source holds its share of the buffer. */
  public synchronized void offer(String source, Event e) throws InterruptedException {
    Source s = sources.get(source);
    while (s.held >= perSource && !s.closed) {
      wait(100);
    }
    s.held++;
    pending.add(new Held(source, e));
    s.watermark = Math.max(s.watermark, e.timeNanos());
    s.heardAt = nanoTime.getAsLong();
    notifyAll();
  }

  /** {@code source} has offered every event up to {@code watermark}. */
  public synchronized void progress(String source, long watermark) {
    Source s = sources.get(source);
    s.watermark = Math.max(s.watermark, watermark);
    s.heardAt = nanoTime.getAsLong();
    notifyAll();
  }

  /** {@code source} sends nothing more (ended, failed, cancelled). */
  public synchronized void close(String source) {
    sources.get(source).closed = true;
    notifyAll();
  }

  /**
   * What can go out now.
   *
   * @param events in order
   * @param watermark how far the merged stream is complete once these are out: the least
   *     watermark of the sources waited for; Long.MIN_VALUE while one has said nothing, and
   *     Long.MAX_VALUE when none is waited for
   */
  public record Drained(List<Event> events, long watermark) {}

  /** The events that can go out now, and the watermark they complete, taken together. */
  public synchronized Drained drain() {
    long now = nanoTime.getAsLong();
    long bound = Long.MAX_VALUE;
    for (Source s : sources.values()) {
      if (!s.closed && now - s.heardAt < stallAfter) {
        bound = Math.min(bound, s.watermark);
      }
    }
    List<Event> out = new ArrayList<>();
    while (!pending.isEmpty() && pending.peek().event().timeNanos() <= bound) {
      Held h = pending.poll();
      sources.get(h.source()).held--;
      out.add(h.event());
    }
    if (!out.isEmpty()) {
      notifyAll();
    }
    return new Drained(out, bound);
  }

  /** Whether {@code source} is open but has said nothing for the stall time. */
  public synchronized boolean stalled(String source) {
    Source s = sources.get(source);
    return s != null && !s.closed && nanoTime.getAsLong() - s.heardAt >= stallAfter;
  }

  /** Every source closed and every event out. */
  public synchronized boolean done() {
    return pending.isEmpty() && sources.values().stream().allMatch(s -> s.closed);
  }

  /** Waits until something changes or {@code timeout} passes. */
  public synchronized void await(Duration timeout) throws InterruptedException {
    wait(Math.max(1, timeout.toMillis()));
  }
}
