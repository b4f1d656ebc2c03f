package dev.berth.agent.metrics;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The processes behind {@code berth top}: for each pid, what {@code ps} shows, read from
 * {@code /proc} (its {@code stat}, {@code status} and {@code cmdline}) and user names from the
 * host's {@code /etc/passwd}, as {@code docker top} shows them (host names, since ps runs on
 * the host). Both are {@link Path}s, so tests point them at fixture trees.
 *
 * <p>Thread-safe and stateless. A process that exits while it is read is left out.
 */
public final class ProcessTable {
  /** USER_HZ: the unit of the times in /proc/PID/stat, 100 on every architecture Berth runs on. */
  static final long TICKS_PER_SECOND = 100;

  private final Path procRoot;
  private final Path passwd;

  public ProcessTable(Path procRoot, Path passwd) {
    this.procRoot = procRoot;
    this.passwd = passwd;
  }

  /**
   * One process.
   *
   * @param uid its effective uid
   * @param user the host's name for the uid, or the number when it has none
   * @param cpuMillis user plus system CPU time
   * @param startedUnixSeconds when it started, 0 when the boot time is unknown
   * @param state the one-letter state of ps (R, S, D, Z, T...)
   * @param command its command line, or {@code [comm]} when it has none (a zombie)
   */
  public record Process(int pid, int ppid, int uid, String user, long cpuMillis, long startedUnixSeconds, String state,
      String command) {}

  /** The processes among {@code pids} that still exist, in the order given. */
  public List<Process> read(List<Integer> pids) {
    Map<Integer, String> users = users();
    long boot = bootTime();
    List<Process> out = new ArrayList<>();
    for (int pid : pids) {
      Path dir = procRoot.resolve(Integer.toString(pid));
      try {
        String stat = Files.readString(dir.resolve("stat"), StandardCharsets.UTF_8);
        int open = stat.indexOf('(');
        int close = stat.lastIndexOf(')');
        String comm = stat.substring(open + 1, close);
        // Fields after the command: state(3) ppid(4) ... utime(14) stime(15) ... starttime(22).
        String[] f = stat.substring(close + 2).trim().split(" ");
        String state = f[0];
        int ppid = Integer.parseInt(f[1]);
        long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);
        long start = Long.parseLong(f[19]);
        int uid = uid(Files.readString(dir.resolve("status"), StandardCharsets.UTF_8));
        String cmd = command(Files.readAllBytes(dir.resolve("cmdline")), comm);
        out.add(new Process(pid, ppid, uid, users.getOrDefault(uid, Integer.toString(uid)), ticks * 1000 / TICKS_PER_SECOND,
            boot > 0 ? boot + start / TICKS_PER_SECOND : 0, state, cmd));
      } catch (IOException | RuntimeException e) {
        // gone since it was listed, or unreadable: ps leaves it out too
      }
    }
    return out;
  }

  /** The effective uid of a status file's "Uid: real effective saved fs" line. */
  static int uid(String status) {
    for (String line : status.split("\n")) {
      if (line.startsWith("Uid:")) {
        return Integer.parseInt(line.substring(4).trim().split("\\s+")[1]);
      }
    }
    return -1;
  }

  /** The NUL-separated arguments joined by spaces; {@code [comm]} when empty. */
  static String command(byte[] cmdline, String comm) {
    int len = cmdline.length;
    while (len > 0 && cmdline[len - 1] == 0) {
      len--;
    }
    if (len == 0) {
      return "[" + comm + "]";
    }
    return new String(cmdline, 0, len, StandardCharsets.UTF_8).replace('\0', ' ');
  }

  private long bootTime() {
    try {
      for (String line : Files.readAllLines(procRoot.resolve("stat"))) {
        if (line.startsWith("btime ")) {
          return Long.parseLong(line.substring(6).trim());
        }
      }
    } catch (IOException | RuntimeException e) {
      // unknown: start times are left out
    }
    return 0;
  }

  private Map<Integer, String> users() {
    Map<Integer, String> users = new HashMap<>();
    try {
      for (String line : Files.readAllLines(passwd)) {
        String[] f = line.split(":");
        if (f.length >= 3) {
          try {
            users.putIfAbsent(Integer.parseInt(f[2]), f[0]);
          } catch (NumberFormatException e) {
            // a malformed line names no one
          }
        }
      }
    } catch (IOException e) {
      // no passwd: numbers only
    }
    return users;
  }
}
