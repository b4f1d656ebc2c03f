package dev.berth.agent.runtime.cgroup;

import dev.berth.agent.BerthException;
import dev.berth.agent.runtime.SyscallException;
import dev.berth.agent.runtime.Syscalls;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * cgroup v2: one unified hierarchy at the root. Limits go to memory.max (and memory.swap.max:
 * no swap when memory is limited), cpu.max and pids.max; the controllers are enabled top-down in
 * every ancestor's cgroup.subtree_control. Of the controllers Berth uses, only those listed in
 * the root's cgroup.controllers are enabled and written.
 *
 * <p>Device rules, which v2 has no control file for, are compiled by {@link DeviceFilter} into
 * an eBPF program attached to the cgroup; the kernel detaches and frees it when the cgroup is
 * removed. Programs are attached alongside any already there (BPF_F_ALLOW_MULTI) and all of
 * them must allow an access, so creating the same cgroup again with device rules adds a
 * program rather than replacing the earlier one: the same rules again change nothing, other
 * rules can only narrow what is allowed.
 */
final class CgroupV2 extends CgroupFs {
  private static final List<String> CONTROLLERS = List.of("cpu", "memory", "pids");
  private static final int EPERM = 1;
  private static final int ENOSYS = 38;

  CgroupV2(Path root, Syscalls syscalls) {
    this(root, syscalls, DEFAULT_DESTROY_TIMEOUT);
  }

  CgroupV2(Path root, Syscalls syscalls, Duration timeout) {
    super(root, syscalls, timeout);
  }

  @Override
  public String version() {
    return "v2";
  }

  @Override
  public List<Path> dirs(String relPath) {
    return List.of(root.resolve(checkRel(relPath)));
  }

  /**
   * {@inheritDoc}
   *
   * <p>On v2 the rules are always enforced, by an eBPF program attached to the cgroup.
   *
   * @throws BerthException INVALID_ARGUMENT naming a malformed rule (before anything is
   *     created); FAILED_PRECONDITION when the kernel refuses BPF (EPERM, ENOSYS), since a
   *     container must not run without its device rules; INTERNAL when it rejects the program
   *     or its attachment otherwise, with the kernel's reason
   */
  @Override
  public List<Path> create(String relPath, CgroupLimits limits, List<String> deviceRules) {
    byte[] program = DeviceFilter.compile(deviceRules);
    List<Path> dirs = create(relPath, limits);
    attach(relPath, dirs.get(0), program);
    return dirs;
  }

  private void attach(String relPath, Path dir, byte[] program) {
    int fd;
    try {
      fd = syscalls.bpfProgLoadCgroupDevice(program, DeviceFilter.LICENSE);
    } catch (SyscallException e) {
      throw deviceFailure(relPath, "load", e);
    }
    try {
      syscalls.bpfProgAttachCgroup(dir, fd);
    } catch (SyscallException e) {
      throw deviceFailure(relPath, "attach", e);
    } finally {
      // The attachment holds its own reference to the program; this descriptor is no longer needed.
      syscalls.close(fd);
    }
  }

  private static BerthException deviceFailure(String relPath, String step, SyscallException e) {
    String message = "cannot enforce the device rules of cgroup " + relPath + ": the kernel refused to " + step
        + " their eBPF program: " + e.getMessage();
    if (e.errno() == EPERM || e.errno() == ENOSYS) {
      return new BerthException(BerthException.Kind.FAILED_PRECONDITION,
          message + " (cgroup v2 needs BPF, with CAP_SYS_ADMIN or CAP_BPF, to restrict devices)", e);
    }
    return BerthException.internal(message, e);
  }

  @Override
  public List<Path> create(String relPath, CgroupLimits limits) {
    Path dir = dirs(relPath).get(0);
    Set<String> offered = words(root.resolve("cgroup.controllers"));
    List<String> available = CONTROLLERS.stream().filter(offered::contains).toList();
    require(available, "memory", limits.memoryBytes(), relPath);
    require(available, "cpu", limits.cpuQuotaMicros(), relPath);
    require(available, "pids", limits.pidsMax(), relPath);

    Path parent = root;
    for (String name : relPath.split("/")) {
      enable(parent, available);
      parent = parent.resolve(name);
      mkdirs(parent);
    }
    if (available.contains("memory")) {
      long mem = limits.memoryBytes();
      writeLimit(dir.resolve("memory.max"), mem > 0 ? Long.toString(mem) : "max");
      Path swap = dir.resolve("memory.swap.max");
      if (Files.exists(swap)) {
        writeLimit(swap, mem > 0 ? "0" : "max");
      }
    }
    if (available.contains("cpu")) {
      long quota = limits.cpuQuotaMicros();
      writeLimit(dir.resolve("cpu.max"), (quota > 0 ? Long.toString(quota) : "max") + " " + limits.effectiveCpuPeriodMicros());
    }
    if (available.contains("pids")) {
      writeLimit(dir.resolve("pids.max"), limits.pidsMax() > 0 ? Long.toString(limits.pidsMax()) : "max");
    }
    return List.of(dir);
  }

  private static void require(List<String> available, String controller, long limit, String relPath) {
    if (limit > 0 && !available.contains(controller)) {
      throw missingController(controller, relPath);
    }
  }

  /** Enables in {@code dir}'s children those of {@code controllers} not enabled yet. */
  private static void enable(Path dir, List<String> controllers) {
    Set<String> enabled = words(dir.resolve("cgroup.subtree_control"));
    String missing = controllers.stream().filter(c -> !enabled.contains(c)).map(c -> "+" + c).collect(Collectors.joining(" "));
    if (!missing.isEmpty()) {
      write(dir.resolve("cgroup.subtree_control"), missing);
    }
  }

  /** Where each usage file is in {@link #usagePaths}' list. */
  private static final int MEMORY_CURRENT = 0;
  private static final int MEMORY_EVENTS = 1;
  private static final int MEMORY_STAT = 2;
  private static final int CPU_STAT = 3;
  private static final int PIDS_CURRENT = 4;

  @Override
  Path anyHierarchy() {
    return root;
  }

  @Override
  List<Path> usagePaths(String relPath) {
    Path dir = dirs(relPath).get(0);
    return List.of(dir.resolve("memory.current"), dir.resolve("memory.events"), dir.resolve("memory.stat"),
        dir.resolve("cpu.stat"), dir.resolve("pids.current"));
  }

  @Override
  CgroupStats readUsage(StatFile[] files) {
    long[] cpu = files[CPU_STAT].keyed("usage_usec", "nr_periods", "nr_throttled", "throttled_usec", "user_usec",
        "system_usec");
    long[] mem = files[MEMORY_STAT].keyed("file", "anon", "inactive_file");
    return new CgroupStats(
        files[MEMORY_CURRENT].number(), 0, 0,
        files[MEMORY_EVENTS].keyed("oom_kill")[0],
        cpu[0] * 1000, cpu[1], cpu[2], cpu[3] * 1000,
        files[PIDS_CURRENT].number(), 0,
        mem[0], mem[1], mem[2],
        cpu[4] * 1000, cpu[5] * 1000,
        0);
  }

  @Override
  public CgroupStats stats(String relPath) {
    Path dir = dirs(relPath).get(0);
    return usage(relPath).withLimitsAndPeaks(StatFiles.number(dir.resolve("memory.max")),
        StatFiles.number(dir.resolve("memory.peak")), StatFiles.number(dir.resolve("pids.max")),
        StatFiles.lines(dir.resolve("cgroup.procs")));
  }

  @Override
  Path freezerDir(String relPath) {
    Path dir = dirs(relPath).get(0);
    if (!Files.isDirectory(dir)) {
      throw BerthException.notFound("cannot freeze cgroup " + relPath + ": it does not exist");
    }
    if (!Files.exists(dir.resolve("cgroup.freeze"))) {
      throw BerthException.failedPrecondition("cannot freeze cgroup " + relPath + ": this kernel has no cgroup.freeze"
          + " (cgroup v2 freezes from Linux 5.2 on)");
    }
    return dir;
  }

  /**
   * cgroup.freeze applies to the whole subtree. The kernel stops the processes as they next
   * leave the kernel and reports {@code frozen 1} in cgroup.events once all have; fatal signals
   * still get through, so a frozen cgroup can be killed.
   */
  @Override
  void requestFreeze(Path dir, boolean freeze) {
    write(dir.resolve("cgroup.freeze"), freeze ? "1" : "0");
  }

  @Override
  boolean reportsFrozen(Path dir) {
    return keyed(dir.resolve("cgroup.events"), "frozen") == 1;
  }

  /** cgroup.kill (Linux 5.14+) kills the whole subtree at once, forks in flight included. */
  @Override
  void killAll(List<Path> tops, List<Integer> pids) {
    boolean killed = false;
    for (Path top : tops) {
      Path kill = top.resolve("cgroup.kill");
      if (Files.exists(kill)) {
        write(kill, "1");
        killed = true;
      }
    }
    if (!killed) {
      pids.forEach(pid -> syscalls.kill(pid, SIGKILL));
    }
  }
}
