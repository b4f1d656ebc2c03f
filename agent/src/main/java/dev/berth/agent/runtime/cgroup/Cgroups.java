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
 * each hierarchy used (memory, cpu, cpuacct, pids); on v2 once.
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
   * The cgroups under {@code root} (normally {@code /sys/fs/cgroup}): v2 when
   * {@code root/cgroup.controllers} exists, else v1 with whichever of the memory, cpu,
   * cpuacct and pids hierarchies exist under root (a {@code cpu,cpuacct} hierarchy reached
   * through symlinks counts once). Other hierarchies, and an empty cgroup2 mounted at
   * {@code root/unified} on hybrid systems, are ignored.
   *
   * @throws dev.berth.agent.BerthException FAILED_PRECONDITION when root has none of them
   */
  static Cgroups detect(Path root, Syscalls syscalls) {
    return Files.exists(root.resolve("cgroup.controllers")) ? new CgroupV2(root, syscalls) : new CgroupV1(root, syscalls);
  }
}
