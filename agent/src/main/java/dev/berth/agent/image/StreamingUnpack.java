package dev.berth.agent.image;

import dev.berth.agent.BerthException;
import java.io.BufferedInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One layer blob unpacked while it downloads. The bytes {@link #write written} to it (the blob
 * as it arrives, compressed) go through a bounded buffer ({@value #CAPACITY} bytes) to a thread
 * of its own, which tells the compression ({@link Compression}: gzip, zstd or none), decompresses,
 * hashes the uncompressed stream, unpacks it ({@link LayerUnpacker}) into a new temporary
 * snapshot of the store, checks the hash against the diff id and forces the snapshot to disk.
 *
 * <p>Nothing here checks the blob's own digest: the caller does that, and only {@link #adopt
 * adopts} the snapshot (moves it into place) when both the blob's digest and the diff id
 * match. The unpacked bytes are exactly the bytes written, so a snapshot always corresponds
 * to the blob that was hashed.
 *
 * <p>The writer blocks only while the buffer is full (the unpack catching up), and never fails
 * because of the unpack: once the unpack has failed or ended, what is written is dropped, and
 * {@link #await} gives the failure, so that the caller can check the blob's digest first (a
 * tampered blob is reported as such, not as a broken tar).
 *
 * <p>One thread uses an instance (write, finish, await, adopt, close); the unpack thread is
 * its own. {@link #close} always: it stops an unpack still running, waits for its thread, and
 * deletes the temporary snapshot unless it was adopted.
 */
final class StreamingUnpack implements AutoCloseable {
  /** Bytes buffered between the download and the unpack at most. */
  static final int CAPACITY = 1 << 20;
  private static final AtomicInteger THREADS = new AtomicInteger();

  /**
   * A finished unpack whose diff id matched.
   *
   * @param snapshot the temporary snapshot, on disk
   */
  record Result(Path snapshot, String diffId, LayerUnpacker.Stats stats) {}

  private final Pipe pipe = new Pipe();
  private final Path tmp;
  private final Ingest.LayerSpec spec;
  private final ImageStore.Claim claim;
  private final LayerUnpacker unpacker;
  private final Thread thread;
  private volatile Result result;
  private volatile Throwable failure;
  private boolean adopted;
  private boolean closed;

  private StreamingUnpack(Path tmp, Ingest.LayerSpec spec, ImageStore.Claim claim, LayerUnpacker unpacker) {
    this.tmp = tmp;
    this.spec = spec;
    this.claim = claim;
    this.unpacker = unpacker;
    this.thread = new Thread(this::run, "berth-unpack-" + THREADS.incrementAndGet());
    thread.setDaemon(true);
  }

  /**
   * Creates a temporary snapshot in {@code store} and starts unpacking into it what will be
   * written.
   *
   * @param claim stops the unpack (a {@link CancellationException}) when nobody wants the layer
   */
  static StreamingUnpack start(ImageStore store, Ingest.LayerSpec spec, ImageStore.Claim claim) throws IOException {
    StreamingUnpack u = new StreamingUnpack(store.newTempSnapshot(), spec, claim, store.unpacker());
    try {
      u.thread.start();
    } catch (RuntimeException | Error e) {
      FileTrees.deleteRecursively(u.tmp);
      throw e;
    }
    return u;
  }

  /**
   * Hands the next bytes of the blob to the unpack; returns once they are buffered (or
   * dropped, when the unpack has ended). {@code b} may be reused when this returns.
   *
   * @throws CancellationException when the calling thread is interrupted (its flag is set again)
   */
  void write(byte[] b, int off, int len) {
    try {
      pipe.write(b, off, len);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CancellationException("interrupted while unpacking the layer " + spec.digest());
    }
  }

  /** The blob is complete: the unpack reads to its end and finishes, while the caller verifies the blob. */
  void finish() {
    pipe.finish();
  }

  /**
   * Waits for the unpack, after {@link #finish}, and returns what it made.
   *
   * @throws BerthException as the unpack failed: INVALID_ARGUMENT for content that cannot be
   *     decompressed or unpacked or is not its diff id, RESOURCE_EXHAUSTED for {@link
   *     LayerLimits}, INTERNAL for the file system
   * @throws CancellationException when nobody wants the layer any more, or the calling thread
   *     is interrupted (its flag is set again)
   */
  Result await() {
    try {
      thread.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CancellationException("interrupted while unpacking the layer " + spec.digest());
    }
    Throwable f = failure;
    if (f instanceof RuntimeException r) {
      throw r;
    }
    if (f instanceof Error err) {
      throw err;
    }
    if (f != null) {
      throw BerthException.internal("cannot unpack the layer " + spec.digest() + ": " + f, f);
    }
    return Objects.requireNonNull(result, "the unpack ended without result");
  }

  /** The snapshot was moved into the store: {@link #close} leaves it. */
  void adopt() {
    adopted = true;
  }

  /**
   * Stops the unpack if it still runs (it fails at its next read), waits for its thread (an
   * interrupt does not cut this short; the flag is kept) and deletes the temporary snapshot
   * unless adopted. Idempotent.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    pipe.fail();
    boolean interrupted = false;
    while (true) {
      try {
        thread.join();
        break;
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    if (!adopted) {
      try {
        FileTrees.deleteRecursively(tmp);
      } catch (IOException e) {
        // a temporary: removed when the store is opened next
      }
    }
  }

  /** The unpack thread. */
  private void run() {
    try {
      MessageDigest diff = ContentStore.sha256();
      LayerUnpacker.Stats stats;
      try (BufferedInputStream raw = new BufferedInputStream(new Abandonable(pipe, claim), 64 * 1024)) {
        Compression compression = Compression.detect(raw, "the layer " + spec.digest(),
            "only gzip- or zstd-compressed and uncompressed layers are supported");
        try (InputStream plain = new DigestInputStream(compression.decompress(raw), diff)) {
          stats = unpacker.unpack(plain, tmp);
        } catch (IOException e) {
          throw BerthException.invalid("the layer " + spec.digest() + " cannot be decompressed: " + e.getMessage());
        }
      }
      String diffId = ContentStore.digestOf(diff);
      if (!diffId.equals(spec.diffId())) {
        throw BerthException.invalid("the layer " + spec.digest() + " unpacks to " + diffId
            + ", but the image config lists " + spec.diffId() + " for it");
      }
      FileTrees.syncTree(tmp);
      result = new Result(tmp, diffId, stats);
    } catch (IOException e) {
      failure = BerthException.internal("cannot store the layer " + spec.digest() + ": " + e.getMessage(), e);
    } catch (Throwable t) {
      failure = t;
    } finally {
      pipe.close();
    }
  }

  /**
   * A bounded ring of bytes from one writer to one reader. The writer drops its bytes once
   * the reader has closed; the reader fails once the writer has {@link #fail failed}.
   */
  private static final class Pipe extends InputStream {
    private final byte[] ring = new byte[CAPACITY];
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition readable = lock.newCondition();
    private final Condition writable = lock.newCondition();
    /** Guarded by lock. */
    private int head;
    private int count;
    private boolean eof;
    private boolean broken;
    private boolean readerGone;

    void write(byte[] b, int off, int len) throws InterruptedException {
      Objects.checkFromIndexSize(off, len, b.length);
      lock.lockInterruptibly();
      try {
        while (len > 0) {
          while (count == ring.length && !readerGone) {
            writable.await();
          }
          if (readerGone) {
            return;
          }
          int tail = (head + count) % ring.length;
          int n = Math.min(len, Math.min(ring.length - count, ring.length - tail));
          System.arraycopy(b, off, ring, tail, n);
          count += n;
          off += n;
          len -= n;
          readable.signal();
        }
      } finally {
        lock.unlock();
      }
    }

    void finish() {
      lock.lock();
      try {
        eof = true;
        readable.signal();
      } finally {
        lock.unlock();
      }
    }

    void fail() {
      lock.lock();
      try {
        broken = true;
        readable.signal();
      } finally {
        lock.unlock();
      }
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      Objects.checkFromIndexSize(off, len, b.length);
      if (len == 0) {
        return 0;
      }
      lock.lock();
      try {
        while (count == 0 && !eof && !broken) {
          readable.await();
        }
        if (broken) {
          throw new IOException("the download stopped");
        }
        if (count == 0) {
          return -1;
        }
        int n = Math.min(len, Math.min(count, ring.length - head));
        System.arraycopy(ring, head, b, off, n);
        head = (head + n) % ring.length;
        count -= n;
        writable.signal();
        return n;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while reading the layer");
      } finally {
        lock.unlock();
      }
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int available() {
      lock.lock();
      try {
        return count;
      } finally {
        lock.unlock();
      }
    }

    /** The reader is done: what is written from now on is dropped. */
    @Override
    public void close() {
      lock.lock();
      try {
        readerGone = true;
        count = 0;
        writable.signal();
      } finally {
        lock.unlock();
      }
    }
  }

  /** Stops an unpack nobody wants any more. */
  private static final class Abandonable extends FilterInputStream {
    private final ImageStore.Claim claim;

    Abandonable(InputStream in, ImageStore.Claim claim) {
      super(in);
      this.claim = claim;
    }

    @Override
    public int read() throws IOException {
      check();
      return super.read();
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      check();
      return super.read(b, off, len);
    }

    private void check() {
      if (claim.abandoned()) {
        throw new CancellationException("the pull was abandoned");
      }
    }
  }
}
