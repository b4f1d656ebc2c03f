package dev.berth.agent.metrics;

import dev.berth.agent.runtime.cgroup.DescriptorBudget;
import dev.berth.agent.runtime.cgroup.StatFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The counters of {@code /proc/PID/net/dev}: the interfaces of the network namespace that the
 * process is in, as the kernel counts them. For a container's init that is the container's own
 * namespace (a container on the host network shows the host's interfaces, as with cAdvisor).
 */
public final class NetDev {
  private NetDev() {}

  /** One interface's counters since it was created. */
  public record Interface(String name, long rxBytes, long rxPackets, long rxErrors, long rxDropped, long txBytes,
      long txPackets, long txErrors, long txDropped) {}

  /** The file of {@code pid} under {@code procRoot}. */
  static Path path(Path procRoot, int pid) {
    return procRoot.resolve(Integer.toString(pid)).resolve("net").resolve("dev");
  }

  /**
   * The file of {@code pid}, to be read again and again through a descriptor of {@code budget}.
   * A descriptor held on it holds the process's network namespace too, even after the process
   * exits: its owner closes it when the process ends.
   */
  static StatFile file(Path procRoot, int pid, DescriptorBudget budget, boolean onProcFs) {
    // Rendered a page at a time (an interface a record): read until a read returns nothing.
    return new StatFile(path(procRoot, pid), budget, onProcFs, false);
  }

  /**
   * The interfaces of {@code /proc/PID/net/dev} under {@code procRoot}, loopback left out (as
   * cAdvisor does: it is traffic within the container). Empty when the process is gone.
   */
  public static List<Interface> read(Path procRoot, int pid) {
    if (pid <= 0) {
      return List.of();
    }
    try (StatFile f = file(procRoot, pid, DescriptorBudget.NONE, true)) {
      return read(f);
    } catch (RuntimeException e) {
      return List.of(); // unreadable: as if the process had exited since it was listed
    }
  }

  /** The interfaces of {@code file}, as {@link #read(Path, int)}. */
  static List<Interface> read(StatFile file) {
    return file.read(NetDev::parse);
  }

  /** Parses the file's text; see {@link #parse(byte[], int)}. */
  static List<Interface> parse(String text) {
    byte[] b = text.getBytes(StandardCharsets.US_ASCII);
    return parse(b, b.length);
  }

  /** Interfaces have 16 counters: 8 received, 8 transmitted. */
  private static final int FIELDS = 16;

  /**
   * Parses the file, held in {@code b[0, n)}: two header lines, then {@code "  name: rx_bytes
   * rx_packets rx_errs rx_drop fifo frame compressed multicast tx_bytes tx_packets tx_errs tx_drop
   * fifo colls carrier compressed"}. By hand, without a String per line or per number: a scrape
   * parses this file for every running container.
   */
  static List<Interface> parse(byte[] b, int n) {
    List<Interface> out = List.of();
    long[] f = new long[FIELDS];
    int pos = 0;
    while (pos < n) {
      int end = pos;
      int colon = -1;
      while (end < n && b[end] != '\n') {
        if (b[end] == ':' && colon < 0) {
          colon = end;
        }
        end++;
      }
      int lineStart = pos;
      pos = end + 1;
      if (colon < 0) {
        continue; // a header line
      }
      int from = lineStart;
      int to = colon;
      while (from < to && blank(b[from])) {
        from++;
      }
      while (to > from && blank(b[to - 1])) {
        to--;
      }
      if (to == from || to - from == 2 && b[from] == 'l' && b[from + 1] == 'o') {
        continue;
      }
      int fields = 0;
      int i = colon + 1;
      while (true) {
        while (i < end && blank(b[i])) {
          i++;
        }
        if (i == end) {
          break;
        }
        int start = i;
        while (i < end && !blank(b[i])) {
          i++;
        }
        if (fields < FIELDS) {
          f[fields] = number(b, start, i);
        }
        fields++;
      }
      if (fields < 12) {
        continue;
      }
      if (out.isEmpty()) {
        out = new ArrayList<>(2);
      }
      out.add(new Interface(new String(b, from, to - from, StandardCharsets.US_ASCII), f[0], f[1], f[2], f[3], f[8], f[9],
          f[10], f[11]));
    }
    return out;
  }

  private static boolean blank(byte c) {
    return c == ' ' || c == '\t' || c == '\r';
  }

  /** A decimal counter; 0 for anything else (as a field the kernel would never print). */
  private static long number(byte[] b, int from, int to) {
    boolean negative = b[from] == '-';
    int i = negative || b[from] == '+' ? from + 1 : from;
    if (i == to) {
      return 0;
    }
    long v = 0;
    for (; i < to; i++) {
      int d = b[i] - '0';
      if (d < 0 || d > 9 || v > (Long.MAX_VALUE - d) / 10) {
        return 0;
      }
      v = v * 10 + d;
    }
    return negative ? -v : v;
  }
}
