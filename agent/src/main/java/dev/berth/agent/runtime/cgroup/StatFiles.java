package dev.berth.agent.runtime.cgroup;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Parses the statistics files of a cgroup with as little work as possible: a scrape reads about
 * eight of them for each of up to a thousand containers, so each file is read once, as bytes
 * into a buffer of the reading thread's, and parsed there by hand (no regular expressions, no
 * strings per line or per number). A missing file reads as empty; a cgroup that goes away while
 * being read is a missing file, not an error.
 */
final class StatFiles {
  private StatFiles() {}

  /**
   * The reading thread's buffer: {@link StatFile} reads a file into it, the parsers read it
   * there. Grows for a file larger than it, and stays grown.
   */
  static final class Buffer {
    byte[] bytes = new byte[16 << 10];
    /** {@link #bytes} as a buffer, for positional reads through a channel. */
    ByteBuffer wrapped = ByteBuffer.wrap(bytes);

    void grow() {
      bytes = Arrays.copyOf(bytes, bytes.length * 2);
      wrapped = ByteBuffer.wrap(bytes);
    }
  }

  private static final ThreadLocal<Buffer> BUFFER = ThreadLocal.withInitial(Buffer::new);

  /** The calling thread's buffer. */
  static Buffer buffer() {
    return BUFFER.get();
  }

  /** A file of one number, read now; 0 when missing, empty or "max". */
  static long number(Path file) {
    try (StatFile f = StatFile.fresh(file, true)) {
      return f.number();
    }
  }

  /** The lines of a file such as cgroup.procs, read now. */
  static long lines(Path file) {
    // cgroup.procs is rendered a pid at a time, in pages: read to its end.
    try (StatFile f = StatFile.fresh(file, false)) {
      Buffer b = buffer();
      return lines(b.bytes, f.read(b));
    }
  }

  /** The lines of {@code b[0, n)} (the last one need not end in a newline). */
  static long lines(byte[] b, int n) {
    long lines = 0;
    for (int i = 0; i < n; i++) {
      if (b[i] == '\n') {
        lines++;
      }
    }
    return n > 0 && b[n - 1] != '\n' ? lines + 1 : lines;
  }

  /** The number of the first line of {@code b[0, n)}; 0 when empty or "max". */
  static long number(byte[] b, int n, Path file) {
    return parse(b, 0, lineEnd(b, 0, n), file);
  }

  /**
   * The values of the lines {@code "KEY VALUE"} of a flat-keyed file held in {@code b[0, n)}
   * (memory.stat, cpu.stat, cpuacct.stat, memory.events), in the order of {@code keys}; 0 for a
   * key the file lacks.
   */
  static long[] keyed(byte[] b, int n, Path file, String... keys) {
    long[] values = new long[keys.length];
    int pos = 0;
    while (pos < n) {
      int end = lineEnd(b, pos, n);
      int space = pos;
      while (space < end && b[space] != ' ') {
        space++;
      }
      for (int k = 0; k < keys.length; k++) {
        if (matches(b, pos, space, keys[k])) {
          values[k] = parse(b, space + 1, end, file);
          break;
        }
      }
      pos = end + 1;
    }
    return values;
  }

  private static boolean matches(byte[] b, int from, int to, String key) {
    if (to - from != key.length()) {
      return false;
    }
    for (int i = 0; i < key.length(); i++) {
      if (b[from + i] != key.charAt(i)) {
        return false;
      }
    }
    return true;
  }

  private static int lineEnd(byte[] b, int from, int n) {
    int i = from;
    while (i < n && b[i] != '\n') {
      i++;
    }
    return i;
  }

  /** A decimal number between {@code from} and {@code to}, blanks around it allowed; 0 for empty or "max". */
  private static long parse(byte[] b, int from, int to, Path file) {
    while (from < to && (b[from] == ' ' || b[from] == '\t')) {
      from++;
    }
    while (to > from && (b[to - 1] == ' ' || b[to - 1] == '\t' || b[to - 1] == '\r')) {
      to--;
    }
    if (from == to || to - from == 3 && b[from] == 'm' && b[from + 1] == 'a' && b[from + 2] == 'x') {
      return 0;
    }
    boolean negative = b[from] == '-';
    long v = 0;
    for (int i = negative ? from + 1 : from; i < to; i++) {
      int d = b[i] - '0';
      if (d < 0 || d > 9) {
        throw new IllegalStateException("unexpected content '" + new String(b, from, to - from, StandardCharsets.US_ASCII)
            + "' in " + file);
      }
      // A v1 "unlimited" is about 2^63 rounded to pages: saturate rather than wrap.
      v = v > (Long.MAX_VALUE - d) / 10 ? Long.MAX_VALUE : v * 10 + d;
    }
    return negative ? -v : v;
  }
}
