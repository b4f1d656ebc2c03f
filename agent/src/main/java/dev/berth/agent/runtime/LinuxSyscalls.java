package dev.berth.agent.runtime;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.lang.ref.Reference;
import java.nio.file.Path;
import java.util.Arrays;
import jnr.ffi.LastError;
import jnr.ffi.LibraryLoader;
import jnr.ffi.LibraryOption;
import jnr.ffi.Memory;
import jnr.ffi.Platform;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.Encoding;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;
import jnr.ffi.types.dev_t;
import jnr.ffi.types.gid_t;
import jnr.ffi.types.mode_t;
import jnr.ffi.types.pid_t;
import jnr.ffi.types.size_t;
import jnr.ffi.types.ssize_t;
import jnr.ffi.types.uid_t;

/**
 * {@link Syscalls} on Linux, calling the C library through jnr-ffi.
 *
 * <p>Thread-safe: every method is one libc call, and errno is saved per thread by jnr-ffi
 * right after the call. Needs a 64-bit Linux with glibc 2.33 or later (where {@code mknod}
 * is an exported symbol) or musl. Paths and names are passed to the kernel as UTF-8,
 * whatever the JVM's default charset. bpf(2), which libc does not wrap, is reached through
 * {@code syscall(3)} on x86_64 and aarch64; elsewhere the bpf calls fail with ENOSYS.
 */
public final class LinuxSyscalls implements Syscalls {
  private static final int ESRCH = 3;
  private static final int EINTR = 4;
  private static final int EACCES = 13;
  private static final int EINVAL = 22;
  private static final int ERANGE = 34;
  private static final int ENOSYS = 38;

  // bpf(2): commands, program and attach types, flags, as in linux/bpf.h.
  private static final int BPF_PROG_LOAD = 5;
  private static final int BPF_PROG_ATTACH = 8;
  private static final int BPF_PROG_TYPE_CGROUP_DEVICE = 15;
  private static final int BPF_CGROUP_DEVICE = 6;
  private static final int BPF_F_ALLOW_MULTI = 2;
  /**
   * The part of union bpf_attr passed: the fields used all lie within it, and the kernel
   * treats the fields of newer kernels beyond the size given as zero.
   */
  private static final int BPF_ATTR_SIZE = 128;
  /** Verifier log buffer, asked for only after a load failed; Berth's programs log a few KiB at most. */
  private static final int BPF_LOG_SIZE = 256 * 1024;

  private static final int O_RDONLY = 0;
  private static final int O_CLOEXEC = 02000000;
  private static final int SOCK_CLOEXEC = 02000000;

  /** The libc functions used, as jnr-ffi binds them; strings cross as UTF-8. */
  @Encoding("UTF-8")
  public interface LibC {
    int mount(String source, String target, String fsType, long flags, String data);

    int umount2(String target, int flags);

    int mknod(String path, @mode_t int mode, @dev_t long dev);

    int lchown(String path, @uid_t int uid, @gid_t int gid);

    int lsetxattr(String path, String name, @In byte[] value, @size_t long size, int flags);

    @ssize_t
    long lgetxattr(String path, String name, @Out byte[] value, @size_t long size);

    long llistxattr(String path, @Out byte[] list, @size_t long size);

    int kill(@pid_t int pid, int signal);

    @pid_t
    int getpid();

    String strerror(int errno);

    /*
     * open(2) and syscall(3) are variadic in C. They are bound with fixed integer and pointer
     * arguments, which x86_64 and aarch64 Linux pass exactly as the variadic ones; open's
     * third argument (the mode) is only read with O_CREAT, which is never passed.
     */
    int open(String path, int flags);

    int close(int fd);

    long syscall(long number, long cmd, Pointer attr, long size);

    int socket(int domain, int type, int protocol);

    @ssize_t
    long send(int fd, @In byte[] buf, @size_t long len, int flags);

    @ssize_t
    long recv(int fd, @Out byte[] buf, @size_t long len, int flags);

    int setns(int fd, int nstype);

    int unshare(int flags);
  }

  private final LibC libc;
  private final Runtime runtime;
  /** The bpf(2) system call number of this CPU, or -1 where it is not known. */
  private final long sysBpf;
  private final int oDirectory;

  public LinuxSyscalls() {
    libc = LibraryLoader.create(LibC.class)
        .option(LibraryOption.SaveError, true)
        .load(Platform.getNativePlatform().getStandardCLibraryName());
    runtime = Runtime.getRuntime(libc);
    switch (Platform.getNativePlatform().getCPU()) {
      case X86_64 -> {
        sysBpf = 321;
        oDirectory = 0200000;
      }
      case AARCH64 -> {
        sysBpf = 280;
        oDirectory = 040000;
      }
      default -> {
        sysBpf = -1;
        oDirectory = 0;
      }
    }
  }

  @Override
  public void mount(String source, Path target, String fsType, long flags, String data) {
    check("mount", libc.mount(source, target.toString(), fsType, flags, data), source + " on " + target);
  }

  @Override
  public void umount(Path target, int flags) {
    check("umount2", libc.umount2(target.toString(), flags), target.toString());
  }

  @Override
  public void mknod(Path path, char type, int mode, int major, int minor) {
    int fileType = switch (type) {
      case 'c' -> 0020000; // S_IFCHR
      case 'b' -> 0060000; // S_IFBLK
      case 'p' -> 0010000; // S_IFIFO
      default -> throw new IllegalArgumentException("mknod type must be c, b or p, not '" + type + "'");
    };
    check("mknod", libc.mknod(path.toString(), fileType | (mode & 07777), makedev(major, minor)), path.toString());
  }

  @Override
  public void lchown(Path path, int uid, int gid) {
    check("lchown", libc.lchown(path.toString(), uid, gid), path.toString());
  }

  @Override
  public void lsetxattr(Path path, String name, byte[] value) {
    check("lsetxattr", libc.lsetxattr(path.toString(), name, value, value.length, 0), path + " " + name);
  }

  @Override
  public byte[] lgetxattr(Path path, String name) {
    while (true) {
      long size = libc.lgetxattr(path.toString(), name, null, 0);
      check("lgetxattr", size, path + " " + name);
      byte[] value = new byte[(int) size];
      long got = libc.lgetxattr(path.toString(), name, value, value.length);
      if (got < 0 && LastError.getLastError(runtime) == ERANGE) {
        continue; // grew between the two calls
      }
      check("lgetxattr", got, path + " " + name);
      return got == value.length ? value : Arrays.copyOf(value, (int) got);
    }
  }

  @Override
  public java.util.List<String> llistxattr(Path path) {
    while (true) {
      long size = libc.llistxattr(path.toString(), null, 0);
      check("llistxattr", size, path.toString());
      if (size == 0) {
        return java.util.List.of();
      }
      byte[] list = new byte[(int) size];
      long got = libc.llistxattr(path.toString(), list, list.length);
      if (got < 0 && LastError.getLastError(runtime) == ERANGE) {
        continue; // grew between the two calls
      }
      check("llistxattr", got, path.toString());
      java.util.List<String> names = new java.util.ArrayList<>();
      int start = 0;
      for (int i = 0; i < got; i++) {
        if (list[i] == 0) {
          names.add(new String(list, start, i - start, java.nio.charset.StandardCharsets.UTF_8));
          start = i + 1;
        }
      }
      return names;
    }
  }

  @Override
  public boolean kill(int pid, int signal) {
    if (libc.kill(pid, signal) == 0) {
      return true;
    }
    int errno = LastError.getLastError(runtime);
    if (errno == ESRCH) {
      return false;
    }
    throw failure("kill", errno, "pid " + pid + " signal " + signal);
  }

  @Override
  public int getpid() {
    return libc.getpid();
  }

  @Override
  public int bpfProgLoadCgroupDevice(byte[] instructions, String license) {
    checkProgram(instructions);
    int count = instructions.length / 8;
    Pointer insns = Memory.allocateDirect(runtime, instructions.length);
    insns.put(0, instructions, 0, instructions.length);
    byte[] licenseBytes = license.getBytes(UTF_8);
    Pointer licenseZ = Memory.allocateDirect(runtime, licenseBytes.length + 1, true);
    licenseZ.put(0, licenseBytes, 0, licenseBytes.length);
    Pointer attr = Memory.allocateDirect(runtime, BPF_ATTR_SIZE, true);
    attr.putInt(0, BPF_PROG_TYPE_CGROUP_DEVICE); // prog_type
    attr.putInt(4, count); // insn_cnt
    attr.putLong(8, insns.address()); // insns
    attr.putLong(16, licenseZ.address()); // license
    String what = "cgroup device program of " + count + " instructions";
    try {
      long fd = bpf(BPF_PROG_LOAD, attr, what);
      if (fd >= 0) {
        return (int) fd;
      }
      int errno = LastError.getLastError(runtime);
      if (errno != EACCES && errno != EINVAL) {
        throw failure("bpf(BPF_PROG_LOAD)", errno, what);
      }
      // The verifier's reasons, asked for only now: with a log requested, a valid program
      // whose log overflows the buffer fails with ENOSPC, so the first try goes without.
      Pointer log = Memory.allocateDirect(runtime, BPF_LOG_SIZE, true);
      attr.putInt(24, 1); // log_level
      attr.putInt(28, BPF_LOG_SIZE); // log_size
      attr.putLong(32, log.address()); // log_buf
      fd = bpf(BPF_PROG_LOAD, attr, what);
      if (fd >= 0) {
        return (int) fd;
      }
      String text = log.getString(0, BPF_LOG_SIZE, UTF_8).strip();
      Reference.reachabilityFence(log);
      throw failure("bpf(BPF_PROG_LOAD)", errno, what + (text.isEmpty() ? "" : "; verifier log:\n" + text));
    } finally {
      // The kernel reads these through the addresses in attr: they must outlive the calls.
      Reference.reachabilityFence(insns);
      Reference.reachabilityFence(licenseZ);
    }
  }

  /** What every implementation checks before the kernel sees a program. */
  static void checkProgram(byte[] instructions) {
    if (instructions.length == 0 || instructions.length % 8 != 0) {
      throw new IllegalArgumentException(
          "an eBPF program is a non-empty sequence of 8-byte instructions, not " + instructions.length + " bytes");
    }
  }

  @Override
  public void bpfProgAttachCgroup(Path cgroupDir, int progFd) {
    // Close-on-exec so that a process the agent forks meanwhile does not inherit the directory.
    int dirFd = libc.open(cgroupDir.toString(), O_RDONLY | oDirectory | O_CLOEXEC);
    check("open", dirFd, cgroupDir.toString());
    try {
      Pointer attr = Memory.allocateDirect(runtime, BPF_ATTR_SIZE, true);
      attr.putInt(0, dirFd); // target_fd
      attr.putInt(4, progFd); // attach_bpf_fd
      attr.putInt(8, BPF_CGROUP_DEVICE); // attach_type
      attr.putInt(12, BPF_F_ALLOW_MULTI); // attach_flags
      String what = "device program fd " + progFd + " to " + cgroupDir;
      check("bpf(BPF_PROG_ATTACH)", bpf(BPF_PROG_ATTACH, attr, what), what);
    } finally {
      libc.close(dirFd);
    }
  }

  @Override
  public void close(int fd) {
    // No retry on EINTR: Linux has released the descriptor by then, and it may be reused already.
    check("close", libc.close(fd), "fd " + fd);
  }

  @Override
  public int open(Path path, int flags) {
    int fd = libc.open(path.toString(), flags | O_CLOEXEC);
    check("open", fd, path.toString());
    return fd;
  }

  @Override
  public int socket(int domain, int type, int protocol) {
    int fd = libc.socket(domain, type | SOCK_CLOEXEC, protocol);
    check("socket", fd, "domain " + domain + " type " + type + " protocol " + protocol);
    return fd;
  }

  @Override
  public int send(int fd, byte[] buf, int len) {
    if (len < 0 || len > buf.length) {
      throw new IndexOutOfBoundsException("send of " + len + " bytes from a buffer of " + buf.length);
    }
    while (true) {
      long sent = libc.send(fd, buf, len, 0);
      if (sent >= 0) {
        return (int) sent;
      }
      int errno = LastError.getLastError(runtime);
      if (errno != EINTR) {
        throw failure("send", errno, "fd " + fd);
      }
    }
  }

  @Override
  public int recv(int fd, byte[] buf) {
    while (true) {
      long got = libc.recv(fd, buf, buf.length, 0);
      if (got >= 0) {
        return (int) got;
      }
      int errno = LastError.getLastError(runtime);
      if (errno != EINTR) {
        throw failure("recv", errno, "fd " + fd);
      }
    }
  }

  @Override
  public void setns(int fd, int nstype) {
    check("setns", libc.setns(fd, nstype), "fd " + fd + " nstype 0x" + Integer.toHexString(nstype));
  }

  @Override
  public void unshare(int flags) {
    check("unshare", libc.unshare(flags), "flags 0x" + Integer.toHexString(flags));
  }

  /** bpf(2); -1 with errno set on failure, as libc's syscall returns it. */
  private long bpf(int cmd, Pointer attr, String what) {
    if (sysBpf < 0) {
      throw new SyscallException("bpf", ENOSYS, "bpf(2) is not wired for CPU " + Platform.getNativePlatform().getCPU()
          + ": " + what);
    }
    return libc.syscall(sysBpf, cmd, attr, BPF_ATTR_SIZE);
  }

  /** glibc's gnu_dev_makedev: the 64-bit dev_t of a major and minor number. */
  static long makedev(int major, int minor) {
    long ma = major & 0xffffffffL;
    long mi = minor & 0xffffffffL;
    return ((ma & 0xfffff000L) << 32) | ((ma & 0xfffL) << 8) | ((mi & 0xffffff00L) << 12) | (mi & 0xffL);
  }

  private void check(String call, long result, String what) {
    if (result < 0) {
      throw failure(call, LastError.getLastError(runtime), what);
    }
  }

  private SyscallException failure(String call, int errno, String what) {
    String text = libc.strerror(errno);
    return new SyscallException(call, errno, (text == null ? "errno " + errno : text) + ": " + what);
  }
}
