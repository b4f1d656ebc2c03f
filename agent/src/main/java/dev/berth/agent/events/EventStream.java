package dev.berth.agent.events;

import dev.berth.agent.DaemonThreads;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.LongSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * One {@code berth events} call: reads its sources on threads of their own, merges them
 * ({@link EventMerge}) and hands the result to the caller's output, on the caller's thread, until
 * every source has ended (all passed {@code until}) or the caller cancels.
 *
 * <p>A source that fails is reported once, as a {@link Event#WARNING} event, and the stream goes
 * on without it.
 */
public final class EventStream {
  private static final Logger LOG = Logger.getLogger(EventStream.class.getName());
  /**
   * How often a source says how far it is, at the least, when nothing happens: a merging agent
   * lets an event out only once every source has passed its time, so this is the stream's latency.
   */
  public static final Duration HEARTBEAT = Duration.ofMillis(250);
  /** A source silent this long (eight heartbeats missed) is not waited for until it speaks again. */
  public static final Duration STALL_AFTER = Duration.ofSeconds(2);
  /** Events held per source while others catch up: enough for a burst, little memory. */
  static final int PER_SOURCE = 1024;

  /**
   * What to read: from when, until when, which.
   *
   * @param live from now on (then {@code sinceNanos} is ignored)
   * @param sinceNanos from this time on (0: the oldest event kept)
   * @param untilNanos up to this time, then end; 0: follow
   */
  public record Window(boolean live, long sinceNanos, long untilNanos, EventFilter filter) {
    public boolean follows() {
      return untilNanos == 0;
    }
  }

  /** Where events come from: this agent's log, or another agent's stream. */
  public interface Source {
    /** The node it reads. */
    String name();

    /**
     * Feeds the source's events of the window, in its order, and its watermarks, until it has
     * passed the window's end; returns then. Throws when it fails; ends early when cancelled.
     */
    void run(Feed feed) throws Exception;

    /** Makes {@link #run} end soon; from any thread. */
    void cancel();
  }

  /** What a source feeds. */
  public interface Feed {
    void event(Event e) throws InterruptedException;

    void progress(long watermark);
  }

  /** Where the merged stream goes. Called on the thread of {@link #run}. */
  public interface Output {
    /** An event or a warning. */
    void send(Event e);

    /** Every event up to {@code watermark} has been sent. */
    void progress(long watermark);

    boolean cancelled();
  }

  private final ExecutorService threads;
  private final LongSupplier nanoTime;
  private final Duration stallAfter;
  private final String self;
  private final Clock clock;

  /**
   * @param threads where the sources are read, a thread each while the stream runs
   * @param nanoTime for the stall rule ({@link System#nanoTime} but in tests)
   * @param self this agent's node, the source of its warnings
   * @param clock the time of the warnings
   */
  public EventStream(ExecutorService threads, LongSupplier nanoTime, Duration stallAfter, String self, Clock clock) {
    this.threads = threads;
    this.nanoTime = nanoTime;
    this.stallAfter = stallAfter;
    this.self = self;
    this.clock = clock;
  }

  /**
   * Streams {@code sources} to {@code out}, after {@code warnings} (nodes left out from the
   * start). Returns when every source has ended, or {@code out} is cancelled (then the sources
   * are cancelled).
   */
  public void run(List<Source> sources, List<Event> warnings, Output out) throws InterruptedException {
    EventMerge merge = new EventMerge(nanoTime, stallAfter, PER_SOURCE);
    Queue<Event> failures = new ConcurrentLinkedQueue<>();
    List<Future<?>> running = new ArrayList<>();
    for (Source s : sources) {
      merge.open(s.name());
    }
    try {
      for (Source s : sources) {
        running.add(threads.submit(() -> read(s, merge, failures)));
      }
    } catch (RejectedExecutionException e) {
      throw new IllegalStateException("the agent is shutting down", e);
    }
    try {
      warnings.forEach(out::send);
      long marked = Long.MIN_VALUE;
      long markedAt = 0;
      while (!out.cancelled()) {
        for (Event w; (w = failures.poll()) != null; ) {
          out.send(w);
        }
        EventMerge.Drained d = merge.drain();
        for (Event e : d.events()) {
          out.send(e);
        }
        if (merge.done()) {
          for (Event w; (w = failures.poll()) != null; ) {
            out.send(w);
          }
          return;
        }
        // The drain's own bound: a later one could pass an event offered meanwhile, not yet sent.
        long mark = d.watermark();
        long now = nanoTime.getAsLong();
        if (mark > marked && mark != Long.MAX_VALUE && now - markedAt >= HEARTBEAT.toNanos() / 2) {
          out.progress(mark);
          marked = mark;
          markedAt = now;
        }
        merge.await(HEARTBEAT.dividedBy(5));
      }
    } finally {
      for (Source s : sources) {
        s.cancel();
      }
      running.forEach(f -> f.cancel(true));
    }
  }

  /** The agent's: sources read on daemon threads, stalls told by {@link System#nanoTime}, warnings stamped by the wall clock. */
  public static EventStream forAgent(String self) {
    return new EventStream(Executors.newCachedThreadPool(DaemonThreads.numbered("berth-events-")), System::nanoTime,
        STALL_AFTER, self, Clock.systemUTC());
  }

  private void read(Source s, EventMerge merge, Queue<Event> failures) {
    try {
      s.run(new Feed() {
        @Override
        public void event(Event e) throws InterruptedException {
          merge.offer(s.name(), e);
        }

        @Override
        public void progress(long watermark) {
          merge.progress(s.name(), watermark);
        }
      });
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      LOG.log(Level.FINE, "events of node " + s.name(), e);
      failures.add(warning(s.name(), e.getMessage() + ": its events are left out"));
    } finally {
      merge.close(s.name());
    }
  }

  /** This agent's own events, from its log. */
  public static Source local(EventLog log, Window w) {
    return new Source() {
      private volatile boolean cancelled;

      @Override
      public String name() {
        return log.source();
      }

      @Override
      public void run(Feed feed) throws InterruptedException {
        try (EventLog.Reader r = w.live() ? log.readLive() : log.readSince(w.sinceNanos())) {
          while (!cancelled) {
            EventLog.Batch b = r.next(HEARTBEAT);
            for (Event e : b.events()) {
              if (!w.follows() && e.timeNanos() > w.untilNanos()) {
                return;
              }
              if (w.filter().test(e)) {
                feed.event(e);
              }
            }
            feed.progress(w.follows() ? b.watermark() : Math.min(b.watermark(), w.untilNanos()));
            if (b.closed() || !w.follows() && b.watermark() >= w.untilNanos()) {
              return;
            }
          }
        }
      }

      @Override
      public void cancel() {
        cancelled = true;
      }
    };
  }

  /** A warning that {@code node}'s events are left out, and why; from this agent, stamped now. */
  public Event warning(String node, String message) {
    Instant now = clock.instant();
    return new Event(now.getEpochSecond() * 1_000_000_000L + now.getNano(), Event.WARNING, "skipped", node, node, node,
        Map.of("message", message), self, 0);
  }
}
