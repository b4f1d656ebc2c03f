package dev.berth.agent.runtime;

import java.nio.file.Path;

/**
 * The one seam between the agent and the kernel: every native call the JVM makes goes
 * through here, so that everything above can be unit-tested with a recording fake and the
 * real implementation ({@link LinuxSyscalls}) is tested as root by a contract suite.
 *
 * <p>Each method throws {@link SyscallException} carrying the errno when the call fails.
 * Implementations are thread-safe. Descriptors returned are close-on-exec, so that a process
 * the agent starts meanwhile does not inherit them.
 *
 * <p>{@link #setns} and {@link #unshare} act on the calling thread only: they move that one
 * thread of the JVM into another network namespace. They are meant for one dedicated thread
 * ({@code runtime.net.NetNamespaces}), which returns to its namespace before it does anything
 * else; any other thread calling them would leave itself, and every thread it starts, in the
 * wrong namespace.
 */
public interface Syscalls {
  // mount(2) flags, as the kernel defines them.
  long MS_RDONLY = 1L;
  long MS_NOSUID = 2L;
  long MS_NODEV = 4L;
  long MS_NOEXEC = 8L;
  long MS_REMOUNT = 32L;
  long MS_BIND = 4096L;
  long MS_REC = 16384L;
  long MS_PRIVATE = 1L << 18;

  // umount2(2) flags.
  int MNT_DETACH = 2;

  // open(2) flags.
  int O_RDONLY = 0;

  // setns(2) and unshare(2): the network namespace.
  int CLONE_NEWNET = 0x40000000;

  // socket(2): domain, type and protocol of an rtnetlink socket.
  int AF_NETLINK = 16;
  int SOCK_RAW = 3;
  int NETLINK_ROUTE = 0;

  /** mount(2). {@code data} may be null. */
  void mount(String source, Path target, String fsType, long flags, String data);

  /** umount2(2). */
  void umount(Path target, int flags);

  /** mknod(2) of a character ({@code 'c'}) or block ({@code 'b'}) device or a fifo ({@code 'p'}). */
  void mknod(Path path, char type, int mode, int major, int minor);

  /** lchown(2): never follows a symlink. */
  void lchown(Path path, int uid, int gid);

  /** lsetxattr(2): never follows a symlink. */
  void lsetxattr(Path path, String name, byte[] value);

  /**
   * lgetxattr(2): the value of the extended attribute {@code name} of {@code path}, never
   * following a symlink. Fails with ENODATA when the attribute is not set.
   *
   * <p>Added so that the contract suite can observe {@link #lsetxattr}; the default
   * implementation throws {@link UnsupportedOperationException} so that other
   * implementations written before it keep compiling.
   */
  default byte[] lgetxattr(Path path, String name) {
    throw new UnsupportedOperationException("lgetxattr is not implemented by " + getClass().getName());
  }

  /**
   * llistxattr(2): the names of the extended attributes of {@code path}, never following a
   * symlink; empty when it has none.
   */
  default java.util.List<String> llistxattr(Path path) {
    throw new UnsupportedOperationException("llistxattr is not implemented by " + getClass().getName());
  }

  /** kill(2). Returns false when the process does not exist (ESRCH) instead of throwing. */
  boolean kill(int pid, int signal);

  /** The calling process's pid. */
  int getpid();

  /**
   * bpf(BPF_PROG_LOAD) of a BPF_PROG_TYPE_CGROUP_DEVICE program.
   *
   * @param instructions the program: whole {@code struct bpf_insn}s of 8 bytes each, in the
   *     machine's byte order; at least one
   * @param license the program's license, as the kernel records it
   * @return a new file descriptor (close-on-exec) holding the program; the caller closes it
   *     with {@link #close} once the program is attached, which keeps it loaded
   * @throws IllegalArgumentException when {@code instructions} is empty or not a multiple of 8
   *     bytes long
   * @throws SyscallException when the kernel refuses the program: EPERM without the privilege
   *     (or, before Linux 5.11, over RLIMIT_MEMLOCK), ENOSYS or EINVAL where the kernel lacks
   *     BPF or this program type, EACCES or EINVAL when the verifier rejects it, in which case
   *     the message includes the verifier's log
   */
  int bpfProgLoadCgroupDevice(byte[] instructions, String license);

  /**
   * bpf(BPF_PROG_ATTACH) of a loaded device program ({@code progFd}) to the cgroup v2
   * directory {@code cgroupDir}, as BPF_CGROUP_DEVICE with BPF_F_ALLOW_MULTI: it is added to
   * the programs already attached there, never replaces one, and every attached program (and
   * every ancestor's) must allow an access. It stays attached, and loaded, until the cgroup is
   * removed.
   *
   * @throws SyscallException ENOENT or ENOTDIR naming the directory when it is not one, EBADF
   *     when {@code progFd} is not an open program, EPERM when a program attached there without
   *     BPF_F_ALLOW_MULTI forbids it
   */
  void bpfProgAttachCgroup(Path cgroupDir, int progFd);

  /** close(2) of a file descriptor this interface returned. Fails with EBADF when it is not open. */
  void close(int fd);

  /**
   * open(2) of an existing file, with O_CLOEXEC added to {@code flags}; never creates one.
   * Used to hold a namespace file ({@code /proc/thread-self/ns/net} or a file pinning one).
   *
   * @return a new descriptor; the caller closes it with {@link #close}
   * @throws SyscallException ENOENT naming the path when it does not exist
   */
  int open(Path path, int flags);

  /**
   * socket(2), with SOCK_CLOEXEC added to {@code type}. The socket belongs to the network
   * namespace of the calling thread for all its life, wherever that thread goes afterwards.
   *
   * @return a new descriptor; the caller closes it with {@link #close}
   * @throws SyscallException EAFNOSUPPORT for an unknown domain, EPROTONOSUPPORT for an unknown
   *     protocol of it
   */
  int socket(int domain, int type, int protocol);

  /**
   * send(2) of the first {@code len} bytes of {@code buf} as one datagram, retried on EINTR;
   * returns the number of bytes sent. On an unconnected netlink socket the datagram goes to the
   * kernel.
   *
   * @throws SyscallException EBADF when {@code fd} is not open, ENOTSOCK when it is no socket
   */
  int send(int fd, byte[] buf, int len);

  /**
   * recv(2) of one datagram into {@code buf}, blocking until one arrives, retried on EINTR;
   * returns its length, at most {@code buf.length}: the rest of a longer datagram is lost.
   *
   * @throws SyscallException EBADF when {@code fd} is not open, ENOTSOCK when it is no socket
   */
  int recv(int fd, byte[] buf);

  /**
   * setns(2): moves the calling thread, and only it, into the namespace {@code fd} refers to.
   * {@code nstype} is 0 (any) or the CLONE_NEW* constant the namespace must be.
   *
   * @throws SyscallException EBADF when {@code fd} is not open, EINVAL when it refers to no
   *     namespace (of that type)
   */
  void setns(int fd, int nstype);

  /**
   * unshare(2): gives the calling thread new namespaces of the CLONE_NEW* {@code flags}. Berth
   * uses it with {@link #CLONE_NEWNET} only, which a thread of a multi-threaded process may do.
   */
  void unshare(int flags);
}
