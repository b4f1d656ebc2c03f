package dev.berth.agent.runtime.cgroup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.agent.runtime.LinuxSyscalls;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Usage files kept open on the real kernel's cgroups (v1 here, or v2 where this host has it):
 * the kernel renders a file anew for each positional read, fails the reads of a removed cgroup's
 * files with ENODEV, and a cgroup created again under the same path is read through new
 * descriptors. Needs root; everything lives under its own {@code berth-test-<random>} cgroup,
 * which @AfterEach destroys with any process left in it.
 */
@Tag("linux")
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CgroupUsageFilesLinuxTest {
  static final Path ROOT = Path.of("/sys/fs/cgroup");

  final String parent = "berth-test-" + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 1);
  final String child = parent + "/c1";
  final List<Process> sleepers = new ArrayList<>();
  Cgroups cgroups;

  @BeforeAll
  static void onlyAsRoot() throws IOException {
    assumeTrue(System.getProperty("os.name").startsWith("Linux"), "needs Linux");
    assumeTrue(Files.readString(Path.of("/proc/self/status")).lines().anyMatch(l -> l.matches("Uid:\\s+0\\s.*")),
        "needs root to create cgroups");
    assumeTrue(Files.isDirectory(ROOT.resolve("memory")) || Files.exists(ROOT.resolve("cgroup.controllers")),
        "needs cgroup v1 with a memory hierarchy, or v2, at " + ROOT);
  }

  @AfterEach
  void removeEverything() throws Exception {
    try {
      for (Process p : sleepers) {
        p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    } finally {
      if (cgroups != null) {
        cgroups.destroy(parent);
      }
    }
  }

  /** Creates {@code child} afresh with {@code n} sleeping processes in it. */
  void createWith(int n) throws IOException {
    cgroups.create(child, CgroupLimits.NONE);
    for (int i = 0; i < n; i++) {
      addSleeper();
    }
  }

  void addSleeper() throws IOException {
    Process p = new ProcessBuilder("sleep", "60").start();
    sleepers.add(p);
    for (Path d : cgroups.dirs(child)) {
      Files.writeString(d.resolve("cgroup.procs"), Long.toString(p.pid()));
    }
  }

  void killAndDestroy() throws InterruptedException {
    cgroups.destroy(child);
    for (Process p : sleepers) {
      assertTrue(p.waitFor(10, TimeUnit.SECONDS));
    }
    sleepers.clear();
  }

  /** The descriptors this process holds on the cgroup's files, as /proc/self/fd lists them. */
  long fds() {
    return cgroups.dirs(child).stream().mapToLong(OpenFds::below).sum();
  }

  @Test
  void keptFilesFollowTheCgroupThroughItsRemovalAndRecreation() throws Exception {
    cgroups = Cgroups.detect(ROOT, new LinuxSyscalls());
    createWith(1);
    DescriptorBudget budget = new DescriptorBudget(100);
    try (CgroupUsageFiles files = cgroups.usageFiles(child, budget)) {
      CgroupStats first = files.read();
      assertEquals(1, first.pids());
      int open = files.openFiles();
      assertTrue(open >= 3, "the files of each hierarchy this host has are held: " + files);
      assertEquals(open, fds(), "the kernel holds as many descriptors");
      addSleeper();
      assertEquals(2, files.read().pids(), "the kernel renders a file anew for each read from offset 0");
      assertEquals(cgroups.usage(child).pids(), files.read().pids());
      assertEquals(open, fds(), "through the same descriptors");

      killAndDestroy();
      assertEquals(new CgroupStats(0, 0, 0, 0, 0, 0, 0, 0, 0, 0), files.read(), "a removed cgroup reads as zeros");
      assertEquals(0, files.openFiles());
      assertEquals(0, budget.used(), "its descriptors were given back");

      createWith(3);
      CgroupStats again = files.read();
      assertEquals(3, again.pids(), "the cgroup created again under the same path is read, not the old one");
      assertEquals(open, files.openFiles());
      assertEquals(open, fds());
    }
    assertEquals(0, budget.used());
    assertEquals(0, fds(), "close closed every descriptor");
  }
}
