package dev.berth.agent.runtime.cgroup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A shell that appends to a file as fast as it can, so the file's size tells whether it makes
 * progress; for the freezer tests on the real kernel. Closing kills it.
 */
final class CountingLoop implements AutoCloseable {
  private final Process process;
  private final Path file;

  private CountingLoop(Process process, Path file) {
    this.process = process;
    this.file = file;
  }

  /** Starts the loop, appending to {@code file}. */
  static CountingLoop start(Path file) throws IOException {
    return new CountingLoop(new ProcessBuilder("sh", "-c", "while :; do echo . >> '" + file + "'; done").start(), file);
  }

  Process process() {
    return process;
  }

  /** Moves the loop into a cgroup, in each of its directories. */
  void join(List<Path> cgroupDirs) throws IOException {
    for (Path d : cgroupDirs) {
      Files.writeString(d.resolve("cgroup.procs"), Long.toString(process.pid()));
    }
  }

  long size() throws IOException {
    try {
      return Files.size(file);
    } catch (NoSuchFileException e) {
      return 0;
    }
  }

  /** Waits (up to 10 s) until the file grows beyond {@code size}. */
  void awaitGrowthBeyond(long size) throws IOException, InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (size() <= size) {
      assertTrue(System.nanoTime() < deadline, "the loop made no progress beyond " + size + " bytes in 10 s");
      Thread.sleep(10);
    }
  }

  /**
   * The freezer's contract on the real kernel: the loop runs, stops dead while the cgroup is
   * frozen, runs on after the thaw, and a frozen cgroup can still be destroyed (its processes
   * killed, its directories removed).
   */
  static void assertFreezeStopsAndThawResumes(Cgroups cgroups, String relPath, Path file) throws Exception {
    try (CountingLoop loop = start(file)) {
      loop.join(cgroups.create(relPath, CgroupLimits.NONE));
      loop.awaitGrowthBeyond(0);

      cgroups.freeze(relPath);
      assertTrue(cgroups.frozen(relPath));
      long frozenAt = loop.size();
      Thread.sleep(300);
      assertEquals(frozenAt, loop.size(), "a frozen process makes no progress");
      assertTrue(loop.process().isAlive());

      cgroups.thaw(relPath);
      assertFalse(cgroups.frozen(relPath));
      loop.awaitGrowthBeyond(frozenAt);

      cgroups.freeze(relPath);
      cgroups.destroy(relPath);
      assertTrue(loop.process().waitFor(5, TimeUnit.SECONDS), "destroy killed the frozen process");
      assertEquals(128 + 9, loop.process().exitValue());
      assertFalse(cgroups.exists(relPath));
    }
  }

  @Override
  public void close() throws InterruptedException {
    process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
  }
}
