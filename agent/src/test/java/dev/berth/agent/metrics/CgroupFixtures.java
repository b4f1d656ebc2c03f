package dev.berth.agent.metrics;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Cgroup and /proc fixture trees as the kernel lays them out, for the collector's tests: a v2
 * root (unified hierarchy) or a v1 root (one directory per controller), with containers'
 * statistics files under {@code PREFIX/ID}, and {@code /proc/PID/net/dev} files.
 */
final class CgroupFixtures {
  private CgroupFixtures() {}

  /** What one container's files say. */
  record Usage(long memoryBytes, long inactiveFileBytes, long limitBytes, long cpuUsec, long pids, long procs, long oomKills) {}

  static void v2Root(Path root) throws IOException {
    Files.createDirectories(root);
    Files.writeString(root.resolve("cgroup.controllers"), "cpuset cpu io memory pids\n");
    Files.writeString(root.resolve("cgroup.subtree_control"), "cpu memory pids\n");
  }

  static void v2Container(Path root, String rel, Usage u) throws IOException {
    Path d = Files.createDirectories(root.resolve(rel));
    Files.writeString(d.resolve("memory.current"), u.memoryBytes() + "\n");
    Files.writeString(d.resolve("memory.max"), (u.limitBytes() == 0 ? "max" : Long.toString(u.limitBytes())) + "\n");
    Files.writeString(d.resolve("memory.peak"), u.memoryBytes() + "\n");
    Files.writeString(d.resolve("memory.events"), "low 0\nhigh 0\nmax 0\noom 0\noom_kill " + u.oomKills() + "\n");
    Files.writeString(d.resolve("memory.stat"), "anon " + (u.memoryBytes() - u.inactiveFileBytes()) + "\nfile "
        + u.inactiveFileBytes() + "\nkernel_stack 16384\nslab 0\nactive_anon 0\ninactive_anon 0\nactive_file 0\n"
        + "inactive_file " + u.inactiveFileBytes() + "\nunevictable 0\n");
    Files.writeString(d.resolve("cpu.stat"), "usage_usec " + u.cpuUsec() + "\nuser_usec " + u.cpuUsec() * 3 / 4
        + "\nsystem_usec " + u.cpuUsec() / 4 + "\nnr_periods 10\nnr_throttled 2\nthrottled_usec 5000\n");
    Files.writeString(d.resolve("pids.current"), u.pids() + "\n");
    Files.writeString(d.resolve("pids.max"), "max\n");
    StringBuilder procs = new StringBuilder();
    for (int i = 0; i < u.procs(); i++) {
      procs.append(1000 + i).append('\n');
    }
    Files.writeString(d.resolve("cgroup.procs"), procs);
  }

  static void v1Root(Path root) throws IOException {
    for (String c : new String[] {"memory", "cpu", "cpuacct", "pids"}) {
      Files.createDirectories(root.resolve(c));
    }
  }

  static void v1Container(Path root, String rel, Usage u) throws IOException {
    Path mem = Files.createDirectories(root.resolve("memory").resolve(rel));
    Files.writeString(mem.resolve("memory.usage_in_bytes"), u.memoryBytes() + "\n");
    Files.writeString(mem.resolve("memory.limit_in_bytes"),
        (u.limitBytes() == 0 ? "9223372036854771712" : Long.toString(u.limitBytes())) + "\n");
    Files.writeString(mem.resolve("memory.max_usage_in_bytes"), u.memoryBytes() + "\n");
    Files.writeString(mem.resolve("memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill " + u.oomKills() + "\n");
    Files.writeString(mem.resolve("memory.stat"), "cache 0\nrss 0\ntotal_cache " + u.inactiveFileBytes() + "\ntotal_rss "
        + (u.memoryBytes() - u.inactiveFileBytes()) + "\ntotal_inactive_file " + u.inactiveFileBytes() + "\n");
    Path cpu = Files.createDirectories(root.resolve("cpu").resolve(rel));
    Files.writeString(cpu.resolve("cpu.stat"), "nr_periods 10\nnr_throttled 2\nthrottled_time 5000000\n");
    Path acct = Files.createDirectories(root.resolve("cpuacct").resolve(rel));
    Files.writeString(acct.resolve("cpuacct.usage"), u.cpuUsec() * 1000 + "\n");
    Files.writeString(acct.resolve("cpuacct.stat"), "user " + u.cpuUsec() * 3 / 4 / 10_000 + "\nsystem "
        + u.cpuUsec() / 4 / 10_000 + "\n");
    Path pids = Files.createDirectories(root.resolve("pids").resolve(rel));
    Files.writeString(pids.resolve("pids.current"), u.pids() + "\n");
    Files.writeString(pids.resolve("pids.max"), "max\n");
    StringBuilder procs = new StringBuilder();
    for (int i = 0; i < u.procs(); i++) {
      procs.append(1000 + i).append('\n');
    }
    Files.writeString(pids.resolve("cgroup.procs"), procs);
  }

  /** /proc/PID/net/dev with loopback and one eth0. */
  static void netDev(Path proc, int pid, long rx, long tx) throws IOException {
    Path d = Files.createDirectories(proc.resolve(Integer.toString(pid)).resolve("net"));
    Files.writeString(d.resolve("dev"), """
        Inter-|   Receive                                                |  Transmit
         face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
            lo:    1234      10    0    0    0     0          0         0     1234      10    0    0    0     0       0          0
          eth0: %d      42    1    2    0     0          0         0 %d      24    3    4    0     0       0          0
        """.formatted(rx, tx));
  }
}
