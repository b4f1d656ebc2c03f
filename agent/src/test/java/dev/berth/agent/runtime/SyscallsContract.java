package dev.berth.agent.runtime;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.runtime.cgroup.DeviceFilter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The behaviour every {@link Syscalls} shares, so that the recording fake used by unit tests
 * cannot drift from the kernel. A subclass supplies the implementation and two observables
 * the interface does not offer: who owns a path (not following links) and whether a path is
 * a mount point. Every test works inside a temporary directory and unmounts what it mounted,
 * even when it fails.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
public abstract class SyscallsContract {
  static final int ENOENT = 2;
  static final int EBADF = 9;
  static final int EEXIST = 17;
  static final int EINVAL = 22;
  static final int ENODATA = 61;
  static final int EPROTONOSUPPORT = 93;
  static final int EAFNOSUPPORT = 97;
  static final Path THREAD_NETNS = Path.of("/proc/thread-self/ns/net");

  @TempDir Path dir;

  protected Syscalls sys;
  private final Deque<Path> mounts = new ArrayDeque<>();

  /** A fresh implementation for one test. */
  protected abstract Syscalls create();

  /** The uid and gid of {@code path} itself, never of a link's target. */
  protected abstract Owner owner(Path path) throws IOException;

  /** Whether something is mounted on {@code path}. */
  protected abstract boolean isMounted(Path path) throws IOException;

  /** Which network namespace the calling thread is in, as a name two threads can compare. */
  protected abstract String netns() throws IOException;

  protected record Owner(int uid, int gid) {}

  /** A call that names a path. */
  @FunctionalInterface
  interface PathCall {
    void call(Syscalls sys, Path path);
  }

  @BeforeEach
  void setUp() {
    sys = create();
  }

  @AfterEach
  void unmountLeftovers() throws IOException {
    for (Path target : mounts) { // newest first
      if (isMounted(target)) {
        sys.umount(target, Syscalls.MNT_DETACH);
      }
    }
  }

  private void mountTmpfs(Path target, long flags) {
    sys.mount("tmpfs", target, "tmpfs", flags, "size=1m,mode=0755");
    mounts.push(target);
  }

  static Stream<Arguments> callsOnMissingPaths() {
    return Stream.of(
        call("mount", (s, p) -> s.mount("tmpfs", p, "tmpfs", 0, null)),
        call("umount", (s, p) -> s.umount(p, 0)),
        call("mknod in a missing directory", (s, p) -> s.mknod(p.resolve("null"), 'c', 0666, 1, 3)),
        call("lchown", (s, p) -> s.lchown(p, 0, 0)),
        call("lsetxattr", (s, p) -> s.lsetxattr(p, "trusted.berth", new byte[] {1})),
        call("open", (s, p) -> s.open(p, Syscalls.O_RDONLY)),
        call("lgetxattr", (s, p) -> s.lgetxattr(p, "trusted.berth")));
  }

  private static Arguments call(String name, PathCall call) {
    return Arguments.of(name, call);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("callsOnMissingPaths")
  void aMissingPathFailsWithEnoentNamingThePath(String name, PathCall call) {
    Path missing = dir.resolve("missing");
    SyscallException e = assertThrows(SyscallException.class, () -> call.call(sys, missing));
    assertEquals(ENOENT, e.errno(), e.getMessage());
    assertTrue(e.getMessage().contains(missing.toString()), "names the path: " + e.getMessage());
  }

  @ParameterizedTest(name = "{0} {1}:{2}")
  @CsvSource({"c, 1, 3", "b, 7, 200", "p, 0, 0"})
  void mknodMakesThePathAppear(char type, int major, int minor) throws IOException {
    Path node = dir.resolve("node");
    sys.mknod(node, type, 0600, major, minor);
    assertTrue(Files.exists(node, LinkOption.NOFOLLOW_LINKS));
    assertFalse(Files.isDirectory(node, LinkOption.NOFOLLOW_LINKS));
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(node, LinkOption.NOFOLLOW_LINKS)));
  }

  @Test
  void mknodOntoAnExistingPathFailsWithEexist() throws IOException {
    Path node = Files.createFile(dir.resolve("taken"));
    SyscallException e = assertThrows(SyscallException.class, () -> sys.mknod(node, 'c', 0666, 1, 3));
    assertEquals(EEXIST, e.errno());
  }

  @Test
  void mknodRejectsAnUnknownType() {
    assertThrows(IllegalArgumentException.class, () -> sys.mknod(dir.resolve("x"), 's', 0666, 0, 0));
  }

  @Test
  void xattrsRoundTripAndOverwrite() throws IOException {
    Path file = Files.createFile(dir.resolve("file"));
    byte[] value = {0, 1, (byte) 0xff, 'y'};
    sys.lsetxattr(file, "trusted.overlay.opaque", value);
    assertArrayEquals(value, sys.lgetxattr(file, "trusted.overlay.opaque"));
    sys.lsetxattr(file, "trusted.overlay.opaque", "y".getBytes(UTF_8));
    assertArrayEquals("y".getBytes(UTF_8), sys.lgetxattr(file, "trusted.overlay.opaque"));
    sys.lsetxattr(file, "trusted.empty", new byte[0]);
    assertArrayEquals(new byte[0], sys.lgetxattr(file, "trusted.empty"));
  }

  @Test
  void xattrNamesAreListed() throws IOException {
    Path file = Files.createFile(dir.resolve("file"));
    assertTrue(sys.llistxattr(file).stream().noneMatch(n -> n.startsWith("trusted.")), "a new file has no trusted.* xattr");
    sys.lsetxattr(file, "trusted.overlay.opaque", "y".getBytes(UTF_8));
    sys.lsetxattr(file, "trusted.berth", new byte[] {1});
    assertEquals(java.util.Set.of("trusted.overlay.opaque", "trusted.berth"),
        sys.llistxattr(file).stream().filter(n -> n.startsWith("trusted.")).collect(java.util.stream.Collectors.toSet()));
    SyscallException e = assertThrows(SyscallException.class, () -> sys.llistxattr(dir.resolve("missing")));
    assertEquals(ENOENT, e.errno());
  }

  @Test
  void anUnsetXattrFailsWithEnodata() throws IOException {
    Path file = Files.createFile(dir.resolve("file"));
    SyscallException e = assertThrows(SyscallException.class, () -> sys.lgetxattr(file, "trusted.never.set"));
    assertEquals(ENODATA, e.errno());
  }

  @Test
  void anXattrSetOnASymlinkStaysOnTheLink() throws IOException {
    Path target = Files.createFile(dir.resolve("target"));
    Path link = Files.createSymbolicLink(dir.resolve("link"), target);
    sys.lsetxattr(link, "trusted.berth", new byte[] {7});
    assertArrayEquals(new byte[] {7}, sys.lgetxattr(link, "trusted.berth"));
    assertEquals(ENODATA, assertThrows(SyscallException.class, () -> sys.lgetxattr(target, "trusted.berth")).errno());
  }

  @Test
  void lchownOfASymlinkChangesTheLinkNotItsTarget() throws IOException {
    Path target = Files.createFile(dir.resolve("target"));
    Path link = Files.createSymbolicLink(dir.resolve("link"), target);
    Owner before = owner(target);
    sys.lchown(link, 12345, 23456);
    assertEquals(new Owner(12345, 23456), owner(link));
    assertEquals(before, owner(target));
  }

  @Test
  void lchownOfAFileChangesIt() throws IOException {
    Path file = Files.createFile(dir.resolve("file"));
    sys.lchown(file, 1000, 1001);
    assertEquals(new Owner(1000, 1001), owner(file));
  }

  @Test
  void killOfADeadPidReturnsFalse() throws Exception {
    Process p = new ProcessBuilder("true").start();
    assertTrue(p.waitFor(10, TimeUnit.SECONDS));
    assertFalse(sys.kill((int) p.pid(), 0));
  }

  @Test
  void killOfItselfWithSignalZeroIsTrue() {
    int self = sys.getpid();
    assertEquals(ProcessHandle.current().pid(), self);
    assertTrue(sys.kill(self, 0));
  }

  @Test
  void killWithAnInvalidSignalFailsWithEinval() {
    assertEquals(EINVAL, assertThrows(SyscallException.class, () -> sys.kill(sys.getpid(), 1000)).errno());
  }

  @Test
  void mountATmpfsThenUmountIt() throws IOException {
    Path target = Files.createDirectory(dir.resolve("mnt"));
    mountTmpfs(target, Syscalls.MS_NOSUID | Syscalls.MS_NODEV);
    assertTrue(isMounted(target));
    sys.mount("tmpfs", target, "tmpfs", Syscalls.MS_REMOUNT | Syscalls.MS_RDONLY, null);
    sys.umount(target, 0);
    assertFalse(isMounted(target));
    assertEquals(EINVAL, assertThrows(SyscallException.class, () -> sys.umount(target, 0)).errno());
  }

  @Test
  void umountOfSomethingNotMountedFailsWithEinval() {
    SyscallException e = assertThrows(SyscallException.class, () -> sys.umount(dir, 0));
    assertEquals(EINVAL, e.errno());
    assertTrue(e.getMessage().contains(dir.toString()), e.getMessage());
  }

  @Test
  void aLoadedDeviceProgramIsADescriptorToClose() {
    int fd = sys.bpfProgLoadCgroupDevice(DeviceFilter.compile(ContainerDefaults.DEVICE_RULES), DeviceFilter.LICENSE);
    assertTrue(fd >= 0, "fd " + fd);
    sys.close(fd);
    // Not closed twice: on the kernel another thread may have been given the same number since.
  }

  @ParameterizedTest(name = "{0} bytes")
  @CsvSource({"0", "7", "12"})
  void aProgramOfPartInstructionsIsRejectedBeforeTheKernel(int length) {
    assertThrows(IllegalArgumentException.class, () -> sys.bpfProgLoadCgroupDevice(new byte[length], DeviceFilter.LICENSE));
  }

  @Test
  void closeOfADescriptorThatIsNotOpenFailsWithEbadf() {
    SyscallException e = assertThrows(SyscallException.class, () -> sys.close(-1));
    assertEquals(EBADF, e.errno());
  }

  @Test
  void attachToAMissingDirectoryFailsWithEnoentNamingIt() {
    int fd = sys.bpfProgLoadCgroupDevice(DeviceFilter.compile(ContainerDefaults.DEVICE_RULES), DeviceFilter.LICENSE);
    try {
      Path missing = dir.resolve("missing");
      SyscallException e = assertThrows(SyscallException.class, () -> sys.bpfProgAttachCgroup(missing, fd));
      assertEquals(ENOENT, e.errno());
      assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
    } finally {
      sys.close(fd);
    }
  }

  @Test
  void remountOfSomethingNotMountedFailsWithEinval() {
    SyscallException e = assertThrows(SyscallException.class,
        () -> sys.mount("none", dir, "tmpfs", Syscalls.MS_REMOUNT | Syscalls.MS_RDONLY, null));
    assertEquals(EINVAL, e.errno());
  }

  @Test
  void anOpenedFileIsADescriptorToClose() throws IOException {
    Path file = Files.createFile(dir.resolve("file"));
    int fd = sys.open(file, Syscalls.O_RDONLY);
    assertTrue(fd >= 0, "fd " + fd);
    sys.close(fd);
  }

  @Test
  void unshareMovesTheThreadIntoANewNetnsAndSetnsBringsItBack() throws Exception {
    onFreshThread(() -> {
      String home = netns();
      int homeFd = sys.open(THREAD_NETNS, Syscalls.O_RDONLY);
      try {
        sys.unshare(Syscalls.CLONE_NEWNET);
        String away = netns();
        assertFalse(home.equals(away), "a new namespace: " + away);
        sys.setns(homeFd, Syscalls.CLONE_NEWNET);
        assertEquals(home, netns());
      } finally {
        sys.close(homeFd);
      }
    });
  }

  @Test
  void setnsToAFileThatIsNoNamespaceFailsWithEinval() throws Exception {
    Path file = Files.createFile(dir.resolve("file"));
    int fd = sys.open(file, Syscalls.O_RDONLY);
    try {
      onFreshThread(() -> assertEquals(EINVAL,
          assertThrows(SyscallException.class, () -> sys.setns(fd, Syscalls.CLONE_NEWNET)).errno()));
    } finally {
      sys.close(fd);
    }
  }

  @Test
  void setnsToADescriptorThatIsNotOpenFailsWithEbadf() throws Exception {
    onFreshThread(() -> assertEquals(EBADF,
        assertThrows(SyscallException.class, () -> sys.setns(-1, Syscalls.CLONE_NEWNET)).errno()));
  }

  @Test
  void aNetlinkSocketOutlivesTheThreadsVisitAndAnswersAnAcknowledgedNoop() throws Exception {
    int[] socket = {-1};
    String[] where = {null};
    onFreshThread(() -> {
      int homeFd = sys.open(THREAD_NETNS, Syscalls.O_RDONLY);
      try {
        // Made in a namespace of its own, so that the test asks nothing of the host's.
        sys.unshare(Syscalls.CLONE_NEWNET);
        where[0] = netns();
        socket[0] = sys.socket(Syscalls.AF_NETLINK, Syscalls.SOCK_RAW, Syscalls.NETLINK_ROUTE);
      } finally {
        sys.setns(homeFd, Syscalls.CLONE_NEWNET);
        sys.close(homeFd);
      }
    });
    int fd = socket[0];
    try {
      // NLMSG_NOOP with NLM_F_REQUEST | NLM_F_ACK, sequence 77: the kernel acknowledges it.
      byte[] noop = java.nio.ByteBuffer.allocate(16).order(java.nio.ByteOrder.nativeOrder())
          .putInt(16).putShort((short) 1).putShort((short) 5).putInt(77).putInt(0).array();
      assertEquals(16, sys.send(fd, noop, noop.length));
      byte[] buf = new byte[8192];
      int got = sys.recv(fd, buf);
      java.nio.ByteBuffer reply = java.nio.ByteBuffer.wrap(buf, 0, got).order(java.nio.ByteOrder.nativeOrder());
      assertTrue(got >= 36, "an nlmsgerr of " + got + " bytes");
      assertEquals(2, reply.getShort(4), "NLMSG_ERROR");
      assertEquals(77, reply.getInt(8), "our sequence number");
      assertEquals(0, reply.getInt(16), "error 0: an acknowledgement");
    } finally {
      sys.close(fd);
    }
  }

  @ParameterizedTest(name = "domain {0} type {1} protocol {2}")
  @CsvSource({"12345, 3, 0, " + EAFNOSUPPORT, "16, 3, 99, " + EPROTONOSUPPORT})
  void anUnknownKindOfSocketIsRefused(int domain, int type, int protocol, int errno) {
    assertEquals(errno, assertThrows(SyscallException.class, () -> sys.socket(domain, type, protocol)).errno());
  }

  @Test
  void sendAndRecvOnADescriptorThatIsNotOpenFailWithEbadf() {
    assertEquals(EBADF, assertThrows(SyscallException.class, () -> sys.send(-1, new byte[16], 16)).errno());
    assertEquals(EBADF, assertThrows(SyscallException.class, () -> sys.recv(-1, new byte[16])).errno());
  }

  /** Work that may throw, checked. */
  @FunctionalInterface
  interface ThrowingRunnable {
    void run() throws Exception;
  }

  /**
   * Runs {@code work} on a thread of its own that ends with it, so that a namespace it fails
   * to leave never reaches another test; rethrows what it threw.
   */
  static void onFreshThread(ThrowingRunnable work) throws Exception {
    Throwable[] failure = {null};
    Thread thread = new Thread(() -> {
      try {
        work.run();
      } catch (Throwable t) {
        failure[0] = t;
      }
    }, "syscalls-contract-netns");
    thread.start();
    thread.join();
    if (failure[0] instanceof Exception e) {
      throw e;
    }
    if (failure[0] instanceof Error e) {
      throw e;
    }
  }
}
