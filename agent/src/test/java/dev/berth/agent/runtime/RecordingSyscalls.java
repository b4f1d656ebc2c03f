package dev.berth.agent.runtime;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A {@link Syscalls} for unit tests: records every call and simulates on the real file system
 * what callers can observe, without needing root.
 *
 * <ul>
 *   <li>mknod creates a regular placeholder file with the mode's permission bits and
 *       remembers the {@link Device};
 *   <li>lsetxattr/lgetxattr keep the attributes in memory, per path;
 *   <li>lchown remembers the owner ({@link #owner});
 *   <li>mount/umount keep the list of mounted targets: mount onto a missing target fails with
 *       ENOENT, umount of a target that is not mounted with EINVAL;
 *   <li>kill delivers nothing: it returns whether the pid is alive;
 *   <li>bpfProgLoadCgroupDevice hands out fake descriptors from {@link #FIRST_FD} on and keeps
 *       each one's program ({@link #program}); bpfProgAttachCgroup of an open one to an
 *       existing directory remembers it there ({@link #attached}), even after close; close
 *       of a descriptor that is not open fails with EBADF.
 * </ul>
 *
 * Paths are compared after {@code toAbsolutePath().normalize()}. {@link #failNext} makes the
 * next call of a name fail with an errno. Thread-safe (every method is synchronized); tests
 * may subclass it to add effects.
 */
public class RecordingSyscalls implements Syscalls {
  public static final int ENOENT = 2;
  public static final int EBADF = 9;
  public static final int EEXIST = 17;
  public static final int ENOTDIR = 20;
  public static final int EINVAL = 22;
  public static final int ENODATA = 61;
  public static final int EOPNOTSUPP = 95;
  /** The first descriptor bpfProgLoadCgroupDevice hands out; far above what the JVM has open, to stand out. */
  public static final int FIRST_FD = 1000;

  /** One recorded call: its name as in {@link #failNext} and its arguments, in order. */
  public record Call(String name, List<Object> args) {
    public Object arg(int i) {
      return args.get(i);
    }
  }

  /** What mknod was asked to create. */
  public record Device(char type, int mode, int major, int minor) {}

  /** A uid and gid. */
  public record Owner(int uid, int gid) {}

  private final List<Call> calls = new ArrayList<>();
  private final Map<String, Deque<Integer>> failures = new HashMap<>();
  private final Map<Path, Device> devices = new HashMap<>();
  private final Map<Path, Map<String, byte[]>> xattrs = new HashMap<>();
  private final Map<Path, Owner> owners = new HashMap<>();
  private final List<Path> mounts = new ArrayList<>();
  private final Map<Integer, byte[]> programs = new HashMap<>();
  private final Map<Path, List<byte[]>> attachments = new HashMap<>();
  private int nextFd = FIRST_FD;

  /** Makes the next call named {@code call} ("mount", "umount", "kill", …) fail with errno; queues. */
  public synchronized RecordingSyscalls failNext(String call, int errno) {
    failures.computeIfAbsent(call, c -> new ArrayDeque<>()).add(errno);
    return this;
  }

  /** Every call so far, oldest first. */
  public synchronized List<Call> calls() {
    return List.copyOf(calls);
  }

  /** The calls named {@code name}, oldest first. */
  public synchronized List<Call> calls(String name) {
    return calls.stream().filter(c -> c.name().equals(name)).toList();
  }

  /** Forgets the recorded calls (not the simulated state). */
  public synchronized void clearCalls() {
    calls.clear();
  }

  /** What mknod created at {@code path}, if it did. */
  public synchronized Optional<Device> device(Path path) {
    return Optional.ofNullable(devices.get(key(path)));
  }

  /** The owner lchown gave {@code path}, or else its real owner on disk (not following links). */
  public synchronized Owner owner(Path path) {
    Owner owner = owners.get(key(path));
    if (owner != null) {
      return owner;
    }
    try {
      return new Owner((Integer) Files.getAttribute(path, "unix:uid", LinkOption.NOFOLLOW_LINKS),
          (Integer) Files.getAttribute(path, "unix:gid", LinkOption.NOFOLLOW_LINKS));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The currently mounted targets. */
  public synchronized Set<Path> mounted() {
    return new LinkedHashSet<>(mounts);
  }

  public synchronized boolean isMounted(Path target) {
    return mounts.contains(key(target));
  }

  /** The program loaded as {@code fd}, while that descriptor is open. */
  public synchronized Optional<byte[]> program(int fd) {
    return Optional.ofNullable(programs.get(fd)).map(byte[]::clone);
  }

  /** The descriptors loaded and not closed yet, in no particular order. */
  public synchronized Set<Integer> openFds() {
    return Set.copyOf(programs.keySet());
  }

  /** The programs attached to the cgroup directory {@code dir}, oldest first. */
  public synchronized List<byte[]> attached(Path dir) {
    return attachments.getOrDefault(key(dir), List.of()).stream().map(byte[]::clone).toList();
  }

  @Override
  public synchronized void mount(String source, Path target, String fsType, long flags, String data) {
    enter("mount", source, target, fsType, flags, data);
    Path t = key(target);
    requireExists("mount", target);
    if ((flags & MS_REMOUNT) != 0) {
      if (!mounts.contains(t)) {
        throw new SyscallException("mount", EINVAL, "Invalid argument: remount of " + target + ", which is not mounted");
      }
      return;
    }
    mounts.add(t);
  }

  @Override
  public synchronized void umount(Path target, int flags) {
    enter("umount", target, flags);
    requireExists("umount2", target);
    if (!mounts.remove(key(target))) {
      throw new SyscallException("umount2", EINVAL, "Invalid argument: " + target);
    }
  }

  @Override
  public synchronized void mknod(Path path, char type, int mode, int major, int minor) {
    enter("mknod", path, type, mode, major, minor);
    if (type != 'c' && type != 'b' && type != 'p') {
      throw new IllegalArgumentException("mknod type must be c, b or p, not '" + type + "'");
    }
    if (Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
      throw new SyscallException("mknod", EEXIST, "File exists: " + path);
    }
    Path parent = key(path).getParent();
    if (parent == null || !Files.isDirectory(parent)) {
      throw new SyscallException("mknod", ENOENT, "No such file or directory: " + path);
    }
    try {
      Files.createFile(path);
      Files.setPosixFilePermissions(path, permissions(mode));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    devices.put(key(path), new Device(type, mode, major, minor));
  }

  @Override
  public synchronized void lchown(Path path, int uid, int gid) {
    enter("lchown", path, uid, gid);
    requireExists("lchown", path);
    owners.put(key(path), new Owner(uid, gid));
  }

  @Override
  public synchronized void lsetxattr(Path path, String name, byte[] value) {
    enter("lsetxattr", path, name, value.clone());
    requireExists("lsetxattr", path);
    if (!name.matches("(user|trusted|security|system)\\..+")) {
      throw new SyscallException("lsetxattr", EOPNOTSUPP, "Operation not supported: " + path + " " + name);
    }
    xattrs.computeIfAbsent(key(path), p -> new HashMap<>()).put(name, value.clone());
  }

  @Override
  public synchronized List<String> llistxattr(Path path) {
    enter("llistxattr", path);
    requireExists("llistxattr", path);
    return List.copyOf(xattrs.getOrDefault(key(path), Map.of()).keySet());
  }

  @Override
  public synchronized byte[] lgetxattr(Path path, String name) {
    enter("lgetxattr", path, name);
    requireExists("lgetxattr", path);
    byte[] value = xattrs.getOrDefault(key(path), Map.of()).get(name);
    if (value == null) {
      throw new SyscallException("lgetxattr", ENODATA, "No data available: " + path + " " + name);
    }
    return value.clone();
  }

  @Override
  public synchronized boolean kill(int pid, int signal) {
    enter("kill", pid, signal);
    if (signal < 0 || signal > 64) {
      throw new SyscallException("kill", EINVAL, "Invalid argument: pid " + pid + " signal " + signal);
    }
    return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
  }

  @Override
  public synchronized int getpid() {
    enter("getpid");
    return (int) ProcessHandle.current().pid();
  }

  @Override
  public synchronized int bpfProgLoadCgroupDevice(byte[] instructions, String license) {
    enter("bpfProgLoadCgroupDevice", instructions.clone(), license);
    LinuxSyscalls.checkProgram(instructions);
    int fd = nextFd++;
    programs.put(fd, instructions.clone());
    return fd;
  }

  @Override
  public synchronized void bpfProgAttachCgroup(Path cgroupDir, int progFd) {
    enter("bpfProgAttachCgroup", cgroupDir, progFd);
    requireExists("open", cgroupDir);
    if (!Files.isDirectory(cgroupDir)) {
      throw new SyscallException("open", ENOTDIR, "Not a directory: " + cgroupDir);
    }
    byte[] program = programs.get(progFd);
    if (program == null) {
      throw new SyscallException("bpf(BPF_PROG_ATTACH)", EBADF, "Bad file descriptor: program fd " + progFd + " to " + cgroupDir);
    }
    attachments.computeIfAbsent(key(cgroupDir), d -> new ArrayList<>()).add(program);
  }

  @Override
  public synchronized void close(int fd) {
    enter("close", fd);
    if (programs.remove(fd) == null) {
      throw new SyscallException("close", EBADF, "Bad file descriptor: fd " + fd);
    }
  }

  /** Records the call, then throws the failure queued for it, if any. */
  private void enter(String name, Object... args) {
    calls.add(new Call(name, Arrays.asList(args)));
    Deque<Integer> queued = failures.get(name);
    if (queued != null && !queued.isEmpty()) {
      int errno = queued.poll();
      throw new SyscallException(name, errno, "injected failure (errno " + errno + ")");
    }
  }

  private static void requireExists(String call, Path path) {
    if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
      throw new SyscallException(call, ENOENT, "No such file or directory: " + path);
    }
  }

  private static Path key(Path path) {
    return path.toAbsolutePath().normalize();
  }

  private static Set<PosixFilePermission> permissions(int mode) {
    Set<PosixFilePermission> set = EnumSet.noneOf(PosixFilePermission.class);
    PosixFilePermission[] order = {
      PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_READ,
      PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_READ,
      PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_READ
    };
    for (int bit = 0; bit < order.length; bit++) {
      if ((mode & (1 << bit)) != 0) {
        set.add(order[bit]);
      }
    }
    return set;
  }
}
