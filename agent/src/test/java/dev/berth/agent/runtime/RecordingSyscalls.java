package dev.berth.agent.runtime;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
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
import java.util.WeakHashMap;

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
 *       of a descriptor that is not open fails with EBADF;
 *   <li>network namespaces are names: every thread starts in {@link #HOST_NETNS};
 *       unshare(CLONE_NEWNET) moves the calling thread into a new one ({@link #netns()});
 *       open of {@link #THREAD_NETNS} or of a file pinning a namespace (the target of a bind
 *       mount of {@link #THREAD_NETNS}) gives a descriptor setns can move the thread into;
 *       setns with a descriptor of any other file fails with EINVAL; unshare of other
 *       namespace types is refused with {@link UnsupportedOperationException};
 *   <li>socket makes rtnetlink sockets only (AF_NETLINK, SOCK_RAW, NETLINK_ROUTE) and
 *       remembers the namespace each was made in ({@link #socketNetns}); send hands each
 *       datagram to a {@link Kernel} ({@link #kernel(Kernel)}) and queues its answers for recv,
 *       which fails with EAGAIN rather than block when nothing is queued. The default kernel
 *       accepts everything and holds nothing: it acknowledges each request that asks for an
 *       acknowledgement and answers each dump with an empty one.
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
  public static final int EAGAIN = 11;
  public static final int ENOTDIR = 20;
  public static final int EINVAL = 22;
  public static final int ENOTSOCK = 88;
  public static final int EPROTONOSUPPORT = 93;
  public static final int EAFNOSUPPORT = 97;
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

  /** The network namespace every thread starts in. */
  public static final String HOST_NETNS = "net:host";
  /** The file naming the calling thread's network namespace. */
  public static final Path THREAD_NETNS = Path.of("/proc/thread-self/ns/net");

  /** What answers the datagrams sent on a fake netlink socket. */
  @FunctionalInterface
  public interface Kernel {
    /**
     * The datagrams to queue for recv, in order, in answer to {@code request} sent on a socket
     * made in the namespace {@code netns}.
     */
    List<byte[]> answer(String netns, byte[] request);
  }

  /** An open file: its path and, when it names a network namespace, which. */
  private record OpenFile(Path path, String netns) {}

  /** A fake rtnetlink socket: the namespace it was made in and the datagrams waiting for recv. */
  private record Socket(String netns, Deque<byte[]> inbox) {}

  private final List<Call> calls = new ArrayList<>();
  private final Map<String, Deque<Integer>> failures = new HashMap<>();
  private final Map<Path, Device> devices = new HashMap<>();
  private final Map<Path, Map<String, byte[]>> xattrs = new HashMap<>();
  private final Map<Path, Owner> owners = new HashMap<>();
  private final List<Path> mounts = new ArrayList<>();
  private final Map<Integer, byte[]> programs = new HashMap<>();
  private final Map<Path, List<byte[]>> attachments = new HashMap<>();
  private final Map<Integer, OpenFile> files = new HashMap<>();
  private final Map<Integer, Socket> sockets = new HashMap<>();
  /** The namespace of each thread that left {@link #HOST_NETNS}; weak so dead threads go. */
  private final Map<Thread, String> threadNetns = new WeakHashMap<>();
  /** The namespace pinned on each bind-mount target of {@link #THREAD_NETNS}. */
  private final Map<Path, String> pins = new HashMap<>();
  private Kernel kernel = RecordingSyscalls::acceptEverything;
  private int nextNetns = 1;
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

  /** The descriptors handed out (programs, files, sockets) and not closed yet, in no particular order. */
  public synchronized Set<Integer> openFds() {
    Set<Integer> open = new java.util.HashSet<>(programs.keySet());
    open.addAll(files.keySet());
    open.addAll(sockets.keySet());
    return Set.copyOf(open);
  }

  /** The network namespace the calling thread is in. */
  public synchronized String netns() {
    return threadNetns.getOrDefault(Thread.currentThread(), HOST_NETNS);
  }

  /** The network namespace the socket {@code fd} was made in, while it is open. */
  public synchronized Optional<String> socketNetns(int fd) {
    return Optional.ofNullable(sockets.get(fd)).map(Socket::netns);
  }

  /** Makes {@code kernel} answer what is sent on the netlink sockets from now on. */
  public synchronized RecordingSyscalls kernel(Kernel kernel) {
    this.kernel = kernel;
    return this;
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
    if ((flags & MS_BIND) != 0 && source != null && key(Path.of(source)).equals(THREAD_NETNS)) {
      pins.put(t, netns());
    }
  }

  @Override
  public synchronized void umount(Path target, int flags) {
    enter("umount", target, flags);
    requireExists("umount2", target);
    if (!mounts.remove(key(target))) {
      throw new SyscallException("umount2", EINVAL, "Invalid argument: " + target);
    }
    if (!mounts.contains(key(target))) {
      pins.remove(key(target));
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
    if (programs.remove(fd) == null && files.remove(fd) == null && sockets.remove(fd) == null) {
      throw new SyscallException("close", EBADF, "Bad file descriptor: fd " + fd);
    }
  }

  @Override
  public synchronized int open(Path path, int flags) {
    enter("open", path, flags);
    requireExists("open", path);
    Path p = key(path);
    String netns = p.equals(THREAD_NETNS) ? netns() : pins.get(p);
    int fd = nextFd++;
    files.put(fd, new OpenFile(p, netns));
    return fd;
  }

  @Override
  public synchronized int socket(int domain, int type, int protocol) {
    enter("socket", domain, type, protocol);
    if (domain != AF_NETLINK) {
      throw new SyscallException("socket", EAFNOSUPPORT, "Address family not supported by protocol: domain " + domain);
    }
    if (type != SOCK_RAW || protocol != NETLINK_ROUTE) {
      throw new SyscallException("socket", EPROTONOSUPPORT,
          "Protocol not supported: the fake makes rtnetlink sockets only, not type " + type + " protocol " + protocol);
    }
    int fd = nextFd++;
    sockets.put(fd, new Socket(netns(), new ArrayDeque<>()));
    return fd;
  }

  @Override
  public synchronized int send(int fd, byte[] buf, int len) {
    byte[] datagram = Arrays.copyOf(buf, len);
    enter("send", fd, datagram);
    Socket socket = socket("send", fd);
    for (byte[] answer : kernel.answer(socket.netns(), datagram.clone())) {
      socket.inbox().add(answer.clone());
    }
    return len;
  }

  @Override
  public synchronized int recv(int fd, byte[] buf) {
    enter("recv", fd);
    byte[] datagram = socket("recv", fd).inbox().poll();
    if (datagram == null) {
      throw new SyscallException("recv", EAGAIN, "Resource temporarily unavailable: nothing queued on fd " + fd
          + ", and the fake never blocks");
    }
    int length = Math.min(datagram.length, buf.length);
    System.arraycopy(datagram, 0, buf, 0, length);
    return length;
  }

  @Override
  public synchronized void setns(int fd, int nstype) {
    enter("setns", fd, nstype);
    OpenFile file = files.get(fd);
    if (file == null) {
      throw new SyscallException("setns", sockets.containsKey(fd) || programs.containsKey(fd) ? EINVAL : EBADF,
          "cannot setns to fd " + fd);
    }
    if (file.netns() == null || (nstype != 0 && nstype != CLONE_NEWNET)) {
      throw new SyscallException("setns", EINVAL, "Invalid argument: fd " + fd + " (" + file.path() + ") nstype 0x"
          + Integer.toHexString(nstype));
    }
    threadNetns.put(Thread.currentThread(), file.netns());
  }

  @Override
  public synchronized void unshare(int flags) {
    enter("unshare", flags);
    if (flags != CLONE_NEWNET) {
      throw new UnsupportedOperationException("RecordingSyscalls simulates unshare(CLONE_NEWNET) only, not flags 0x"
          + Integer.toHexString(flags));
    }
    threadNetns.put(Thread.currentThread(), "net:" + nextNetns++);
  }

  private Socket socket(String call, int fd) {
    Socket socket = sockets.get(fd);
    if (socket == null) {
      boolean open = files.containsKey(fd) || programs.containsKey(fd);
      throw new SyscallException(call, open ? ENOTSOCK : EBADF,
          (open ? "Socket operation on non-socket" : "Bad file descriptor") + ": fd " + fd);
    }
    return socket;
  }

  /**
   * The default {@link Kernel}: an empty dump (NLMSG_DONE) for a dump request, an
   * acknowledgement (NLMSG_ERROR with error 0) for a request with NLM_F_ACK, nothing for
   * anything else. Netlink's header is {len u32, type u16, flags u16, seq u32, pid u32} in the
   * machine's byte order.
   */
  public static List<byte[]> acceptEverything(String netns, byte[] request) {
    final int nlmsgHdrLen = 16;
    final short nlmsgError = 2;
    final short nlmsgDone = 3;
    final int nlmFAck = 4;
    final int nlmFDump = 0x300;
    if (request.length < nlmsgHdrLen) {
      return List.of();
    }
    ByteBuffer in = ByteBuffer.wrap(request).order(ByteOrder.nativeOrder());
    int flags = in.getShort(6) & 0xffff;
    int seq = in.getInt(8);
    if ((flags & nlmFDump) == nlmFDump) {
      ByteBuffer done = ByteBuffer.allocate(nlmsgHdrLen + 4).order(ByteOrder.nativeOrder());
      done.putInt(nlmsgHdrLen + 4).putShort(nlmsgDone).putShort((short) 2).putInt(seq).putInt(0).putInt(0);
      return List.of(done.array());
    }
    if ((flags & nlmFAck) != 0) {
      ByteBuffer ack = ByteBuffer.allocate(nlmsgHdrLen + 4 + nlmsgHdrLen).order(ByteOrder.nativeOrder());
      ack.putInt(ack.capacity()).putShort(nlmsgError).putShort((short) 0x100).putInt(seq).putInt(0);
      ack.putInt(0).put(request, 0, nlmsgHdrLen); // error 0, then the request's header
      return List.of(ack.array());
    }
    return List.of();
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
