package dev.berth.agent.runtime.cgroup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.runtime.RecordingSyscalls;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Usage files kept open between readings, on v1 and v2 fixture trees laid out as the kernel lays
 * out its files: the same figures as a fresh {@link Cgroups#usage}, whatever happens to the files
 * between readings, and every descriptor given back.
 */
class CgroupUsageFilesTest {
  static final String LEAF = "berth-x/c1";

  @TempDir Path root;
  Cgroups cgroups;

  /** The files one usage reading reads: 7 on v1, 5 on v2. */
  int filesPerCgroup(String version) {
    return version.equals("v1") ? 7 : 5;
  }

  void layOut(String version) throws IOException {
    if (version.equals("v2")) {
      Files.writeString(root.resolve("cgroup.controllers"), "cpu memory pids\n");
    } else {
      for (String c : List.of("memory", "cpu", "cpuacct", "pids")) {
        Files.createDirectories(root.resolve(c));
      }
    }
    cgroups = Cgroups.detect(root, new RecordingSyscalls());
    assertEquals(version, cgroups.version());
  }

  /** Writes a cgroup's usage files with figures derived from {@code n}, in place (same files, new content). */
  void write(String relPath, long n) throws IOException {
    if (cgroups.version().equals("v2")) {
      Path d = Files.createDirectories(root.resolve(relPath));
      Files.writeString(d.resolve("memory.current"), (1_000_000 * n) + "\n");
      Files.writeString(d.resolve("memory.events"), "low 0\nhigh 0\nmax 3\noom " + n + "\noom_kill " + n + "\n");
      Files.writeString(d.resolve("memory.stat"), memoryStat("", n) + "kernel_stack 16384\n");
      Files.writeString(d.resolve("cpu.stat"), "usage_usec " + 3000 * n + "\nuser_usec " + 2000 * n + "\nsystem_usec "
          + 1000 * n + "\nnr_periods " + 10 * n + "\nnr_throttled " + n + "\nthrottled_usec " + 500 * n + "\n");
      Files.writeString(d.resolve("pids.current"), n + "\n");
      Files.writeString(d.resolve("memory.max"), "max\n");
    } else {
      Path mem = Files.createDirectories(root.resolve("memory").resolve(relPath));
      Files.writeString(mem.resolve("memory.usage_in_bytes"), (1_000_000 * n) + "\n");
      Files.writeString(mem.resolve("memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill " + n + "\n");
      Files.writeString(mem.resolve("memory.stat"), "cache 1\nrss 2\n" + memoryStat("total_", n));
      Files.writeString(mem.resolve("memory.limit_in_bytes"), "9223372036854771712\n");
      Path cpu = Files.createDirectories(root.resolve("cpu").resolve(relPath));
      Files.writeString(cpu.resolve("cpu.stat"), "nr_periods " + 10 * n + "\nnr_throttled " + n + "\nthrottled_time "
          + 500_000 * n + "\n");
      Path acct = Files.createDirectories(root.resolve("cpuacct").resolve(relPath));
      Files.writeString(acct.resolve("cpuacct.usage"), 3_000_000 * n + "\n");
      Files.writeString(acct.resolve("cpuacct.stat"), "user " + 2 * n + "\nsystem " + n + "\n");
      Path pids = Files.createDirectories(root.resolve("pids").resolve(relPath));
      Files.writeString(pids.resolve("pids.current"), n + "\n");
    }
  }

  private static String memoryStat(String prefix, long n) {
    String anon = prefix.isEmpty() ? "anon" : "rss";
    String file = prefix.isEmpty() ? "file" : "cache";
    return prefix + file + " " + 4096 * n + "\n" + prefix + anon + " " + 8192 * n + "\n" + prefix + "inactive_file "
        + 1024 * n + "\n";
  }

  /** What a fresh reading says the figures derived from {@code n} are, checked against the figures themselves. */
  CgroupStats expected(long n) {
    CgroupStats fresh = cgroups.usage(LEAF);
    assertEquals(1_000_000 * n, fresh.memoryUsageBytes());
    assertEquals(n, fresh.oomKills());
    assertEquals(n, fresh.pids());
    assertEquals(8192 * n, fresh.memoryRssBytes());
    assertEquals(1024 * n, fresh.memoryInactiveFileBytes());
    assertEquals(10 * n, fresh.cpuPeriods());
    assertEquals(3_000_000 * n, fresh.cpuUsageNanos());
    return fresh;
  }

  void removeCgroup(String relPath) throws IOException {
    for (Path d : cgroups.dirs(relPath)) {
      if (Files.exists(d)) {
        try (Stream<Path> w = Files.walk(d)) {
          for (Path p : w.sorted(Comparator.reverseOrder()).toList()) {
            Files.delete(p);
          }
        }
      }
    }
  }

  @ParameterizedTest(name = "cgroup {0}")
  @ValueSource(strings = {"v1", "v2"})
  void aKeptReadingGivesWhatAFreshOneGivesAsTheFiguresChange(String version) throws IOException {
    layOut(version);
    write(LEAF, 3);
    DescriptorBudget budget = new DescriptorBudget(100);
    try (CgroupUsageFiles files = cgroups.usageFiles(LEAF, budget)) {
      assertEquals(0, files.openFiles(), "nothing is opened before the first reading");
      assertEquals(expected(3), files.read());
      assertEquals(filesPerCgroup(version), files.openFiles());
      assertEquals(filesPerCgroup(version), budget.used());
      assertEquals(filesPerCgroup(version), OpenFds.below(root), "the kernel holds as many descriptors");
      for (long n : List.of(7L, 1L, 123_456_789L, 0L)) {
        write(LEAF, n); // the same files, rewritten: the kept descriptors read the new content
        assertEquals(expected(n), files.read(), "figures from " + n);
      }
      assertEquals(filesPerCgroup(version), OpenFds.below(root), "no file was opened twice");
    }
    assertEquals(0, budget.used());
    assertEquals(0, OpenFds.below(root), "close gave every descriptor back");
  }

  @ParameterizedTest(name = "cgroup {0}")
  @ValueSource(strings = {"v1", "v2"})
  void aFileReplacedUnderItsNameIsReadAnewNotStale(String version) throws IOException {
    layOut(version);
    write(LEAF, 3);
    DescriptorBudget budget = new DescriptorBudget(100);
    try (CgroupUsageFiles files = cgroups.usageFiles(LEAF, budget)) {
      files.read();
      // Another file takes memory.stat's name; the descriptor held is on the old one, now unlinked.
      Path stat = cgroups.dirs(LEAF).get(0).resolve("memory.stat");
      Path next = stat.resolveSibling("memory.stat.next");
      Files.writeString(next, version.equals("v2") ? "file 1\nanon 77\ninactive_file 5\n"
          : "total_cache 1\ntotal_rss 77\ntotal_inactive_file 5\n");
      Files.move(next, stat, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      CgroupStats s = files.read();
      assertEquals(77, s.memoryRssBytes());
      assertEquals(cgroups.usage(LEAF), s);
      assertEquals(filesPerCgroup(version), OpenFds.below(root), "the old file's descriptor was closed");
      assertEquals(filesPerCgroup(version), budget.used());
    }
  }

  @ParameterizedTest(name = "cgroup {0}")
  @ValueSource(strings = {"v1", "v2"})
  void aCgroupRemovedReadsAsZerosGivesItsDescriptorsBackAndIsReadAnewWhenCreatedAgain(String version) throws IOException {
    layOut(version);
    write(LEAF, 3);
    DescriptorBudget budget = new DescriptorBudget(100);
    try (CgroupUsageFiles files = cgroups.usageFiles(LEAF, budget)) {
      assertEquals(expected(3), files.read());
      removeCgroup(LEAF);
      assertEquals(new CgroupStats(0, 0, 0, 0, 0, 0, 0, 0, 0, 0), files.read(), "a cgroup that is gone reads as zeros");
      assertEquals(0, files.openFiles());
      assertEquals(0, budget.used());
      assertEquals(0, OpenFds.below(root), "the removed files' descriptors are closed");

      write(LEAF, 9); // the same path, new files
      assertEquals(expected(9), files.read());
      assertEquals(filesPerCgroup(version), files.openFiles());
    }
  }

  @ParameterizedTest(name = "cgroup {0}")
  @ValueSource(strings = {"v1", "v2"})
  void beyondTheBudgetFilesAreOpenedReadAndClosedEachTime(String version) throws IOException {
    layOut(version);
    List<String> paths = List.of("berth-x/a", "berth-x/b", "berth-x/c");
    for (int i = 0; i < paths.size(); i++) {
      write(paths.get(i), i + 1);
    }
    DescriptorBudget budget = new DescriptorBudget(filesPerCgroup(version) + 2);
    List<CgroupUsageFiles> all = paths.stream().map(p -> cgroups.usageFiles(p, budget)).toList();
    try {
      for (int round = 0; round < 3; round++) {
        for (int i = 0; i < paths.size(); i++) {
          assertEquals(cgroups.usage(paths.get(i)), all.get(i).read());
        }
        assertEquals(budget.max(), budget.used(), "the budget is used up, never exceeded");
        assertEquals(budget.max(), OpenFds.below(root));
      }
      // What one gives back, another takes.
      all.get(0).close();
      assertEquals(0, all.get(0).openFiles());
      all.get(2).read();
      assertTrue(all.get(2).openFiles() > 0);
      assertEquals(budget.max(), budget.used());
      assertEquals(cgroups.usage(paths.get(0)), all.get(0).read(), "a closed one still reads, afresh");
      assertEquals(0, all.get(0).openFiles(), "and keeps nothing open");
    } finally {
      all.forEach(CgroupUsageFiles::close);
    }
    assertEquals(0, budget.used());
    assertEquals(0, OpenFds.below(root));
  }

  @ParameterizedTest(name = "cgroup {0}")
  @ValueSource(strings = {"v1", "v2"})
  void aCgroupThatNeverExistedReadsAsZerosAndHoldsNothing(String version) throws IOException {
    layOut(version);
    DescriptorBudget budget = new DescriptorBudget(100);
    try (CgroupUsageFiles files = cgroups.usageFiles("berth-x/never", budget)) {
      assertEquals(new CgroupStats(0, 0, 0, 0, 0, 0, 0, 0, 0, 0), files.read());
      assertEquals(0, budget.used());
    }
  }
}
