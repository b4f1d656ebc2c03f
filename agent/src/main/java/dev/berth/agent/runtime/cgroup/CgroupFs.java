package dev.berth.agent.runtime.cgroup;

import static java.nio.charset.StandardCharsets.US_ASCII;

import dev.berth.agent.BerthException;
import dev.berth.agent.runtime.Syscalls;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/** What v1 and v2 share: naming, reading and writing control files, and the destroy loop. */
abstract sealed class CgroupFs implements Cgroups permits CgroupV1, CgroupV2 {
  static final Duration DEFAULT_DESTROY_TIMEOUT = Duration.ofSeconds(5);
  static final int SIGKILL = 9;
  private static final long POLL_MILLIS = 10;

  final Path root;
  final Syscalls syscalls;
  /** How long destroy waits for the processes to die, and freeze for them to stop. */
  private final Duration timeout;

  CgroupFs(Path root, Syscalls syscalls, Duration timeout) {
    this.root = root.toAbsolutePath().normalize();
    this.syscalls = syscalls;
    this.timeout = timeout;
  }

  /** Sends SIGKILL to the processes of a cgroup subtree (its top directories and all pids in it). */
  abstract void killAll(List<Path> tops, List<Integer> pids);

  /** Asks the kernel to freeze ({@code true}) or thaw the cgroup directory {@code dir}, which exists. */
  abstract void requestFreeze(Path dir, boolean freeze);

  /** Whether the kernel reports the cgroup directory {@code dir} frozen (false when it has no freezer file). */
  abstract boolean reportsFrozen(Path dir);

  /**
   * The directory the freezer works on, which exists.
   *
   * @throws BerthException FAILED_PRECONDITION when this machine has no freezer, NOT_FOUND when
   *     the cgroup has no such directory
   */
  abstract Path freezerDir(String relPath);

  @Override
  public void freeze(String relPath) {
    Path dir = freezerDir(relPath);
    requestFreeze(dir, true);
    long deadline = System.nanoTime() + timeout.toNanos();
    try {
      while (!reportsFrozen(dir)) {
        if (System.nanoTime() - deadline > 0) {
          throw new BerthException(BerthException.Kind.UNAVAILABLE, "cgroup " + relPath + " did not freeze within "
              + timeout.toMillis() + " ms (a process may be in an uninterruptible sleep); it was thawed again");
        }
        pause("freezing");
      }
    } catch (RuntimeException e) {
      // Half-frozen is the worst state to leave behind: some processes would wait on others that never run.
      try {
        requestFreeze(dir, false);
      } catch (RuntimeException thawFailure) {
        e.addSuppressed(thawFailure);
      }
      throw e;
    }
  }

  @Override
  public void thaw(String relPath) {
    Path dir;
    try {
      dir = freezerDir(relPath);
    } catch (BerthException e) {
      return; // nothing that could be frozen
    }
    requestFreeze(dir, false);
  }

  @Override
  public boolean frozen(String relPath) {
    try {
      return reportsFrozen(freezerDir(relPath));
    } catch (BerthException e) {
      return false;
    }
  }

  /** The files a usage reading reads, in the order {@link #readUsage} takes them. */
  abstract List<Path> usagePaths(String relPath);

  /** A usage reading (see {@link Cgroups#usage}) from the files of {@link #usagePaths}, in that order. */
  abstract CgroupStats readUsage(StatFile[] files);

  /** Whether the cgroups live on a cgroup file system (not a fixture tree); asked once, when a file is first kept open. */
  private volatile Boolean kernelFs;

  /** The directory whose file system says whether this is a real cgroup file system. */
  abstract Path anyHierarchy();

  @Override
  public CgroupStats usage(String relPath) {
    try (CgroupUsageFiles files = usageFiles(relPath, DescriptorBudget.NONE)) {
      return files.read();
    }
  }

  @Override
  public CgroupUsageFiles usageFiles(String relPath, DescriptorBudget budget) {
    List<Path> paths = usagePaths(relPath);
    boolean kernel = budget.max() > 0 && kernelFs();
    StatFile[] files = new StatFile[paths.size()];
    for (int i = 0; i < files.length; i++) {
      // None of the usage files has a seq_start of its own: the kernel renders each whole on every read.
      files[i] = new StatFile(paths.get(i), budget, kernel, true);
    }
    return new CgroupUsageFiles(relPath, files, this::readUsage);
  }

  private boolean kernelFs() {
    Boolean k = kernelFs;
    if (k == null) {
      k = onCgroupFs(anyHierarchy());
      kernelFs = k;
    }
    return k;
  }

  @Override
  public boolean exists(String relPath) {
    return dirs(relPath).stream().anyMatch(Files::isDirectory);
  }

  @Override
  public List<Integer> pids(String relPath) {
    return dirs(relPath).stream().flatMap(d -> procs(d).stream()).distinct().sorted().toList();
  }

  @Override
  public void destroy(String relPath) {
    List<Path> tops = dirs(relPath).stream().filter(Files::isDirectory).toList();
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      List<Integer> pids = tops.stream().flatMap(t -> subtree(t).stream()).flatMap(d -> procs(d).stream())
          .distinct().toList();
      if (pids.isEmpty()) {
        break;
      }
      if (System.nanoTime() - deadline > 0) {
        throw new BerthException(BerthException.Kind.INTERNAL,
            "cgroup " + relPath + " still has processes " + pids + " after " + timeout.toMillis() + " ms of SIGKILL");
      }
      killAll(tops, pids);
      pause("destroying");
    }
    for (Path top : tops) {
      remove(top, relPath, deadline);
    }
  }

  /** rmdir of each cgroup directory, deepest first, retrying while the kernel still reports it busy. */
  private void remove(Path top, String relPath, long deadline) {
    boolean cgroupFs = onCgroupFs(top);
    List<Path> order = cgroupFs ? subtree(top) : walk(top).toList();
    for (Path p : order.stream().sorted(Comparator.comparingInt(Path::getNameCount).reversed()).toList()) {
      while (true) {
        try {
          Files.deleteIfExists(p);
          break;
        } catch (FileSystemException e) {
          if (!cgroupFs || System.nanoTime() - deadline > 0) {
            throw new UncheckedIOException("cannot remove cgroup " + relPath + ": " + p + ": " + e.getMessage(), e);
          }
          pause("destroying");
        } catch (IOException e) {
          throw new UncheckedIOException("cannot remove cgroup " + relPath + ": " + p + ": " + e.getMessage(), e);
        }
      }
    }
  }

  /** Whether {@code dir} is on a cgroup file system, as opposed to a fixture tree. */
  static boolean onCgroupFs(Path dir) {
    try {
      String type = Files.getFileStore(dir).type();
      return type.equals("cgroup") || type.equals("cgroup2");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot tell the file system of " + dir + ": " + e.getMessage(), e);
    }
  }

  /** {@code dir} and every directory below it, not following links; empty if it is gone. */
  static List<Path> subtree(Path dir) {
    return walk(dir).filter(p -> Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)).toList();
  }

  private static Stream<Path> walk(Path dir) {
    try (Stream<Path> s = Files.walk(dir)) {
      return s.toList().stream();
    } catch (NoSuchFileException e) {
      return Stream.empty();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + dir + ": " + e.getMessage(), e);
    }
  }

  /** Waits a poll interval; {@code doing} names the operation an interrupt ends. */
  private static void pause(String doing) {
    try {
      Thread.sleep(POLL_MILLIS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BerthException(BerthException.Kind.INTERNAL, "interrupted while " + doing + " a cgroup", e);
    }
  }

  /** Checks and returns a cgroup's relative path. */
  static String checkRel(String relPath) {
    if (relPath == null || relPath.isEmpty()) {
      throw BerthException.invalid("a cgroup path must not be empty");
    }
    for (String part : relPath.split("/", -1)) {
      if (part.isEmpty() || part.equals(".") || part.equals("..")) {
        throw BerthException.invalid("invalid cgroup path '" + relPath + "': it must be relative, made of names separated by single slashes");
      }
    }
    return relPath;
  }

  /** The pids listed in {@code dir/cgroup.procs}. */
  static List<Integer> procs(Path dir) {
    return read(dir.resolve("cgroup.procs")).lines().map(String::trim).filter(l -> !l.isEmpty())
        .map(Integer::valueOf).toList();
  }

  /** The content of a control file; "" when it does not exist. */
  static String read(Path file) {
    try {
      return Files.readString(file, US_ASCII);
    } catch (NoSuchFileException e) {
      return "";
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
    }
  }

  /** A file holding one number; 0 when missing, empty or "max". */
  static long number(Path file) {
    return parse(read(file).trim(), file);
  }

  /** The value of the line {@code "KEY VALUE"} of a flat-keyed file; 0 when missing. */
  static long keyed(Path file, String key) {
    return read(file).lines().map(l -> l.trim().split("\\s+")).filter(f -> f.length == 2 && f[0].equals(key))
        .findFirst().map(f -> parse(f[1], file)).orElse(0L);
  }

  private static long parse(String value, Path file) {
    if (value.isEmpty() || value.equals("max")) {
      return 0;
    }
    try {
      return Long.parseLong(value);
    } catch (NumberFormatException e) {
      throw new IllegalStateException("unexpected content '" + value + "' in " + file, e);
    }
  }

  /** The whitespace-separated names of a file like cgroup.controllers. */
  static Set<String> words(Path file) {
    Set<String> words = new TreeSet<>();
    for (String w : read(file).trim().split("\\s+")) {
      if (!w.isEmpty()) {
        words.add(w);
      }
    }
    return words;
  }

  /**
   * Writes a limit: a failure to open the file is an I/O error, a failure of the write itself
   * is the kernel refusing the value, reported as INVALID_ARGUMENT naming file and value.
   */
  private static final java.util.concurrent.atomic.AtomicBoolean DEVICES_WARNED = new java.util.concurrent.atomic.AtomicBoolean();

  /** Says once per process that device rules cannot be enforced here, and why. */
  static void warnDevicesUnenforced(String why) {
    if (DEVICES_WARNED.compareAndSet(false, true)) {
      java.util.logging.Logger.getLogger(CgroupFs.class.getName()).warning(
          "container device rules are not enforced: " + why);
    }
  }

  static void writeLimit(Path file, String value) {
    write(file, value, true);
  }

  /** Writes a control file (not a limit): any failure is an I/O error naming the file. */
  static void write(Path file, String value) {
    write(file, value, false);
  }

  private static void write(Path file, String value, boolean limit) {
    FileChannel ch;
    try {
      // CREATE only matters for fixture trees: on a cgroup file system the files exist.
      ch = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open " + file + " to write '" + value + "': " + e.getMessage(), e);
    }
    try (ch) {
      ByteBuffer buf = ByteBuffer.wrap(value.getBytes(US_ASCII));
      while (buf.hasRemaining()) {
        ch.write(buf);
      }
    } catch (IOException e) {
      if (limit) {
        throw new BerthException(BerthException.Kind.INVALID_ARGUMENT,
            "the kernel rejected the value '" + value + "' for " + file + ": " + e.getMessage(), e);
      }
      throw new UncheckedIOException("cannot write '" + value + "' to " + file + ": " + e.getMessage(), e);
    }
  }

  static void mkdirs(Path dir) {
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create cgroup directory " + dir + ": " + e.getMessage(), e);
    }
  }

  static BerthException missingController(String controller, String relPath) {
    return BerthException.failedPrecondition(
        "cannot limit cgroup " + relPath + ": the " + controller + " controller is not available on this machine");
  }
}
