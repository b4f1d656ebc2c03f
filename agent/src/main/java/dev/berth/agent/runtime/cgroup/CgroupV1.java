package dev.berth.agent.runtime.cgroup;

import dev.berth.agent.BerthException;
import dev.berth.agent.runtime.Syscalls;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * cgroup v1: one hierarchy per controller under the root. Berth uses memory, cpu, cpuacct,
 * pids, devices and freezer, whichever exist; where cpu and cpuacct are one {@code cpu,cpuacct}
 * hierarchy reached through symlinks, it is used once, under the first name that reaches it.
 * The freezer carries no limit: a container's processes join it so that commit can pause them.
 */
final class CgroupV1 extends CgroupFs {
  private static final List<String> CONTROLLERS = List.of("memory", "cpu", "cpuacct", "pids", "devices", "freezer");
  private static final String FREEZER_STATE = "freezer.state";
  /** At or above this, a v1 memory limit means unlimited (the kernel shows about 2^63). */
  private static final long UNLIMITED = 1L << 62;
  /** cpuacct.stat counts USER_HZ ticks, 100 a second on every Linux architecture Berth runs on. */
  private static final long NANOS_PER_TICK = 10_000_000;

  private final Map<String, Path> hierarchyOf = new HashMap<>();
  private final List<Path> hierarchies = new ArrayList<>();

  CgroupV1(Path root, Syscalls syscalls) {
    this(root, syscalls, DEFAULT_DESTROY_TIMEOUT);
  }

  CgroupV1(Path root, Syscalls syscalls, Duration timeout) {
    super(root, syscalls, timeout);
    Map<Path, Path> byRealPath = new LinkedHashMap<>();
    for (String controller : CONTROLLERS) {
      Path dir = this.root.resolve(controller);
      if (Files.isDirectory(dir)) {
        Path hierarchy = byRealPath.computeIfAbsent(realPath(dir), real -> dir);
        hierarchyOf.put(controller, hierarchy);
      }
    }
    hierarchies.addAll(byRealPath.values());
    if (hierarchies.isEmpty()) {
      throw BerthException.failedPrecondition("no cgroup found under " + this.root + ": neither cgroup v2 (cgroup.controllers)"
          + " nor any v1 hierarchy of " + String.join(", ", CONTROLLERS));
    }
  }

  private static Path realPath(Path dir) {
    try {
      return dir.toRealPath();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot resolve " + dir + ": " + e.getMessage(), e);
    }
  }

  @Override
  public String version() {
    return "v1";
  }

  @Override
  public List<Path> dirs(String relPath) {
    checkRel(relPath);
    return hierarchies.stream().map(h -> h.resolve(relPath)).toList();
  }

  /** The cgroup's directory in the hierarchy of {@code controller}; a path that does not exist when it is absent. */
  private Path dir(String controller, String relPath) {
    return hierarchyOf.getOrDefault(controller, root.resolve(controller)).resolve(checkRel(relPath));
  }

  private boolean has(String controller) {
    return hierarchyOf.containsKey(controller);
  }

  @Override
  public List<Path> create(String relPath, CgroupLimits limits, List<String> deviceRules) {
    List<Path> dirs = create(relPath, limits);
    if (!has("devices")) {
      warnDevicesUnenforced("this host has no v1 devices hierarchy under " + root);
      return dirs;
    }
    // Deny everything first, then allow the listed devices: the kernel checks every open and mknod.
    Path devices = dir("devices", relPath);
    write(devices.resolve("devices.deny"), "a");
    for (String rule : deviceRules) {
      writeLimit(devices.resolve("devices.allow"), rule);
    }
    return dirs;
  }

  @Override
  public List<Path> create(String relPath, CgroupLimits limits) {
    List<Path> dirs = dirs(relPath);
    require("memory", limits.memoryBytes(), relPath);
    require("cpu", limits.cpuQuotaMicros(), relPath);
    require("pids", limits.pidsMax(), relPath);
    dirs.forEach(CgroupFs::mkdirs);
    if (has("memory")) {
      setMemory(dir("memory", relPath), limits.memoryBytes());
    }
    if (has("cpu")) {
      Path cpu = dir("cpu", relPath);
      writeLimit(cpu.resolve("cpu.cfs_period_us"), Long.toString(limits.effectiveCpuPeriodMicros()));
      writeLimit(cpu.resolve("cpu.cfs_quota_us"), limits.cpuQuotaMicros() > 0 ? Long.toString(limits.cpuQuotaMicros()) : "-1");
    }
    if (has("pids")) {
      writeLimit(dir("pids", relPath).resolve("pids.max"), limits.pidsMax() > 0 ? Long.toString(limits.pidsMax()) : "max");
    }
    return dirs;
  }

  /**
   * Memory, and memory+swap to the same value when the kernel has swap accounting. The kernel
   * keeps memsw at or above memory at every step, so memsw goes first when the limit rises and
   * second when it falls.
   */
  private static void setMemory(Path dir, long bytes) {
    Path memory = dir.resolve("memory.limit_in_bytes");
    Path memsw = dir.resolve("memory.memsw.limit_in_bytes");
    String value = bytes > 0 ? Long.toString(bytes) : "-1";
    if (!Files.exists(memsw)) {
      writeLimit(memory, value);
    } else if ((bytes > 0 ? bytes : Long.MAX_VALUE) > number(memory)) {
      writeLimit(memsw, value);
      writeLimit(memory, value);
    } else {
      writeLimit(memory, value);
      writeLimit(memsw, value);
    }
  }

  private void require(String controller, long limit, String relPath) {
    if (limit > 0 && !has(controller)) {
      throw missingController(controller, relPath);
    }
  }

  /** Where each usage file is in {@link #usagePaths}' list. */
  private static final int MEMORY_USAGE = 0;
  private static final int OOM_CONTROL = 1;
  private static final int MEMORY_STAT = 2;
  private static final int CPU_STAT = 3;
  private static final int CPUACCT_USAGE = 4;
  private static final int CPUACCT_STAT = 5;
  private static final int PIDS_CURRENT = 6;

  @Override
  Path anyHierarchy() {
    return hierarchies.get(0);
  }

  @Override
  List<Path> usagePaths(String relPath) {
    Path memory = dir("memory", relPath);
    Path cpuacct = dir("cpuacct", relPath);
    return List.of(memory.resolve("memory.usage_in_bytes"), memory.resolve("memory.oom_control"),
        memory.resolve("memory.stat"), dir("cpu", relPath).resolve("cpu.stat"), cpuacct.resolve("cpuacct.usage"),
        cpuacct.resolve("cpuacct.stat"), dir("pids", relPath).resolve("pids.current"));
  }

  @Override
  CgroupStats readUsage(StatFile[] files) {
    long[] cpu = files[CPU_STAT].keyed("nr_periods", "nr_throttled", "throttled_time");
    long[] mem = files[MEMORY_STAT].keyed("total_cache", "total_rss", "total_inactive_file");
    long[] ticks = files[CPUACCT_STAT].keyed("user", "system");
    return new CgroupStats(
        files[MEMORY_USAGE].number(), 0, 0,
        files[OOM_CONTROL].keyed("oom_kill")[0],
        files[CPUACCT_USAGE].number(),
        cpu[0], cpu[1], cpu[2],
        files[PIDS_CURRENT].number(), 0,
        mem[0], mem[1], mem[2],
        ticks[0] * NANOS_PER_TICK, ticks[1] * NANOS_PER_TICK,
        0);
  }

  @Override
  public CgroupStats stats(String relPath) {
    Path memory = dir("memory", relPath);
    Path pids = dir("pids", relPath);
    long limit = StatFiles.number(memory.resolve("memory.limit_in_bytes"));
    // Processes from the first hierarchy that has the cgroup: every one lists the same pids.
    Path procsDir = Files.isDirectory(pids) ? pids : memory;
    return usage(relPath).withLimitsAndPeaks(limit >= UNLIMITED ? 0 : limit,
        StatFiles.number(memory.resolve("memory.max_usage_in_bytes")), StatFiles.number(pids.resolve("pids.max")),
        StatFiles.lines(procsDir.resolve("cgroup.procs")));
  }

  /**
   * A v1 freezer holds back even SIGKILL, so after sending it every frozen cgroup of the subtree
   * is thawed: the processes then die without running another instruction of their own.
   */
  @Override
  void killAll(List<Path> tops, List<Integer> pids) {
    pids.forEach(pid -> syscalls.kill(pid, SIGKILL));
    Path freezer = hierarchyOf.get("freezer");
    tops.stream().filter(t -> freezer != null && t.startsWith(freezer)).flatMap(t -> subtree(t).stream())
        .map(d -> d.resolve(FREEZER_STATE))
        .filter(f -> Files.exists(f) && !read(f).trim().equals("THAWED"))
        .forEach(f -> write(f, "THAWED"));
  }

  @Override
  Path freezerDir(String relPath) {
    if (!has("freezer")) {
      throw BerthException.failedPrecondition("cannot freeze cgroup " + relPath + ": this machine has no v1 freezer"
          + " hierarchy under " + root);
    }
    Path dir = dir("freezer", relPath);
    if (!Files.isDirectory(dir)) {
      throw BerthException.notFound("cannot freeze cgroup " + relPath + ": it has no freezer cgroup " + dir);
    }
    return dir;
  }

  /**
   * The kernel stops the tasks one by one and says FREEZING until the last is stopped; a task
   * that forks or joins meanwhile is frozen as well. Writing THAWED takes effect at once.
   */
  @Override
  void requestFreeze(Path dir, boolean freeze) {
    write(dir.resolve(FREEZER_STATE), freeze ? "FROZEN" : "THAWED");
  }

  @Override
  boolean reportsFrozen(Path dir) {
    return read(dir.resolve(FREEZER_STATE)).trim().equals("FROZEN");
  }
}
