package dev.berth.agent.runtime.cgroup;

import java.io.FileInputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/**
 * Reads the statistics files of a cgroup with as little work as possible: a scrape reads about
 * ten of them for each of up to a thousand containers, so each file is read once, as bytes, and
 * parsed by hand (no regular expressions, no strings per line). A missing file reads as empty;
 * a cgroup that goes away while being read is a missing file, not an error.
 */
final class StatFiles {
  private StatFiles() {}

  /** Per thread, so that reading a file allocates nothing but its bytes. */
  private static final ThreadLocal<byte[]> BUFFER = ThreadLocal.withInitial(() -> new byte[16 << 10]);

  /**
   * The file's bytes; empty when it (or its cgroup) does not exist. A plain FileInputStream:
   * for files of a few hundred bytes its open is several times cheaper than Files' channels.
   */
  static byte[] bytes(Path file) {
    byte[] buf = BUFFER.get();
    int n = 0;
    try (FileInputStream in = new FileInputStream(file.toString())) {
      int r;
      while ((r = in.read(buf, n, buf.length - n)) > 0) {
        n += r;
        if (n == buf.length) {
          buf = java.util.Arrays.copyOf(buf, buf.length * 2);
          BUFFER.set(buf);
        }
      }
    } catch (FileNotFoundException e) {
      return new byte[0];
    } catch (IOException e) {
      if (e.getMessage() != null && e.getMessage().contains("No such device")) {
        return new byte[0]; // the cgroup was removed between open and read
      }
      throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
    }
    return java.util.Arrays.copyOf(buf, n);
  }

  /** A file of one number; 0 when missing, empty or "max". */
  static long number(Path file) {
    byte[] b = bytes(file);
    return parse(b, 0, lineEnd(b, 0), file);
  }

  /** The lines of a file such as cgroup.procs (the last one need not end in a newline). */
  static long lines(Path file) {
    byte[] b = bytes(file);
    long n = 0;
    for (int i = 0; i < b.length; i++) {
      if (b[i] == '\n') {
        n++;
      }
    }
    return b.length > 0 && b[b.length - 1] != '\n' ? n + 1 : n;
  }

  /**
   * The values of the lines {@code "KEY VALUE"} of a flat-keyed file (memory.stat, cpu.stat,
   * cpuacct.stat, memory.events), in the order of {@code keys}; 0 for a key the file lacks.
   */
  static long[] keyed(Path file, String... keys) {
    long[] values = new long[keys.length];
    byte[] b = bytes(file);
    int pos = 0;
    while (pos < b.length) {
      int end = lineEnd(b, pos);
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

  private static int lineEnd(byte[] b, int from) {
    int i = from;
    while (i < b.length && b[i] != '\n') {
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
        throw new IllegalStateException("unexpected content '" + new String(b, from, to - from,
            java.nio.charset.StandardCharsets.US_ASCII) + "' in " + file);
      }
      // A v1 "unlimited" is about 2^63 rounded to pages: saturate rather than wrap.
      v = v > (Long.MAX_VALUE - d) / 10 ? Long.MAX_VALUE : v * 10 + d;
    }
    return negative ? -v : v;
  }
}
