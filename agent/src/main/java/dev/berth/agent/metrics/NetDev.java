package dev.berth.agent.metrics;

import java.io.FileInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
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

  /**
   * The interfaces of {@code /proc/PID/net/dev} under {@code procRoot}, loopback left out (as
   * cAdvisor does: it is traffic within the container). Empty when the process is gone.
   */
  public static List<Interface> read(Path procRoot, int pid) {
    if (pid <= 0) {
      return List.of();
    }
    String text;
    // A plain FileInputStream into a buffer of the thread's: a scrape reads this file for every
    // running container, and for a file of a few hundred bytes Files.readAllBytes' channel (an
    // fstat and a second read besides the open) costs several times as much.
    byte[] buf = BUFFER.get();
    int n = 0;
    try (FileInputStream in = new FileInputStream(procRoot.resolve(Integer.toString(pid)).resolve("net").resolve("dev").toString())) {
      int r;
      while ((r = in.read(buf, n, buf.length - n)) > 0) {
        n += r;
        if (n == buf.length) {
          buf = Arrays.copyOf(buf, buf.length * 2);
          BUFFER.set(buf);
        }
      }
    } catch (IOException e) {
      return List.of(); // the process exited since it was listed
    }
    return parse(new String(buf, 0, n, StandardCharsets.US_ASCII));
  }

  /** Per thread: a scrape reads on several threads at once, each file once. */
  private static final ThreadLocal<byte[]> BUFFER = ThreadLocal.withInitial(() -> new byte[8 << 10]);

  /**
   * Parses the file: two header lines, then {@code "  name: rx_bytes rx_packets rx_errs rx_drop
   * fifo frame compressed multicast tx_bytes tx_packets tx_errs tx_drop fifo colls carrier
   * compressed"}.
   */
  static List<Interface> parse(String text) {
    List<Interface> out = new ArrayList<>();
    for (String line : text.split("\n")) {
      int colon = line.indexOf(':');
      if (colon < 0) {
        continue; // a header line
      }
      String name = line.substring(0, colon).trim();
      if (name.equals("lo") || name.isEmpty()) {
        continue;
      }
      String[] f = line.substring(colon + 1).trim().split("\\s+");
      if (f.length < 12) {
        continue;
      }
      out.add(new Interface(name, num(f[0]), num(f[1]), num(f[2]), num(f[3]), num(f[8]), num(f[9]), num(f[10]),
          num(f[11])));
    }
    return out;
  }

  private static long num(String s) {
    try {
      return Long.parseLong(s);
    } catch (NumberFormatException e) {
      return 0;
    }
  }
}
