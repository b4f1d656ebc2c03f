package dev.berth.agent.runtime;

import java.nio.file.Path;
import java.util.Arrays;
import jnr.ffi.LastError;
import jnr.ffi.LibraryLoader;
import jnr.ffi.LibraryOption;
import jnr.ffi.Platform;
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
 * whatever the JVM's default charset.
 */
public final class LinuxSyscalls implements Syscalls {
  private static final int ESRCH = 3;
  private static final int ERANGE = 34;

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

    int kill(@pid_t int pid, int signal);

    @pid_t
    int getpid();

    String strerror(int errno);
  }

  private final LibC libc;
  private final Runtime runtime;

  public LinuxSyscalls() {
    libc = LibraryLoader.create(LibC.class)
        .option(LibraryOption.SaveError, true)
        .load(Platform.getNativePlatform().getStandardCLibraryName());
    runtime = Runtime.getRuntime(libc);
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
