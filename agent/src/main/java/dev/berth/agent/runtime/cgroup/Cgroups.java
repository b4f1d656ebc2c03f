package dev.berth.agent.runtime.cgroup;

import dev.berth.agent.runtime.Syscalls;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The cgroups of Berth's containers, on one machine's cgroup file system.
 *
 * <p>A cgroup is named by a relative path such as {@code "berth-ab12/0123abcd"}: slash
 * separated, with no empty, {@code .} or {@code ..} component; anything else is rejected with
 * {@link dev.berth.agent.BerthException.Kind#INVALID_ARGUMENT}. On v1 the same path exists in
 * each hierarchy used (memory, cpu, cpuacct, pids, devices, freezer); on v2 once.
 *
 * <p>Implementations are thread-safe and keep no state beyond the root they were given; the
 * kernel serializes the file writes. Calls for different cgroups may run concurrently;
 * concurrent create and destroy of the same cgroup is the caller's business. I/O failures
 * are thrown as {@link java.io.UncheckedIOException} naming the file.
 */
public interface Cgroups {
  /** {@code "v1"} or {@code "v2"}. */
  String version();

  /**
   * Creates the cgroup {@code relPath} in every hierarchy it uses, creating parents (v2:
   * enabling the memory, cpu and pids controllers the root offers in each ancestor's
   * {@code cgroup.subtree_control}), and applies {@code limits}: every limit file is written,
   * unlimited values included, so applying again replaces earlier limits. Idempotent.
   *
   * @return the absolute directories a process must join, one per hierarchy, deduplicated by
   *     real path
   * @throws dev.berth.agent.BerthException INVALID_ARGUMENT when the kernel rejects a limit
   *     (the message names the file and the value); FAILED_PRECONDITION when a limit is asked
   *     of a controller this machine does not have
   */
  List<Path> create(String relPath, CgroupLimits limits);

  /**
   * As {@link #create(String, CgroupLimits)}, and restricts the device nodes its processes
   * may open or create to {@code deviceRules} (v1 {@code devices.allow} lines such as
   * {@code "c 1:3 rwm"}; everything else is denied): on v1 through the devices controller, on
   * v2 through an eBPF device program ({@link DeviceFilter}) attached to the cgroup, which
   * goes away with it. Each run gets a fresh cgroup: on v2 a second call on the same cgroup
   * adds a program beside the first, so rules can only narrow. A v1 host without the devices
   * hierarchy says so once in the log and applies the other limits; a v2 kernel that refuses
   * BPF is FAILED_PRECONDITION, never a container without device rules.
   */
  List<Path> create(String relPath, CgroupLimits limits, List<String> deviceRules);

  /** The directories of {@code relPath}, one per hierarchy, whether or not they exist. */
  List<Path> dirs(String relPath);

  /** Whether the cgroup exists (in any hierarchy). */
  boolean exists(String relPath);

  /** Its usage now; files that are missing (or a missing cgroup) count as 0. */
  CgroupStats stats(String relPath);

  /**
   * As {@link #stats}, reading only the counters that change: the processes, the limits and the
   * memory peak are 0 (the caller knows the limits it set). For scrapes: each file read costs
   * about 10 µs of kernel time, cgroup.procs on v1 over 150 µs, and a scrape reads a thousand
   * containers.
   */
  CgroupStats usage(String relPath);

  /**
   * The files {@link #usage} reads for {@code relPath}, to be read again and again: each is
   * kept open between readings, with a descriptor taken from {@code budget}, and read with one
   * positional read (a scrape of a thousand containers then costs some 8,000 system calls
   * instead of 24,000 and more). Nothing is opened before the first {@link
   * CgroupUsageFiles#read}. The caller closes it when the cgroup is no longer of interest; a
   * cgroup that goes away meanwhile reads as zeros and its descriptors are given back.
   */
  CgroupUsageFiles usageFiles(String relPath, DescriptorBudget budget);

  /** The pids of the processes in it (not in its descendants), sorted; empty when it does not exist. */
  List<Integer> pids(String relPath);

  /**
   * Kills every process in the cgroup and its descendants (v2: through {@code cgroup.kill}
   * when the kernel has it; otherwise SIGKILL to each pid of {@code cgroup.procs} through
   * {@link Syscalls#kill}, repeated until none is left), then removes its directories, deepest
   * first. Gives up after a timeout of a few seconds with a {@link dev.berth.agent.BerthException}
   * of kind INTERNAL naming the cgroup. A missing cgroup is a no-op.
   *
   * <p>On a cgroup file system the directories are removed with rmdir, as the kernel requires.
   * Elsewhere (fixture trees in tests, where control files are ordinary files) the cgroup's
   * directory is deleted recursively; the file system type is what decides.
   */
  void destroy(String relPath);

  /**
   * Freezes every process of the cgroup and of its descendants, as {@code docker pause} does,
   * and returns once the kernel reports all of them frozen: on v1 through the freezer
   * hierarchy ({@code freezer.state} set to {@code FROZEN}, then read until it says
   * {@code FROZEN} rather than {@code FREEZING}), on v2 through {@code cgroup.freeze} (then
   * {@code cgroup.events} read until it says {@code frozen 1}). Frozen processes get no CPU
   * time and make no progress until {@link #thaw}; a process that joins meanwhile is frozen
   * too. Freezing a frozen cgroup changes nothing.
   *
   * <p>A frozen cgroup can still be destroyed: on v2 fatal signals reach frozen processes; on v1
   * they do not, so {@link #destroy} thaws after its SIGKILL.
   *
   * @throws dev.berth.agent.BerthException NOT_FOUND when the cgroup does not exist (on v1: in
   *     the freezer hierarchy, which cgroups created before Berth used it lack);
   *     FAILED_PRECONDITION when this machine has no freezer (v1 without a freezer hierarchy,
   *     v2 before Linux 5.2); UNAVAILABLE when the processes are not all frozen within the
   *     timeout (say, one sleeps uninterruptibly on a hung NFS server), after thawing them again
   */
  void freeze(String relPath);

  /**
   * Lets the processes of a frozen (or freezing) cgroup run again. A cgroup that is not frozen,
   * that does not exist or that has no freezer is left as it is. I/O failures are thrown as
   * {@link java.io.UncheckedIOException}, and the cgroup then stays frozen.
   */
  void thaw(String relPath);

  /**
   * Whether the cgroup itself is frozen: v1 {@code freezer.state} reads {@code FROZEN}, v2
   * {@code cgroup.events} says {@code frozen 1}. False while it is still freezing, and for a
   * cgroup that does not exist or has no freezer.
   */
  boolean frozen(String relPath);

  /**
   * The cgroups under {@code root} (normally {@code /sys/fs/cgroup}): v2 when
   * {@code root/cgroup.controllers} exists, else v1 with whichever of the memory, cpu,
   * cpuacct, pids, devices and freezer hierarchies exist under root (a {@code cpu,cpuacct} hierarchy reached
   * through symlinks counts once). Other hierarchies, and an empty cgroup2 mounted at
   * {@code root/unified} on hybrid systems, are ignored.
   *
   * @throws dev.berth.agent.BerthException FAILED_PRECONDITION when root has none of them
   */
  static Cgroups detect(Path root, Syscalls syscalls) {
    return Files.exists(root.resolve("cgroup.controllers")) ? new CgroupV2(root, syscalls) : new CgroupV1(root, syscalls);
  }
}
