package dev.berth.agent.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.agent.runtime.cgroup.DeviceFilter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The real thing against the kernel: needs Linux and root (mount, mknod, lchown, trusted.*
 * xattrs, bpf). Attaching a device program also needs a cgroup2 file system; its effect on
 * device access is tested by CgroupV2LinuxTest.
 */
@Tag("linux")
class LinuxSyscallsTest extends SyscallsContract {
  static final int EACCES = 13;
  static final int ENOTDIR = 20;
  @BeforeAll
  static void onlyAsRootOnLinux() throws IOException {
    assumeTrue(System.getProperty("os.name").startsWith("Linux"), "needs Linux");
    assumeTrue(Files.readString(Path.of("/proc/self/status")).lines()
        .anyMatch(l -> l.matches("Uid:\\s+0\\s.*")), "needs root: mount, mknod, lchown and trusted.* xattrs are privileged");
  }

  @Override
  protected Syscalls create() {
    return new LinuxSyscalls();
  }

  @Override
  protected Owner owner(Path path) throws IOException {
    return new Owner((Integer) Files.getAttribute(path, "unix:uid", LinkOption.NOFOLLOW_LINKS),
        (Integer) Files.getAttribute(path, "unix:gid", LinkOption.NOFOLLOW_LINKS));
  }

  /** Reads /proc/self/mountinfo, whose 5th field is the mount point with spaces etc. as octal escapes. */
  @Override
  protected boolean isMounted(Path path) throws IOException {
    String want = path.toRealPath().toString();
    return Files.readAllLines(Path.of("/proc/self/mountinfo")).stream()
        .map(l -> unescape(l.split(" ")[4]))
        .anyMatch(want::equals);
  }

  /** The target of /proc/thread-self/ns/net, such as {@code net:[4026531840]}. */
  @Override
  protected String netns() throws IOException {
    return Files.readSymbolicLink(THREAD_NETNS).toString();
  }

  private static String unescape(String field) {
    var out = new StringBuilder();
    for (int i = 0; i < field.length(); i++) {
      char c = field.charAt(i);
      if (c == '\\' && i + 3 < field.length()) {
        out.append((char) Integer.parseInt(field.substring(i + 1, i + 4), 8));
        i += 3;
      } else {
        out.append(c);
      }
    }
    return out.toString();
  }

  @Test
  void mknodMakesADeviceWithTheRightNumbers() throws Exception {
    Path node = dir.resolve("loop");
    sys.mknod(node, 'b', 0600, 259, 70000); // numbers that need the wide dev_t encoding
    long rdev = (Long) Files.getAttribute(node, "unix:rdev", LinkOption.NOFOLLOW_LINKS);
    assertEquals(LinuxSyscalls.makedev(259, 70000), rdev);
    String stat = new String(new ProcessBuilder("stat", "-c", "%F %t %T", node.toString()).start().getInputStream().readAllBytes()).trim();
    assertEquals("block special file 103 11170", stat); // hex major and minor
  }

  @Test
  void aProgramTheVerifierRejectsFailsWithItsLog() {
    byte[] exitOnly = {(byte) 0x95, 0, 0, 0, 0, 0, 0, 0}; // exit without setting r0
    SyscallException e = assertThrows(SyscallException.class, () -> sys.bpfProgLoadCgroupDevice(exitOnly, DeviceFilter.LICENSE));
    assertEquals(EACCES, e.errno(), e.getMessage());
    assertTrue(e.getMessage().contains("verifier log") && e.getMessage().contains("R0"), e.getMessage());
  }

  @Test
  void attachToAFileThatIsNotADirectoryFailsWithEnotdir() throws IOException {
    Path file = Files.createFile(dir.resolve("file"));
    int fd = sys.bpfProgLoadCgroupDevice(DeviceFilter.compile(List.of("a")), DeviceFilter.LICENSE);
    try {
      assertEquals(ENOTDIR, assertThrows(SyscallException.class, () -> sys.bpfProgAttachCgroup(file, fd)).errno());
    } finally {
      sys.close(fd);
    }
  }

  @Test
  void aProgramAttachedToACgroupGoesWithIt() throws IOException {
    Path root = List.of(Path.of("/sys/fs/cgroup"), Path.of("/sys/fs/cgroup/unified")).stream()
        .filter(r -> Files.exists(r.resolve("cgroup.controllers"))).findFirst().orElse(null);
    assumeTrue(root != null, "needs a cgroup2 file system at /sys/fs/cgroup or /sys/fs/cgroup/unified");
    Path cgroup = Files.createDirectory(root.resolve("berth-test-" + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 1)));
    try {
      int first = sys.bpfProgLoadCgroupDevice(DeviceFilter.compile(List.of("a")), DeviceFilter.LICENSE);
      int second = sys.bpfProgLoadCgroupDevice(DeviceFilter.compile(List.of("a")), DeviceFilter.LICENSE);
      try {
        sys.bpfProgAttachCgroup(cgroup, first);
        sys.bpfProgAttachCgroup(cgroup, second); // BPF_F_ALLOW_MULTI: added beside the first
        // The same program twice is refused (with an errno that differs between kernel versions).
        assertThrows(SyscallException.class, () -> sys.bpfProgAttachCgroup(cgroup, first));
      } finally {
        sys.close(first);
        sys.close(second);
      }
    } finally {
      Files.delete(cgroup); // rmdir of a cgroup with programs attached: the kernel detaches them
    }
    assertFalse(Files.exists(cgroup));
  }
}
