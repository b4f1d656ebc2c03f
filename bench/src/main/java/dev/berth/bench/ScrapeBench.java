package dev.berth.bench;

import dev.berth.agent.metrics.AgentMetrics;
import dev.berth.agent.metrics.ContainerCollector;
import dev.berth.agent.metrics.ContainerSampler;
import dev.berth.agent.metrics.ContainerTarget;
import dev.berth.agent.runtime.LinuxSyscalls;
import dev.berth.agent.runtime.cgroup.CgroupLimits;
import dev.berth.agent.runtime.cgroup.Cgroups;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * How long a full /metrics exposition takes with N containers (default 1,000), uncached: the
 * per-container reading plus the formatting, as a scrape pays it.
 *
 * <pre>
 *   java -cp ... dev.berth.bench.ScrapeBench [N] [fixture|real]
 * </pre>
 *
 * {@code fixture} (default) lays out a cgroup v2 tree of N containers' statistics files in a
 * temporary directory (plus a /proc/PID/net/dev for each); {@code real} (root) creates N empty
 * cgroups under this host's cgroup root with the prefix {@code berth-scrapebench}, and removes
 * them afterwards. Prints the median and the worst of 20 scrapes after 5 warm-up ones.
 */
public final class ScrapeBench {
  public static void main(String[] args) throws Exception {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
    boolean real = args.length > 1 && args[1].equals("real");
    Path tmp = Files.createTempDirectory("scrapebench");
    Path proc = tmp.resolve("proc");
    Cgroups cgroups;
    List<String> created = new ArrayList<>();
    List<ContainerTarget> targets = new ArrayList<>();
    try {
      if (real) {
        cgroups = Cgroups.detect(Path.of("/sys/fs/cgroup"), new LinuxSyscalls());
      } else {
        Path root = tmp.resolve("cgroup");
        Files.createDirectories(root);
        Files.writeString(root.resolve("cgroup.controllers"), "cpu memory pids\n");
        cgroups = Cgroups.detect(root, new LinuxSyscalls());
      }
      for (int i = 0; i < n; i++) {
        String id = String.format("%064x", i);
        String rel = "berth-scrapebench/" + id;
        if (real) {
          cgroups.create(rel, new CgroupLimits(64L << 20, 50_000, 100_000, 100));
          created.add(rel);
        } else {
          fixture(cgroups.dirs(rel).get(0), i);
        }
        Path net = Files.createDirectories(proc.resolve(Integer.toString(100_000 + i)).resolve("net"));
        Files.writeString(net.resolve("dev"), "Inter-|   Receive |  Transmit\n face |bytes ...\n"
            + "    lo: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n  eth0: " + i + " 2 0 0 0 0 0 0 " + i + " 3 0 0 0 0 0 0\n");
        targets.add(new ContainerTarget(id, "c" + i, "busybox:latest", "job" + (i % 10), rel, true, 100_000 + i,
            Instant.now(), false, 50_000, 100_000, 64L << 20, 100, 0));
      }
      ContainerCollector collector = new ContainerCollector(() -> targets, new ContainerSampler(cgroups, proc,
          Clock.systemUTC()), "bench", Duration.ZERO, System::nanoTime);
      try (AgentMetrics metrics = new AgentMetrics("bench", collector, Map::of, Map::of)) {
        int bytes = 0;
        for (int i = 0; i < 5; i++) {
          bytes = metrics.scrape().length();
        }
        long[] ms = new long[20];
        long[] collect = new long[20];
        long[] cpu = new long[20];
        var os = (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        for (int i = 0; i < ms.length; i++) {
          long c = os.getProcessCpuTime();
          long t = System.nanoTime();
          metrics.scrape();
          ms[i] = System.nanoTime() - t;
          cpu[i] = os.getProcessCpuTime() - c;
          collect[i] = collector.lastCollectNanos();
        }
        Arrays.sort(ms);
        Arrays.sort(collect);
        Arrays.sort(cpu);
        System.out.printf("%d containers (%s, cgroup %s): scrape median %.1f ms, worst %.1f ms; reading alone median %.1f ms;"
            + " CPU time of the process per scrape, all threads, median %.1f ms (the wall time includes waiting for a CPU on a loaded host);"
            + " %d KiB of text%n", n, real ? "real cgroups" : "fixture tree", cgroups.version(), ms[10] / 1e6,
            ms[19] / 1e6, collect[10] / 1e6, cpu[10] / 1e6, bytes / 1024);
      }
    } finally {
      if (real) {
        Cgroups c = Cgroups.detect(Path.of("/sys/fs/cgroup"), new LinuxSyscalls());
        for (String rel : created) {
          c.destroy(rel);
        }
        c.destroy("berth-scrapebench");
      }
      try (Stream<Path> w = Files.walk(tmp)) {
        for (Path p : (Iterable<Path>) w.sorted(Comparator.reverseOrder())::iterator) {
          Files.deleteIfExists(p);
        }
      }
    }
  }

  private static void fixture(Path d, int i) throws IOException {
    Files.createDirectories(d);
    Files.writeString(d.resolve("memory.current"), (1_000_000 + i) + "\n");
    Files.writeString(d.resolve("memory.max"), "67108864\n");
    Files.writeString(d.resolve("memory.peak"), "2000000\n");
    Files.writeString(d.resolve("memory.events"), "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n");
    StringBuilder stat = new StringBuilder();
    for (String k : new String[] {"anon", "file", "kernel", "kernel_stack", "pagetables", "sec_pagetables", "percpu",
        "sock", "vmalloc", "shmem", "zswap", "zswapped", "file_mapped", "file_dirty", "file_writeback", "swapcached",
        "anon_thp", "file_thp", "shmem_thp", "inactive_anon", "active_anon", "inactive_file", "active_file",
        "unevictable", "slab_reclaimable", "slab_unreclaimable", "slab", "workingset_refault_anon",
        "workingset_refault_file", "workingset_activate_anon", "workingset_activate_file", "workingset_restore_anon",
        "workingset_restore_file", "workingset_nodereclaim", "pgscan", "pgsteal", "pgfault", "pgmajfault"}) {
      stat.append(k).append(' ').append(4096 * (i + 1)).append('\n');
    }
    Files.writeString(d.resolve("memory.stat"), stat);
    Files.writeString(d.resolve("cpu.stat"), "usage_usec " + i * 1000 + "\nuser_usec 1\nsystem_usec 2\nnr_periods 3\n"
        + "nr_throttled 0\nthrottled_usec 0\nnr_bursts 0\nburst_usec 0\n");
    Files.writeString(d.resolve("pids.current"), "3\n");
    Files.writeString(d.resolve("pids.max"), "100\n");
    Files.writeString(d.resolve("cgroup.procs"), "1\n2\n3\n");
  }
}
