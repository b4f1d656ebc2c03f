package dev.berth.agent.image;

import dev.berth.agent.DaemonThreads;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Early writeback of a large file being written: every {@value #STEP} bytes, its dirty pages
 * are forced to disk on a background thread ({@link FileChannel#force force(false)}, i.e.
 * fdatasync), so that the disk works while the download goes on and the fsync that makes the
 * file durable at its end finds little left to write. Without it the kernel starts writing a
 * few hundred MB of fresh data only at that fsync (or after 30 s), and the pull waits for
 * all of it at its end.
 *
 * <p>Only a hint: durability is still the writer's own {@code force(true)} (or {@link
 * FileTrees#syncTree}) before the file gets a final name. A failed hint is ignored; its error,
 * if real, shows in that final fsync.
 *
 * <p>One instance per file, used by the one thread that writes it. The forces run on shared
 * daemon threads (at most {@value #THREADS}; one force at a time per file: a step that comes
 * while one runs waits for the next).
 */
final class Writeback {
  /**
   * Bytes written between two forces. Large enough that a force is a few ms of disk work, and
   * a 20 MB layer gets two or three of them; small enough that the final fsync waits for little.
   */
  static final long STEP = 8L << 20;
  /** Forces in flight at most, for all files: one per layer downloading or unpacking, about. */
  static final int THREADS = 4;
  private static final Logger LOG = Logger.getLogger(Writeback.class.getName());
  private static final ThreadPoolExecutor FORCERS;

  static {
    FORCERS = new ThreadPoolExecutor(THREADS, THREADS, 10, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), DaemonThreads.numbered("berth-writeback-"));
    FORCERS.allowCoreThreadTimeOut(true);
  }

  private final FileChannel channel;
  private long pending;
  private CompletableFuture<Void> inFlight;

  /**
   * @param channel the file, open for writing; its owner closes it after {@link #await}, or
   *     through {@link #closeLater}
   */
  Writeback(FileChannel channel) {
    this.channel = channel;
  }

  /** {@code n} more bytes were written: starts a force when a step is complete and none runs. */
  void wrote(long n) {
    pending += n;
    if (pending >= STEP && (inFlight == null || inFlight.isDone())) {
      pending = 0;
      inFlight = CompletableFuture.runAsync(this::force, FORCERS);
    }
  }

  /** Forgets what was written (the file was truncated). */
  void reset() {
    pending = 0;
  }

  /**
   * Waits for a force in flight, so that the file may be closed without that close waiting in
   * the kernel (NIO waits for operations in flight) or the force failing.
   */
  void await() {
    CompletableFuture<Void> f = inFlight;
    if (f == null) {
      return;
    }
    boolean interrupted = false;
    while (true) {
      try {
        f.get();
        break;
      } catch (InterruptedException e) {
        interrupted = true;
      } catch (ExecutionException | java.util.concurrent.CancellationException e) {
        break; // a hint; force() logs
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Closes the channel once no force runs: now, or on the thread of the force in flight, so
   * that the writer need not wait for it.
   */
  void closeLater() throws IOException {
    CompletableFuture<Void> f = inFlight;
    if (f == null || f.isDone()) {
      channel.close();
      return;
    }
    f.whenComplete((v, e) -> {
      try {
        channel.close();
      } catch (IOException x) {
        LOG.log(Level.FINE, "cannot close a file after its early writeback", x);
      }
    });
  }

  private void force() {
    try {
      channel.force(false);
    } catch (IOException | RuntimeException e) {
      LOG.log(Level.FINE, "early writeback failed (the final fsync reports a real problem)", e);
    }
  }
}
