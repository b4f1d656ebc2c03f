package dev.berth.agent.runtime.cgroup;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Objects;

/**
 * One statistics file (a cgroup control file, {@code /proc/PID/net/dev}) read again and again:
 * kept open between readings and read from offset 0 with a positional read (pread), which makes
 * the kernel render it anew, so that a reading costs one system call instead of an open, reads
 * and a close. The descriptor comes from a {@link DescriptorBudget}; when the budget is spent the
 * file is opened, read and closed each time, as without one.
 *
 * <p>A file that went away reads as empty, never as an error: a cgroup that was removed (its
 * open files then fail with ENODEV), a process that exited (ENOENT, ESRCH), a file that does not
 * exist. After any failed read of a kept descriptor it is closed and the file opened again by
 * name, so a cgroup removed and created again under the same name is read anew, never stale. On
 * a kernel file system (cgroup, proc) that is all it takes, since a name there cannot be given
 * to another file while one holds the old; on an ordinary file system (fixture trees) a file can
 * be replaced by another under its name, so there each reading first checks that the name still
 * names the file held. Other read failures are {@link UncheckedIOException}s naming the file.
 *
 * <p>Thread-safe: readings of one file are serialised. The bytes read land in the calling
 * thread's buffer ({@link StatFiles#buffer()}), so a reading allocates nothing.
 */
public final class StatFile implements AutoCloseable {
  /** Below this, a read into a thread's buffer goes through the JDK's stack buffer rather than a malloc. */
  private static final int FRESH_READ_MAX = 8192;

  private final Path path;
  private final String name;
  private final DescriptorBudget budget;
  private final boolean kernelFs;
  private final boolean renderedWhole;
  private RandomAccessFile file;
  private FileChannel channel;
  /** On an ordinary file system: the identity (device and inode) of the file held. */
  private Object key;
  /** Closed by its owner: read afresh from then on, never kept open again. */
  private boolean closed;

  /**
   * @param budget where a kept descriptor comes from ({@link DescriptorBudget#NONE}: read afresh each time)
   * @param kernelFs whether the file is on a kernel file system (cgroup, cgroup2, proc), where a
   *     held descriptor can never read another file's content than its name's
   * @param renderedWhole whether the kernel renders the file in one piece on every read (a
   *     cgroup control file other than cgroup.procs and tasks, or an ordinary file), so that a
   *     read shorter than asked is its end; {@code /proc/PID/net/dev} is rendered a page at a
   *     time and is read until a read returns nothing
   */
  public StatFile(Path path, DescriptorBudget budget, boolean kernelFs, boolean renderedWhole) {
    this.path = path;
    this.name = path.toString();
    this.budget = Objects.requireNonNull(budget);
    this.kernelFs = kernelFs;
    this.renderedWhole = renderedWhole;
  }

  /** A file read once, opened and closed by the reading. */
  static StatFile fresh(Path path, boolean renderedWhole) {
    return new StatFile(path, DescriptorBudget.NONE, true, renderedWhole);
  }

  /** Parses the content of a file, read into {@code bytes[0, length)}. */
  @FunctionalInterface
  public interface Parser<T> {
    T parse(byte[] bytes, int length);
  }

  public Path path() {
    return path;
  }

  /** Whether a descriptor is held now. */
  public synchronized boolean isOpen() {
    return channel != null;
  }

  /** Reads the file and parses it; {@code parser} sees no bytes when the file is gone. */
  public <T> T read(Parser<T> parser) {
    StatFiles.Buffer b = StatFiles.buffer();
    int n = read(b);
    return parser.parse(b.bytes, n);
  }

  /** A file of one number; 0 when missing, empty or "max". */
  long number() {
    StatFiles.Buffer b = StatFiles.buffer();
    int n = read(b);
    return StatFiles.number(b.bytes, n, path);
  }

  /** The values of {@code keys} in a flat-keyed file; see {@link StatFiles#keyed}. */
  long[] keyed(String... keys) {
    StatFiles.Buffer b = StatFiles.buffer();
    int n = read(b);
    return StatFiles.keyed(b.bytes, n, path, keys);
  }

  /** Reads the whole file into {@code b}; its length, 0 when it is gone. */
  synchronized int read(StatFiles.Buffer b) {
    if (channel != null) {
      if (kernelFs || Objects.equals(key, keyOf(path))) {
        try {
          return pread(b);
        } catch (IOException e) {
          // Its cgroup was removed (ENODEV), an interrupt closed the channel, or worse: read anew by name.
        }
      }
      closeKept();
    }
    return openAndRead(b);
  }

  private int openAndRead(StatFiles.Buffer b) {
    Object k = null;
    if (!kernelFs && budget.max() > 0) {
      k = keyOf(path);
      if (k == null) {
        return 0;
      }
    }
    RandomAccessFile f;
    try {
      f = new RandomAccessFile(name, "r");
    } catch (FileNotFoundException e) {
      return 0; // it does not exist (ENOENT), or its cgroup is being removed (ENODEV)
    }
    if (!closed && budget.tryTake()) {
      file = f;
      channel = f.getChannel();
      key = k;
      try {
        return pread(b);
      } catch (IOException e) {
        closeKept();
        return failed(e);
      }
    }
    try (f) {
      return readOnce(f, b);
    } catch (IOException e) {
      return failed(e);
    }
  }

  private int failed(IOException e) {
    String m = String.valueOf(e.getMessage());
    if (m.contains("No such device") || m.contains("No such process") || m.contains("No such file")) {
      return 0; // the cgroup was removed, or the process exited, between open and read
    }
    throw new UncheckedIOException("cannot read " + path + ": " + e.getMessage(), e);
  }

  /** Positional reads from offset 0 until the end; the kernel renders the file anew for offset 0. */
  private int pread(StatFiles.Buffer b) throws IOException {
    int n = 0;
    while (true) {
      ByteBuffer into = b.wrapped;
      into.limit(into.capacity()).position(n);
      int r = channel.read(into, n);
      if (r <= 0) {
        return n;
      }
      n += r;
      if (n == b.bytes.length) {
        b.grow();
      } else if (renderedWhole) {
        return n;
      }
    }
  }

  private int readOnce(RandomAccessFile f, StatFiles.Buffer b) throws IOException {
    int n = 0;
    while (true) {
      int ask = Math.min(FRESH_READ_MAX, b.bytes.length - n);
      int r = f.read(b.bytes, n, ask);
      if (r <= 0) {
        return n;
      }
      n += r;
      if (n == b.bytes.length) {
        b.grow();
      } else if (renderedWhole && r < ask) {
        return n;
      }
    }
  }

  /** The identity of the file {@code p} names now; null when it names none. */
  private static Object keyOf(Path p) {
    try {
      return Files.readAttributes(p, BasicFileAttributes.class).fileKey();
    } catch (NoSuchFileException e) {
      return null;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + p + ": " + e.getMessage(), e);
    }
  }

  private void closeKept() {
    RandomAccessFile f = file;
    file = null;
    channel = null;
    key = null;
    budget.giveBack();
    try {
      f.close();
    } catch (IOException e) {
      // A read-only descriptor: nothing was buffered that a failed close could lose.
    }
  }

  /**
   * Closes the descriptor held, if any, and gives it back to the budget. A reading after this
   * one (by a thread that was still at it) opens, reads and closes the file, keeping nothing.
   */
  @Override
  public synchronized void close() {
    closed = true;
    if (channel != null) {
      closeKept();
    }
  }

  @Override
  public String toString() {
    return path.toString();
  }
}
