package dev.berth.agent.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The real thing against the kernel: needs Linux and root (mount, mknod, lchown, trusted.* xattrs). */
@Tag("linux")
class LinuxSyscallsTest extends SyscallsContract {
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
}
