package dev.berth.agent.runtime.cgroup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.agent.BerthException;
import dev.berth.agent.runtime.LinuxSyscalls;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * cgroup v1 on the real kernel: needs root and a v1 memory hierarchy at /sys/fs/cgroup/memory.
 * Every test works under its own {@code berth-test-<random>} cgroup, which @AfterEach destroys
 * (with any process left in it), so nothing is left behind even when a test fails.
 */
@Tag("linux")
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CgroupV1LinuxTest {
  static final Path ROOT = Path.of("/sys/fs/cgroup");
  static final long MIB = 1 << 20;

  final String parent = "berth-test-" + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 1);
  final String child = parent + "/c1";
  Cgroups cgroups;
  Process sleeper;

  @BeforeAll
  static void onlyAsRootOnCgroupV1() throws IOException {
    assumeTrue(System.getProperty("os.name").startsWith("Linux"), "needs Linux");
    assumeTrue(Files.readString(Path.of("/proc/self/status")).lines().anyMatch(l -> l.matches("Uid:\\s+0\\s.*")),
        "needs root to create cgroups");
    assumeTrue(Files.isDirectory(ROOT.resolve("memory")) && !Files.exists(ROOT.resolve("cgroup.controllers")),
        "needs cgroup v1 with a memory hierarchy at " + ROOT.resolve("memory"));
  }

  @BeforeEach
  void detect() {
    cgroups = Cgroups.detect(ROOT, new LinuxSyscalls());
    assertEquals("v1", cgroups.version());
  }

  @AfterEach
  void removeEverything() throws Exception {
    try {
      if (sleeper != null) {
        sleeper.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    } finally {
      cgroups.destroy(parent);
      for (Path d : cgroups.dirs(parent)) {
        assertFalse(Files.exists(d), d + " left behind");
      }
    }
  }

  static String read(Path file) throws IOException {
    return Files.readString(file).trim();
  }

  private Path dir(String controller, String rel) {
    return cgroups.dirs(rel).stream().filter(d -> d.startsWith(ROOT.resolve(controller))).findFirst().orElseThrow();
  }

  @Test
  void createAppliesTheLimitsAndDestroyKillsTheProcessAndRemovesTheDirectories() throws Exception {
    List<Path> dirs = cgroups.create(child, new CgroupLimits(64 * MIB, 50_000, 100_000, 100));
    assertEquals(cgroups.dirs(child), dirs);
    dirs.forEach(d -> assertTrue(Files.isDirectory(d), d + " created"));
    Path memory = dir("memory", child);
    assertEquals(Long.toString(64 * MIB), read(memory.resolve("memory.limit_in_bytes")));
    if (Files.exists(memory.resolve("memory.memsw.limit_in_bytes"))) {
      assertEquals(Long.toString(64 * MIB), read(memory.resolve("memory.memsw.limit_in_bytes")));
    }
    assertEquals("50000", read(dir("cpu", child).resolve("cpu.cfs_quota_us")));
    assertEquals("100000", read(dir("cpu", child).resolve("cpu.cfs_period_us")));
    assertEquals("100", read(dir("pids", child).resolve("pids.max")));

    sleeper = new ProcessBuilder("sleep", "30").start();
    int pid = (int) sleeper.pid();
    for (Path d : dirs) {
      Files.writeString(d.resolve("cgroup.procs"), Integer.toString(pid));
    }
    assertEquals(List.of(pid), cgroups.pids(child));
    CgroupStats stats = cgroups.stats(child);
    assertEquals(64 * MIB, stats.memoryLimitBytes());
    assertEquals(100, stats.pidsLimit());
    assertEquals(1, stats.pids());
    assertEquals(0, stats.oomKills());
    assertTrue(stats.cpuUsageNanos() >= 0 && stats.memoryUsageBytes() >= 0, stats.toString());

    cgroups.destroy(child);
    assertTrue(sleeper.waitFor(5, TimeUnit.SECONDS), "destroy killed the process");
    assertEquals(128 + 9, sleeper.exitValue());
    dirs.forEach(d -> assertFalse(Files.exists(d), d + " removed"));
    assertFalse(cgroups.exists(child));
    assertTrue(cgroups.exists(parent), "destroy leaves the parent");
    cgroups.destroy(parent);
    assertFalse(cgroups.exists(parent));
  }

  @Test
  void theMemoryLimitCanBeRaisedLoweredAndLifted() throws IOException {
    Path limit = dir("memory", child).resolve("memory.limit_in_bytes");
    for (long mib : new long[] {64, 128, 32}) {
      cgroups.create(child, new CgroupLimits(mib * MIB, 0, 0, 0));
      assertEquals(Long.toString(mib * MIB), read(limit));
      assertEquals(mib * MIB, cgroups.stats(child).memoryLimitBytes());
    }
    cgroups.create(child, CgroupLimits.NONE);
    assertEquals(0, cgroups.stats(child).memoryLimitBytes());
    assertEquals("-1", read(dir("cpu", child).resolve("cpu.cfs_quota_us")));
    assertEquals(0, cgroups.stats(child).pidsLimit());
  }

  @Test
  void aQuotaBelowTheKernelsMinimumIsAnInvalidArgument() {
    BerthException e = assertThrows(BerthException.class, () -> cgroups.create(child, new CgroupLimits(0, 500, 100_000, 0)));
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind());
    assertTrue(e.getMessage().contains("cpu.cfs_quota_us") && e.getMessage().contains("'500'"), e.getMessage());
  }

  @Test
  void destroyOfAParentRemovesItsChildrenAndOfAMissingCgroupDoesNothing() {
    cgroups.create(parent + "/a", CgroupLimits.NONE);
    cgroups.create(parent + "/b/c", new CgroupLimits(16 * MIB, 0, 0, 0));
    cgroups.destroy(parent);
    assertFalse(cgroups.exists(parent));
    cgroups.destroy(parent);
  }

  @Test
  void aFrozenCgroupMakesNoProgressUntilItIsThawed(@TempDir Path tmp) throws Exception {
    assumeTrue(Files.isDirectory(ROOT.resolve("freezer")), "needs the v1 freezer hierarchy at " + ROOT.resolve("freezer"));
    CountingLoop.assertFreezeStopsAndThawResumes(cgroups, child, tmp.resolve("counter"));
  }
}
