package dev.berth.agent.runtime.cgroup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import dev.berth.agent.runtime.RecordingSyscalls;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** cgroup v1 against fixture trees laid out like /sys/fs/cgroup on a v1 (or hybrid) system. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class CgroupV1FixtureTest {
  static final String LEAF = "berth-ab12/0123abcd";

  @TempDir Path root;
  final RecordingSyscalls sys = new RecordingSyscalls();
  Cgroups cgroups;

  /** Separate memory, cpu, cpuacct and pids hierarchies, plus ones Berth must ignore. */
  @BeforeEach
  void layOutRoot() throws IOException {
    for (String h : List.of("memory", "cpu", "cpuacct", "pids", "cpuset", "devices", "systemd")) {
      Files.writeString(Files.createDirectory(root.resolve(h)).resolve("cgroup.procs"), "1\n");
    }
    Files.writeString(Files.createDirectory(root.resolve("unified")).resolve("cgroup.controllers"), ""); // hybrid
    cgroups = new CgroupV1(root, sys, Duration.ofMillis(300));
  }

  static String read(Path file) throws IOException {
    return Files.readString(file);
  }

  @Test
  void detectSeesV1WhenTheRootHasNoControllersFile() {
    assertEquals("v1", Cgroups.detect(root, sys).version());
  }

  @Test
  void dirsAreOnePerHierarchyBerthUses() {
    assertEquals(List.of(root.resolve("memory/x/y"), root.resolve("cpu/x/y"), root.resolve("cpuacct/x/y"), root.resolve("pids/x/y"),
            root.resolve("devices/x/y")),
        cgroups.dirs("x/y"));
  }

  @ParameterizedTest(name = "limits({0}, {1}, {2}, {3})")
  @CsvSource(delimiter = '|', textBlock = """
      0         | 0      | 0      | 0   | -1        | 100000 | -1     | max
      67108864  | 50000  | 100000 | 100 | 67108864  | 100000 | 50000  | 100
      1073741824| 150000 | 0      | 0   | 1073741824| 100000 | 150000 | max
      0         | 0      | 250000 | 7   | -1        | 250000 | -1     | 7
      """)
  void createWritesTheLimits(long mem, long quota, long period, long pids, String memLimit, String cfsPeriod, String cfsQuota,
      String pidsMax) throws IOException {
    List<Path> dirs = cgroups.create(LEAF, new CgroupLimits(mem, quota, period, pids));
    assertEquals(cgroups.dirs(LEAF), dirs);
    dirs.forEach(d -> assertTrue(Files.isDirectory(d), d + " exists"));
    assertEquals(memLimit, read(root.resolve("memory").resolve(LEAF).resolve("memory.limit_in_bytes")));
    assertEquals(cfsPeriod, read(root.resolve("cpu").resolve(LEAF).resolve("cpu.cfs_period_us")));
    assertEquals(cfsQuota, read(root.resolve("cpu").resolve(LEAF).resolve("cpu.cfs_quota_us")));
    assertEquals(pidsMax, read(root.resolve("pids").resolve(LEAF).resolve("pids.max")));
    assertFalse(Files.exists(root.resolve("memory").resolve(LEAF).resolve("memory.memsw.limit_in_bytes")),
        "memsw is only written where the kernel has swap accounting");
    assertFalse(Files.exists(root.resolve("cpuset").resolve(LEAF)), "hierarchies Berth does not use are left alone");
  }

  @ParameterizedTest(name = "memory {0} over {1}")
  @CsvSource({"67108864, 9223372036854771712", "134217728, 67108864", "33554432, 67108864", "0, 67108864"})
  void memswFollowsTheMemoryLimit(long mem, long before) throws IOException {
    Path dir = Files.createDirectories(root.resolve("memory").resolve(LEAF));
    Files.writeString(dir.resolve("memory.limit_in_bytes"), before + "\n");
    Files.writeString(dir.resolve("memory.memsw.limit_in_bytes"), before + "\n");
    cgroups.create(LEAF, new CgroupLimits(mem, 0, 0, 0));
    String expected = mem > 0 ? Long.toString(mem) : "-1";
    assertEquals(expected, read(dir.resolve("memory.limit_in_bytes")));
    assertEquals(expected, read(dir.resolve("memory.memsw.limit_in_bytes")));
  }

  @Test
  void aCpuCpuacctHierarchyReachedThroughSymlinksIsUsedOnce() throws IOException {
    Path shared = Files.createDirectory(root.resolve("cpu,cpuacct"));
    Files.delete(root.resolve("cpu/cgroup.procs"));
    Files.delete(root.resolve("cpu"));
    Files.delete(root.resolve("cpuacct/cgroup.procs"));
    Files.delete(root.resolve("cpuacct"));
    Files.createSymbolicLink(root.resolve("cpu"), shared.getFileName());
    Files.createSymbolicLink(root.resolve("cpuacct"), shared.getFileName());
    Cgroups linked = Cgroups.detect(root, sys);

    List<Path> dirs = linked.create(LEAF, new CgroupLimits(0, 30000, 0, 0));
    assertEquals(List.of(root.resolve("memory").resolve(LEAF), root.resolve("cpu").resolve(LEAF), root.resolve("pids").resolve(LEAF),
        root.resolve("devices").resolve(LEAF)), dirs);
    assertEquals("30000", read(shared.resolve(LEAF).resolve("cpu.cfs_quota_us")));
    Files.writeString(shared.resolve(LEAF).resolve("cpuacct.usage"), "5555\n");
    assertEquals(5555, linked.stats(LEAF).cpuUsageNanos());
  }

  @Test
  void onlyTheHierarchiesPresentAreUsed() throws IOException {
    for (String h : List.of("cpu", "cpuacct", "pids", "devices")) {
      Files.delete(root.resolve(h).resolve("cgroup.procs"));
      Files.delete(root.resolve(h));
    }
    Cgroups memoryOnly = Cgroups.detect(root, sys);
    assertEquals(List.of(root.resolve("memory/c")), memoryOnly.create("c", new CgroupLimits(1 << 20, 0, 0, 0)));
    BerthException e = assertThrows(BerthException.class, () -> memoryOnly.create("c", new CgroupLimits(0, 0, 0, 10)));
    assertEquals(BerthException.Kind.FAILED_PRECONDITION, e.kind());
    assertTrue(e.getMessage().contains("pids"), e.getMessage());
    assertEquals(0, memoryOnly.stats("c").pidsLimit());
  }

  @Test
  void aRootWithoutAnyHierarchyIsAFailedPrecondition(@TempDir Path empty) throws IOException {
    Files.createDirectory(empty.resolve("systemd"));
    BerthException e = assertThrows(BerthException.class, () -> Cgroups.detect(empty, sys));
    assertEquals(BerthException.Kind.FAILED_PRECONDITION, e.kind());
    assertTrue(e.getMessage().contains(empty.toString()), e.getMessage());
  }

  @Test
  void aValueTheKernelRejectsIsAnInvalidArgumentNamingFileAndValue() throws IOException {
    Path cpu = Files.createDirectories(root.resolve("cpu").resolve(LEAF));
    Path full = Files.createSymbolicLink(cpu.resolve("cpu.cfs_quota_us"), Path.of("/dev/full"));
    BerthException e = assertThrows(BerthException.class, () -> cgroups.create(LEAF, new CgroupLimits(0, 500, 0, 0)));
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind());
    assertTrue(e.getMessage().contains("cpu.cfs_quota_us") && e.getMessage().contains("'500'"), e.getMessage());
    Files.delete(full); // so that @TempDir does not warn about a link leaving it
  }

  @ParameterizedTest(name = "memory.limit_in_bytes {0} -> {1}")
  @CsvSource({"9223372036854771712, 0", "67108864, 67108864"})
  void statsParsesTheKernelsFiles(String limitFile, long limit) throws IOException {
    Path mem = Files.createDirectories(root.resolve("memory").resolve(LEAF));
    Files.writeString(mem.resolve("memory.usage_in_bytes"), "52428800\n");
    Files.writeString(mem.resolve("memory.max_usage_in_bytes"), "73400320\n");
    Files.writeString(mem.resolve("memory.limit_in_bytes"), limitFile + "\n");
    Files.writeString(mem.resolve("memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 4\n");
    Path cpu = Files.createDirectories(root.resolve("cpu").resolve(LEAF));
    Files.writeString(cpu.resolve("cpu.stat"), "nr_periods 40\nnr_throttled 5\nthrottled_time 123456789\nnr_bursts 0\nburst_time 0\n");
    Path acct = Files.createDirectories(root.resolve("cpuacct").resolve(LEAF));
    Files.writeString(acct.resolve("cpuacct.usage"), "987654321\n");
    Path pids = Files.createDirectories(root.resolve("pids").resolve(LEAF));
    Files.writeString(pids.resolve("pids.current"), "2\n");
    Files.writeString(pids.resolve("pids.max"), "max\n");
    assertEquals(new CgroupStats(52428800, limit, 73400320, 4, 987654321, 40, 5, 123456789, 2, 0), cgroups.stats(LEAF));
  }

  @Test
  void statsOfAMissingCgroupAreZero() {
    assertEquals(new CgroupStats(0, 0, 0, 0, 0, 0, 0, 0, 0, 0), cgroups.stats("nope"));
  }

  @Test
  void pidsAreTheUnionOverTheHierarchies() throws IOException {
    cgroups.create(LEAF, CgroupLimits.NONE);
    Files.writeString(root.resolve("memory").resolve(LEAF).resolve("cgroup.procs"), "30\n10\n");
    Files.writeString(root.resolve("pids").resolve(LEAF).resolve("cgroup.procs"), "10\n20\n");
    assertEquals(List.of(10, 20, 30), cgroups.pids(LEAF));
  }

  @Test
  void destroyKillsEveryPidUntilNoneIsLeftThenRemovesEveryHierarchysDirectory() throws IOException {
    List<Path> dirs = cgroups.create(LEAF, new CgroupLimits(1 << 24, 0, 0, 10));
    for (Path d : dirs) {
      Files.writeString(d.resolve("cgroup.procs"), "4242\n");
    }
    RecordingSyscalls killing = new RecordingSyscalls() {
      @Override
      public synchronized boolean kill(int pid, int signal) {
        super.kill(pid, signal);
        try {
          Files.writeString(dirs.get(kills() % dirs.size()).resolve("cgroup.procs"), ""); // one hierarchy empties per round
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
        return true;
      }

      int kills() {
        return calls("kill").size() - 1;
      }
    };
    new CgroupV1(root, killing, Duration.ofSeconds(5)).destroy(LEAF);
    assertEquals(dirs.size(), killing.calls("kill").size(), "SIGKILL again while any hierarchy still lists the pid");
    killing.calls("kill").forEach(c -> assertEquals(List.of(4242, 9), c.args()));
    dirs.forEach(d -> assertFalse(Files.exists(d), d + " removed"));
    assertFalse(cgroups.exists(LEAF));
    assertTrue(cgroups.exists("berth-ab12"), "the parent stays");
    cgroups.destroy("berth-ab12");
    assertFalse(cgroups.exists("berth-ab12"));
  }

  @Test
  void destroyGivesUpWhenProcessesSurviveTheTimeout() throws IOException {
    Path procs = Files.createDirectories(root.resolve("pids").resolve(LEAF)).resolve("cgroup.procs");
    Files.writeString(procs, "4242\n");
    BerthException e = assertThrows(BerthException.class, () -> cgroups.destroy(LEAF));
    assertEquals(BerthException.Kind.INTERNAL, e.kind());
    assertTrue(e.getMessage().contains(LEAF), e.getMessage());
    assertFalse(sys.calls("kill").isEmpty());
    assertTrue(Files.exists(procs), "nothing is removed while processes remain");
  }

  /** The layout of a host with the freezer hierarchy, as this one has. */
  private Cgroups withFreezer() throws IOException {
    Files.writeString(Files.createDirectory(root.resolve("freezer")).resolve("cgroup.procs"), "1\n");
    return new CgroupV1(root, sys, Duration.ofMillis(300));
  }

  @Test
  void theFreezerHierarchyIsUsedWhereItExists() throws IOException {
    Cgroups v1 = withFreezer();
    List<Path> dirs = v1.create(LEAF, CgroupLimits.NONE);
    assertEquals(root.resolve("freezer").resolve(LEAF), dirs.get(dirs.size() - 1));
    assertTrue(Files.isDirectory(root.resolve("freezer").resolve(LEAF)), "processes join it, so that commit can pause them");
  }

  @Test
  void freezeWritesFrozenAndThawWritesThawed() throws IOException {
    Cgroups v1 = withFreezer();
    v1.create(LEAF, CgroupLimits.NONE);
    Path state = root.resolve("freezer").resolve(LEAF).resolve("freezer.state");
    assertFalse(v1.frozen(LEAF));

    v1.freeze(LEAF);
    assertEquals("FROZEN", read(state));
    assertTrue(v1.frozen(LEAF));
    v1.freeze(LEAF);
    assertTrue(v1.frozen(LEAF), "freezing again changes nothing");

    v1.thaw(LEAF);
    assertEquals("THAWED", read(state));
    assertFalse(v1.frozen(LEAF));
  }

  @Test
  void aFreezerThatNeverReportsFrozenIsUnavailableAfterTheTimeout() throws IOException {
    Cgroups v1 = withFreezer();
    v1.create(LEAF, CgroupLimits.NONE);
    // Writes vanish and reads are empty: the state never gets to FROZEN, as with a task stuck in D state.
    Path state = Files.createSymbolicLink(root.resolve("freezer").resolve(LEAF).resolve("freezer.state"), Path.of("/dev/null"));
    BerthException e = assertThrows(BerthException.class, () -> v1.freeze(LEAF));
    assertEquals(BerthException.Kind.UNAVAILABLE, e.kind());
    assertTrue(e.getMessage().contains(LEAF) && e.getMessage().contains("thawed again"), e.getMessage());
    Files.delete(state); // so that @TempDir does not warn about a link leaving it
  }

  @Test
  void freezeNeedsTheFreezerHierarchyAndTheCgroupInIt() throws IOException {
    cgroups.create(LEAF, CgroupLimits.NONE);
    BerthException none = assertThrows(BerthException.class, () -> cgroups.freeze(LEAF));
    assertEquals(BerthException.Kind.FAILED_PRECONDITION, none.kind());
    assertTrue(none.getMessage().contains("freezer"), none.getMessage());
    cgroups.thaw(LEAF);
    assertFalse(cgroups.frozen(LEAF));

    Cgroups v1 = withFreezer(); // as for a container created before Berth used the freezer
    BerthException missing = assertThrows(BerthException.class, () -> v1.freeze(LEAF));
    assertEquals(BerthException.Kind.NOT_FOUND, missing.kind());
    assertTrue(missing.getMessage().contains(LEAF), missing.getMessage());
    v1.thaw(LEAF);
    assertFalse(v1.frozen(LEAF));
    assertFalse(Files.exists(root.resolve("freezer").resolve(LEAF)), "thaw creates nothing");
  }

  /** A v1 freezer holds back SIGKILL: destroy sends it first, then thaws, so nothing runs in between. */
  @Test
  void destroyOfAFrozenCgroupKillsThenThaws() throws IOException {
    Cgroups v1 = withFreezer();
    List<Path> dirs = v1.create(LEAF, CgroupLimits.NONE);
    for (Path d : dirs) {
      Files.writeString(d.resolve("cgroup.procs"), "4242\n");
    }
    v1.freeze(LEAF);
    Path state = root.resolve("freezer").resolve(LEAF).resolve("freezer.state");
    List<String> statesAtKill = new java.util.ArrayList<>();
    RecordingSyscalls killing = new RecordingSyscalls() {
      @Override
      public synchronized boolean kill(int pid, int signal) {
        super.kill(pid, signal);
        try {
          statesAtKill.add(Files.readString(state));
          if (statesAtKill.size() == 2) { // the thawed processes die
            for (Path d : dirs) {
              Files.writeString(d.resolve("cgroup.procs"), "");
            }
          }
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
        return true;
      }
    };
    new CgroupV1(root, killing, Duration.ofSeconds(5)).destroy(LEAF);
    assertEquals(List.of("FROZEN", "THAWED"), statesAtKill);
    dirs.forEach(d -> assertFalse(Files.exists(d), d + " removed"));
  }

  @Test
  void statsReadTheMemoryBreakdownTheCpuSplitAndTheProcesses() throws IOException {
    Path mem = Files.createDirectories(root.resolve("memory").resolve(LEAF));
    Files.writeString(mem.resolve("memory.usage_in_bytes"), "60000000\n");
    // The hierarchical totals count, not the cgroup's own lines (the container's init may sit in a child).
    Files.writeString(mem.resolve("memory.stat"), "cache 1\nrss 2\ninactive_file 3\ntotal_cache 20000000\n"
        + "total_rss 39000000\ntotal_inactive_file 15000000\ntotal_active_file 5000000\n");
    Path acct = Files.createDirectories(root.resolve("cpuacct").resolve(LEAF));
    Files.writeString(acct.resolve("cpuacct.stat"), "user 150\nsystem 25\n");
    Path pids = Files.createDirectories(root.resolve("pids").resolve(LEAF));
    Files.writeString(pids.resolve("cgroup.procs"), "101\n102\n103\n");
    CgroupStats s = cgroups.stats(LEAF);
    assertEquals(20000000, s.memoryCacheBytes());
    assertEquals(39000000, s.memoryRssBytes());
    assertEquals(15000000, s.memoryInactiveFileBytes());
    assertEquals(45000000, s.memoryWorkingSetBytes());
    assertEquals(1_500_000_000L, s.cpuUserNanos());
    assertEquals(250_000_000L, s.cpuSystemNanos());
    assertEquals(3, s.processes());
  }
}
