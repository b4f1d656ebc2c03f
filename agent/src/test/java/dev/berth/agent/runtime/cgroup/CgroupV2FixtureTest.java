package dev.berth.agent.runtime.cgroup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import dev.berth.agent.runtime.ContainerDefaults;
import dev.berth.agent.runtime.RecordingSyscalls;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** cgroup v2 against a fixture tree laid out like /sys/fs/cgroup on a unified system. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class CgroupV2FixtureTest {
  static final String LEAF = "berth-ab12/0123abcd";

  @TempDir Path root;
  final RecordingSyscalls sys = new RecordingSyscalls();
  Cgroups cgroups;

  @BeforeEach
  void layOutRoot() throws IOException {
    Files.writeString(root.resolve("cgroup.controllers"), "cpuset cpu io memory hugetlb pids rdma misc\n");
    Files.writeString(root.resolve("cgroup.subtree_control"), "");
    Files.writeString(root.resolve("cgroup.procs"), "1\n");
    cgroups = new CgroupV2(root, sys, Duration.ofMillis(300));
  }

  static String read(Path file) throws IOException {
    return Files.readString(file);
  }

  @Test
  void detectSeesV2ByTheRootsControllersFile() {
    assertEquals("v2", Cgroups.detect(root, sys).version());
  }

  @ParameterizedTest(name = "limits({0}, {1}, {2}, {3}) -> memory.max={4} cpu.max={5} pids.max={6}")
  @CsvSource(delimiter = '|', textBlock = """
      0         | 0      | 0      | 0   | max        | max 100000    | max
      67108864  | 50000  | 100000 | 100 | 67108864   | 50000 100000  | 100
      1073741824| 150000 | 0      | 0   | 1073741824 | 150000 100000 | max
      0         | 0      | 250000 | 7   | max        | max 250000    | 7
      """)
  void createWritesTheLimits(long mem, long quota, long period, long pids, String memoryMax, String cpuMax, String pidsMax)
      throws IOException {
    List<Path> dirs = cgroups.create(LEAF, new CgroupLimits(mem, quota, period, pids));
    Path leaf = root.resolve(LEAF);
    assertEquals(List.of(leaf), dirs);
    assertEquals(dirs, cgroups.dirs(LEAF));
    assertEquals(memoryMax, read(leaf.resolve("memory.max")));
    assertEquals(cpuMax, read(leaf.resolve("cpu.max")));
    assertEquals(pidsMax, read(leaf.resolve("pids.max")));
    assertFalse(Files.exists(leaf.resolve("memory.swap.max")), "swap.max is only written where the kernel has it");
    assertTrue(cgroups.exists(LEAF));
  }

  @Test
  void createEnablesTheControllersInEveryAncestorButNotTheLeaf() throws IOException {
    cgroups.create(LEAF, CgroupLimits.NONE);
    assertEquals("+cpu +memory +pids", read(root.resolve("cgroup.subtree_control")));
    assertEquals("+cpu +memory +pids", read(root.resolve("berth-ab12/cgroup.subtree_control")));
    assertFalse(Files.exists(root.resolve(LEAF).resolve("cgroup.subtree_control")));
  }

  @ParameterizedTest(name = "already enabled: \"{0}\"")
  @CsvSource(delimiter = '|', textBlock = """
      cpu memory pids        | cpu memory pids
      cpuset cpu             | +memory +pids
      memory io              | +cpu +pids
      """)
  void createEnablesOnlyWhatIsMissing(String enabled, String expected) throws IOException {
    Files.writeString(root.resolve("cgroup.subtree_control"), enabled + "\n");
    cgroups.create("c", CgroupLimits.NONE);
    assertEquals(expected, read(root.resolve("cgroup.subtree_control")).trim());
  }

  @ParameterizedTest(name = "memory {0} -> memory.swap.max {1}")
  @CsvSource({"67108864, 0", "0, max"})
  void swapIsOffWhenMemoryIsLimited(long mem, String swap) throws IOException {
    Path leaf = Files.createDirectories(root.resolve(LEAF));
    Files.writeString(leaf.resolve("memory.swap.max"), "max\n");
    cgroups.create(LEAF, new CgroupLimits(mem, 0, 0, 0));
    assertEquals(swap, read(leaf.resolve("memory.swap.max")));
  }

  @Test
  void createIsIdempotentAndTheLastLimitsWin() throws IOException {
    cgroups.create(LEAF, new CgroupLimits(1 << 30, 20000, 0, 50));
    List<Path> again = cgroups.create(LEAF, CgroupLimits.NONE);
    assertEquals(List.of(root.resolve(LEAF)), again);
    assertEquals("max", read(root.resolve(LEAF).resolve("memory.max")));
    assertEquals("max 100000", read(root.resolve(LEAF).resolve("cpu.max")));
  }

  @Test
  void onlyTheControllersTheRootOffersAreUsed() throws IOException {
    Files.writeString(root.resolve("cgroup.controllers"), "cpu io\n");
    cgroups.create(LEAF, new CgroupLimits(0, 10000, 0, 0));
    assertEquals("+cpu", read(root.resolve("cgroup.subtree_control")));
    assertFalse(Files.exists(root.resolve(LEAF).resolve("memory.max")));
    BerthException e = assertThrows(BerthException.class, () -> cgroups.create(LEAF, new CgroupLimits(1 << 20, 0, 0, 0)));
    assertEquals(BerthException.Kind.FAILED_PRECONDITION, e.kind());
    assertTrue(e.getMessage().contains("memory"), e.getMessage());
  }

  @Test
  void aValueTheKernelRejectsIsAnInvalidArgumentNamingFileAndValue() throws IOException {
    Path leaf = Files.createDirectories(root.resolve(LEAF));
    Path full = Files.createSymbolicLink(leaf.resolve("memory.max"), Path.of("/dev/full")); // every write fails
    BerthException e = assertThrows(BerthException.class, () -> cgroups.create(LEAF, new CgroupLimits(4096, 0, 0, 0)));
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind());
    assertTrue(e.getMessage().contains(leaf.resolve("memory.max").toString()) && e.getMessage().contains("'4096'"), e.getMessage());
    Files.delete(full); // so that @TempDir does not warn about a link leaving it
  }

  @Test
  void aControlFileThatCannotBeOpenedIsAnIoErrorNamingIt() throws IOException {
    Path leaf = Files.createDirectories(root.resolve(LEAF));
    Files.createDirectory(leaf.resolve("pids.max"));
    UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> cgroups.create(LEAF, CgroupLimits.NONE));
    assertTrue(e.getMessage().contains(leaf.resolve("pids.max").toString()), e.getMessage());
  }

  @ParameterizedTest(name = "\"{0}\"")
  @ValueSource(strings = {"", "/abs", "a//b", "../x", "a/./b", "a/", "a/.."})
  void aBadRelativePathIsRejected(String rel) {
    for (Runnable call : List.<Runnable>of(() -> cgroups.create(rel, CgroupLimits.NONE), () -> cgroups.dirs(rel),
        () -> cgroups.destroy(rel), () -> cgroups.stats(rel))) {
      assertEquals(BerthException.Kind.INVALID_ARGUMENT, assertThrows(BerthException.class, call::run).kind());
    }
  }

  @ParameterizedTest(name = "limits({0}, {1}, {2}, {3})")
  @CsvSource({"-1, 0, 0, 0", "0, -1, 0, 0", "0, 0, -1, 0", "0, 0, 0, -1"})
  void negativeLimitsAreInvalid(long mem, long quota, long period, long pids) {
    BerthException e = assertThrows(BerthException.class, () -> new CgroupLimits(mem, quota, period, pids));
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind());
    assertTrue(e.getMessage().contains("-1"), e.getMessage());
  }

  @Test
  void statsParsesTheKernelsFiles() throws IOException {
    Path leaf = Files.createDirectories(root.resolve(LEAF));
    Files.writeString(leaf.resolve("memory.current"), "123456789\n");
    Files.writeString(leaf.resolve("memory.max"), "268435456\n");
    Files.writeString(leaf.resolve("memory.peak"), "200000000\n");
    Files.writeString(leaf.resolve("memory.events"), "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n");
    Files.writeString(leaf.resolve("cpu.stat"), """
        usage_usec 5000123
        user_usec 4000000
        system_usec 1000123
        core_sched.force_idle_usec 0
        nr_periods 250
        nr_throttled 17
        throttled_usec 88000
        nr_bursts 0
        burst_usec 0
        """);
    Files.writeString(leaf.resolve("pids.current"), "3\n");
    Files.writeString(leaf.resolve("pids.max"), "max\n");
    assertEquals(new CgroupStats(123456789, 268435456, 200000000, 2, 5000123000L, 250, 17, 88000000, 3, 0,
        0, 0, 0, 4000000000L, 1000123000L, 0), cgroups.stats(LEAF));
  }

  @Test
  void statsOfAMissingCgroupOrMissingFilesAreZero() throws IOException {
    assertEquals(new CgroupStats(0, 0, 0, 0, 0, 0, 0, 0, 0, 0), cgroups.stats("nope"));
    Path leaf = Files.createDirectories(root.resolve(LEAF));
    Files.writeString(leaf.resolve("memory.max"), "max\n");
    Files.writeString(leaf.resolve("pids.max"), "64\n");
    assertEquals(new CgroupStats(0, 0, 0, 0, 0, 0, 0, 0, 0, 64), cgroups.stats(LEAF));
  }

  @Test
  void pidsAreReadFromCgroupProcs() throws IOException {
    Path leaf = Files.createDirectories(root.resolve(LEAF));
    Files.writeString(leaf.resolve("cgroup.procs"), "12\n7\n");
    assertEquals(List.of(7, 12), cgroups.pids(LEAF));
    assertEquals(List.of(), cgroups.pids("nope"));
  }

  @Test
  void destroyOfAMissingCgroupDoesNothing() {
    cgroups.destroy("berth-ab12/none");
    assertEquals(List.of(), sys.calls());
  }

  @Test
  void destroyWithoutCgroupKillSignalsEachPidThenRemovesTheTree() throws IOException {
    Path leaf = Files.createDirectories(root.resolve(LEAF));
    Path procs = Files.writeString(leaf.resolve("cgroup.procs"), "12\n7\n");
    Files.writeString(leaf.resolve("memory.max"), "max\n");
    Path child = Files.createDirectories(leaf.resolve("sub"));
    Files.writeString(child.resolve("cgroup.procs"), "");
    RecordingSyscalls killing = new RecordingSyscalls() {
      @Override
      public synchronized boolean kill(int pid, int signal) {
        super.kill(pid, signal);
        try {
          Files.writeString(procs, ""); // the processes die
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
        return true;
      }
    };
    new CgroupV2(root, killing, Duration.ofSeconds(5)).destroy(LEAF);
    assertEquals(List.of(List.of(12, 9), List.of(7, 9)), killing.calls("kill").stream().map(c -> c.args()).toList());
    assertFalse(Files.exists(leaf));
    assertTrue(Files.isDirectory(root.resolve("berth-ab12")), "the parent stays");
  }

  @Test
  void destroyUsesCgroupKillAndGivesUpAfterTheTimeout() throws IOException {
    Path leaf = Files.createDirectories(root.resolve(LEAF));
    Files.writeString(leaf.resolve("cgroup.procs"), "4242\n"); // never goes away in a fixture
    Path kill = Files.writeString(leaf.resolve("cgroup.kill"), "");
    BerthException e = assertThrows(BerthException.class, () -> cgroups.destroy(LEAF));
    assertEquals(BerthException.Kind.INTERNAL, e.kind());
    assertTrue(e.getMessage().contains(LEAF) && e.getMessage().contains("4242"), e.getMessage());
    assertEquals("1", read(kill));
    assertEquals(List.of(), sys.calls("kill"), "no per-pid kill when cgroup.kill exists");
  }

  @Test
  void deviceRulesAreLoadedAsAProgramAttachedToTheCgroupThenItsDescriptorIsClosed() throws IOException {
    List<Path> dirs = cgroups.create(LEAF, CgroupLimits.NONE, ContainerDefaults.DEVICE_RULES);
    Path leaf = root.resolve(LEAF);
    assertEquals(List.of(leaf), dirs);
    assertEquals(List.of("bpfProgLoadCgroupDevice", "bpfProgAttachCgroup", "close"),
        sys.calls().stream().map(RecordingSyscalls.Call::name).toList());
    byte[] program = DeviceFilter.compile(ContainerDefaults.DEVICE_RULES);
    RecordingSyscalls.Call load = sys.calls("bpfProgLoadCgroupDevice").get(0);
    assertTrue(Arrays.equals(program, (byte[]) load.arg(0)), "the compiled rules are loaded");
    assertEquals(DeviceFilter.LICENSE, load.arg(1));
    int fd = (Integer) sys.calls("bpfProgAttachCgroup").get(0).arg(1);
    assertEquals(List.of(leaf, fd), sys.calls("bpfProgAttachCgroup").get(0).args());
    assertEquals(List.of(fd), sys.calls("close").get(0).args());
    assertEquals(1, sys.attached(leaf).size());
    assertTrue(Arrays.equals(program, sys.attached(leaf).get(0)));
    assertEquals(List.of(), sys.attached(root.resolve("berth-ab12")), "only the leaf gets the program");
    assertTrue(sys.openFds().isEmpty(), "no descriptor leaks");
    assertEquals("+cpu +memory +pids", read(root.resolve("cgroup.subtree_control")), "the rest is created as without rules");
  }

  @Test
  void aMalformedDeviceRuleFailsBeforeAnythingIsCreated() {
    BerthException e = assertThrows(BerthException.class,
        () -> cgroups.create(LEAF, CgroupLimits.NONE, List.of("c 1:3 rwm", "c 1:3 rwx")));
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind());
    assertTrue(e.getMessage().contains("'c 1:3 rwx'"), e.getMessage());
    assertFalse(Files.exists(root.resolve("berth-ab12")));
    assertEquals(List.of(), sys.calls());
  }

  @ParameterizedTest(name = "errno {0} -> {1}")
  @CsvSource({"1, FAILED_PRECONDITION", "38, FAILED_PRECONDITION", "22, INTERNAL", "13, INTERNAL"})
  void aKernelThatRefusesTheProgramFailsTheCreate(int errno, BerthException.Kind kind) {
    sys.failNext("bpfProgLoadCgroupDevice", errno);
    BerthException e = assertThrows(BerthException.class,
        () -> cgroups.create(LEAF, CgroupLimits.NONE, ContainerDefaults.DEVICE_RULES));
    assertEquals(kind, e.kind());
    assertTrue(e.getMessage().contains(LEAF) && e.getMessage().contains("device rules")
        && e.getMessage().contains("errno " + errno), e.getMessage());
    assertEquals(List.of(), sys.calls("bpfProgAttachCgroup"));
    assertEquals(List.of(), sys.calls("close"), "nothing was loaded");
  }

  @Test
  void aFailedAttachStillClosesTheProgram() {
    sys.failNext("bpfProgAttachCgroup", 1);
    BerthException e = assertThrows(BerthException.class,
        () -> cgroups.create(LEAF, CgroupLimits.NONE, ContainerDefaults.DEVICE_RULES));
    assertEquals(BerthException.Kind.FAILED_PRECONDITION, e.kind());
    assertTrue(e.getMessage().contains("attach"), e.getMessage());
    assertEquals(List.of(), sys.attached(root.resolve(LEAF)));
    assertTrue(sys.openFds().isEmpty(), "the program's descriptor is closed");
  }

  @Test
  void destroyOfAParentRemovesItsChildren() {
    cgroups.create("berth-ab12/a", CgroupLimits.NONE);
    cgroups.create("berth-ab12/b", CgroupLimits.NONE);
    cgroups.destroy("berth-ab12");
    assertFalse(cgroups.exists("berth-ab12"));
    assertTrue(Files.exists(root.resolve("cgroup.controllers")));
  }

  /** A cgroup as a kernel with the v2 freezer (5.2+) lays it out: cgroup.freeze and cgroup.events. */
  private Path freezable() throws IOException {
    Path leaf = cgroups.create(LEAF, CgroupLimits.NONE).get(0);
    Files.writeString(leaf.resolve("cgroup.freeze"), "0\n");
    Files.writeString(leaf.resolve("cgroup.events"), "populated 1\nfrozen 0\n");
    return leaf;
  }

  @Test
  void freezeReturnsOnlyOnceTheKernelReportsFrozen() throws Exception {
    Path leaf = freezable();
    java.util.concurrent.atomic.AtomicBoolean reported = new java.util.concurrent.atomic.AtomicBoolean();
    Thread kernel = new Thread(() -> {
      try {
        while (!read(leaf.resolve("cgroup.freeze")).trim().equals("1")) {
          Thread.sleep(5);
        }
        Thread.sleep(100); // the processes take a while to stop
        reported.set(true);
        Files.writeString(leaf.resolve("cgroup.events"), "populated 1\nfrozen 1\n");
      } catch (IOException | InterruptedException e) {
        throw new IllegalStateException(e);
      }
    });
    kernel.start();
    cgroups.freeze(LEAF);
    assertTrue(reported.get(), "freeze waited for cgroup.events");
    assertTrue(cgroups.frozen(LEAF));
    kernel.join();

    cgroups.thaw(LEAF);
    assertEquals("0", read(leaf.resolve("cgroup.freeze")));
  }

  @Test
  void aCgroupThatDoesNotFreezeInTimeIsThawedAgainAndUnavailable() throws IOException {
    Path leaf = freezable();
    BerthException e = assertThrows(BerthException.class, () -> cgroups.freeze(LEAF));
    assertEquals(BerthException.Kind.UNAVAILABLE, e.kind());
    assertTrue(e.getMessage().contains(LEAF) && e.getMessage().contains("300 ms"), e.getMessage());
    assertEquals("0", read(leaf.resolve("cgroup.freeze")), "not left half-frozen");
    assertFalse(cgroups.frozen(LEAF));
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({
      "a kernel without cgroup.freeze, true, FAILED_PRECONDITION",
      "a cgroup that does not exist, false, NOT_FOUND"})
  void freezeRefuses(String what, boolean create, BerthException.Kind kind) {
    if (create) {
      cgroups.create(LEAF, CgroupLimits.NONE);
    }
    BerthException e = assertThrows(BerthException.class, () -> cgroups.freeze(LEAF));
    assertEquals(kind, e.kind(), e.getMessage());
    assertTrue(e.getMessage().contains(LEAF), e.getMessage());
    cgroups.thaw(LEAF);
    assertFalse(cgroups.frozen(LEAF));
    assertFalse(Files.exists(root.resolve(LEAF).resolve("cgroup.freeze")), "thaw writes nothing there");
  }

  @Test
  void statsReadTheMemoryBreakdownTheCpuSplitAndTheProcesses() throws IOException {
    Path leaf = Files.createDirectories(root.resolve(LEAF));
    Files.writeString(leaf.resolve("memory.current"), "60000000\n");
    Files.writeString(leaf.resolve("memory.stat"), "anon 39000000\nfile 20000000\nkernel 1000\n"
        + "active_file 5000000\ninactive_file 15000000\n");
    Files.writeString(leaf.resolve("cpu.stat"), "usage_usec 1750000\nuser_usec 1500000\nsystem_usec 250000\n");
    Files.writeString(leaf.resolve("cgroup.procs"), "101\n102");
    CgroupStats s = cgroups.stats(LEAF);
    assertEquals(20000000, s.memoryCacheBytes());
    assertEquals(39000000, s.memoryRssBytes());
    assertEquals(15000000, s.memoryInactiveFileBytes());
    assertEquals(45000000, s.memoryWorkingSetBytes());
    assertEquals(1_750_000_000L, s.cpuUsageNanos());
    assertEquals(1_500_000_000L, s.cpuUserNanos());
    assertEquals(250_000_000L, s.cpuSystemNanos());
    assertEquals(2, s.processes());
  }

  @Test
  void workingSetNeverGoesBelowZero() {
    assertEquals(0, new CgroupStats(10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0).memoryWorkingSetBytes());
  }
}
