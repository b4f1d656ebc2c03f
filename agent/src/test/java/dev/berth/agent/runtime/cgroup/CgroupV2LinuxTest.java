package dev.berth.agent.runtime.cgroup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.agent.runtime.ContainerDefaults;
import dev.berth.agent.runtime.LinuxSyscalls;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
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
 * cgroup v2 on the real kernel, as root: at /sys/fs/cgroup on a unified system, or at the
 * (controller-less) /sys/fs/cgroup/unified of a hybrid one, where only the limits of the
 * controllers the root offers are asked for. Device rules need no controller, so they are
 * tested at either. The test's cgroup is destroyed in @AfterEach, with any process left in it.
 */
@Tag("linux")
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CgroupV2LinuxTest {
  static Path root;

  final String parent = "berth-test-" + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 1);
  final String child = parent + "/c1";
  Cgroups cgroups;
  Process sleeper;
  /** Fifo and device nodes of the device test; removed with the directory, after @AfterEach. */
  @TempDir Path tmp;

  @BeforeAll
  static void onlyAsRootOnCgroupV2() throws IOException {
    assumeTrue(System.getProperty("os.name").startsWith("Linux"), "needs Linux");
    assumeTrue(Files.readString(Path.of("/proc/self/status")).lines().anyMatch(l -> l.matches("Uid:\\s+0\\s.*")),
        "needs root to create cgroups");
    root = List.of(Path.of("/sys/fs/cgroup"), Path.of("/sys/fs/cgroup/unified")).stream()
        .filter(r -> Files.exists(r.resolve("cgroup.controllers"))).findFirst().orElse(null);
    assumeTrue(root != null, "needs a cgroup2 file system at /sys/fs/cgroup or /sys/fs/cgroup/unified");
  }

  @BeforeEach
  void detect() {
    cgroups = Cgroups.detect(root, new LinuxSyscalls());
    assertEquals("v2", cgroups.version());
  }

  @AfterEach
  void removeEverything() throws Exception {
    // The cgroup goes (which detaches its device program); @TempDir then removes the nodes.
    try {
      if (sleeper != null) {
        sleeper.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    } finally {
      cgroups.destroy(parent);
      assertFalse(Files.exists(root.resolve(parent)), parent + " left behind");
    }
  }

  @Test
  void createJoinAndDestroyKillsAndRemoves() throws Exception {
    Set<String> offered = CgroupFs.words(root.resolve("cgroup.controllers"));
    CgroupLimits limits = new CgroupLimits(offered.contains("memory") ? 64L << 20 : 0,
        offered.contains("cpu") ? 50_000 : 0, 0, offered.contains("pids") ? 100 : 0);
    List<Path> dirs = cgroups.create(child, limits);
    assertEquals(List.of(root.resolve(child)), dirs);
    assertEquals(dirs, cgroups.create(child, limits), "idempotent");
    Path dir = dirs.get(0);
    if (offered.contains("memory")) {
      assertEquals(Long.toString(64L << 20), Files.readString(dir.resolve("memory.max")).trim());
    }
    if (offered.contains("cpu")) {
      assertEquals("50000 100000", Files.readString(dir.resolve("cpu.max")).trim());
    }

    sleeper = new ProcessBuilder("sleep", "30").start();
    Files.writeString(dir.resolve("cgroup.procs"), Long.toString(sleeper.pid()));
    assertEquals(List.of((int) sleeper.pid()), cgroups.pids(child));
    assertEquals(limits.memoryBytes(), cgroups.stats(child).memoryLimitBytes());

    cgroups.destroy(child);
    assertTrue(sleeper.waitFor(5, TimeUnit.SECONDS), "destroy killed the process");
    assertEquals(128 + 9, sleeper.exitValue());
    assertFalse(Files.exists(dir));
    assertTrue(cgroups.exists(parent));
  }

  /**
   * A process in a cgroup created with Docker's default device rules may use /dev/zero and
   * /dev/null and mknod any node, but not open a disk or /dev/mem through the nodes it made.
   * Without the program, those opens would reach the drivers and succeed or fail otherwise
   * (ENXIO where there is no such device), but never with EPERM for root.
   */
  @Test
  void theDefaultDeviceRulesAreEnforcedByTheAttachedProgram() throws Exception {
    Path dir = cgroups.create(child, CgroupLimits.NONE, ContainerDefaults.DEVICE_RULES).get(0);
    Path go = tmp.resolve("go");
    new LinuxSyscalls().mknod(go, 'p', 0600, 0, 0);
    Path disk = tmp.resolve("disk");
    Path mem = tmp.resolve("mem");
    String script = String.join("\n",
        "read line < " + go, // blocks until the test has moved the shell into the cgroup
        "head -c 1 /dev/zero >/dev/null && echo zero-ok",
        "mknod " + disk + " b 8 0 && echo mknod-disk-ok",
        "head -c 1 " + disk + " >/dev/null; echo disk-rc=$?",
        "mknod " + mem + " c 1 1 && echo mknod-mem-ok",
        "head -c 1 " + mem + " >/dev/null; echo mem-rc=$?");
    sleeper = new ProcessBuilder("sh", "-c", script).redirectErrorStream(true).start();
    Files.writeString(dir.resolve("cgroup.procs"), Long.toString(sleeper.pid()));
    assertEquals(List.of((int) sleeper.pid()), cgroups.pids(child));
    Files.writeString(go, "go\n");

    assertTrue(sleeper.waitFor(20, TimeUnit.SECONDS), "the shell finished");
    String out = new String(sleeper.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(out.contains("zero-ok"), out);
    assertTrue(out.contains("mknod-disk-ok") && out.contains("mknod-mem-ok"), "mknod of any node is allowed: " + out);
    assertTrue(out.contains("disk-rc=1") && out.contains("mem-rc=1"), out);
    assertTrue(out.lines().filter(l -> l.contains("Operation not permitted")).count() == 2,
        "both opens refused by the device program: " + out);
  }

  @Test
  void aFrozenCgroupMakesNoProgressUntilItIsThawed() throws Exception {
    Files.createDirectories(root.resolve(parent));
    assumeTrue(Files.exists(root.resolve(parent).resolve("cgroup.freeze")), "needs the cgroup v2 freezer (Linux 5.2+)");
    CountingLoop.assertFreezeStopsAndThawResumes(cgroups, child, tmp.resolve("counter"));
  }
}
