package dev.berth.agent.image;

import static dev.berth.agent.image.Tars.tar;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.agent.runtime.LinuxSyscalls;
import dev.berth.agent.runtime.SyscallException;
import dev.berth.agent.runtime.Syscalls;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The unpacker against the real kernel: whiteouts, devices, owners and xattrs need root. */
@Tag("linux")
class LayerUnpackerLinuxTest {
  private static final LinkOption NOFOLLOW = LinkOption.NOFOLLOW_LINKS;
  private static final int S_IFMT = 0170000;
  private static final int S_IFCHR = 0020000;
  private static final int S_IFBLK = 0060000;
  private static final int S_IFIFO = 0010000;

  @TempDir Path dir;
  private final Syscalls sys = new LinuxSyscalls();

  @BeforeAll
  static void onlyAsRootOnLinux() throws IOException {
    assumeTrue(System.getProperty("os.name").startsWith("Linux"), "needs Linux");
    assumeTrue(Files.readString(Path.of("/proc/self/status")).lines().anyMatch(l -> l.matches("Uid:\\s+0\\s.*")),
        "needs root: mknod, lchown and trusted.* xattrs are privileged");
  }

  private Path unpack(String name, byte[] tar) throws IOException {
    Path target = Files.createDirectory(dir.resolve(name));
    new LayerUnpacker(sys, LayerLimits.DEFAULT).unpack(new ByteArrayInputStream(tar), target);
    return target;
  }

  private static int attr(Path p, String name) throws IOException {
    return ((Number) Files.getAttribute(p, "unix:" + name, NOFOLLOW)).intValue();
  }

  @Test
  void whiteoutsAreCharacterDevices00AndOpaqueDirsHaveTheXattr() throws IOException {
    Path layer = unpack("layer", tar()
        .file(".wh.gone", "")
        .dir("d/", 0755)
        .file("d/.wh..wh..opq", "")
        .build());
    Path whiteout = layer.resolve("gone");
    assertEquals(S_IFCHR, attr(whiteout, "mode") & S_IFMT);
    assertEquals(0, attr(whiteout, "rdev"));
    assertArrayEquals("y".getBytes(StandardCharsets.US_ASCII),
        sys.lgetxattr(layer.resolve("d"), LayerUnpacker.OPAQUE_XATTR));
  }

  @Test
  void devicesFifosOwnersSetuidAndCapabilitiesAreReal() throws IOException {
    // cap_setuid and cap_net_raw, permitted and effective: a byte above 0x7f, as capabilities often have
    byte[] capability = {1, 0, 0, 2, (byte) 0x80, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    Path layer = unpack("layer", tar()
        .device("dev/null", TarConstants.LF_CHR, 0666, 1, 3)
        .device("dev/loop9", TarConstants.LF_BLK, 0660, 7, 9)
        .device("run/fifo", TarConstants.LF_FIFO, 0600, 0, 0)
        .file("usr/bin/su", "x", 04755, e -> {
          e.setUserId(0);
          e.setGroupId(0);
        })
        .file("home/u/f", "x", 02750, e -> {
          e.setUserId(1234);
          e.setGroupId(5678);
        })
        .rawPax(Tars.paxRecord("SCHILY.xattr.security.capability", capability))
        .file("bin/ping", "elf", 0755, e -> {})
        .build());
    assertEquals(S_IFCHR | 0666, attr(layer.resolve("dev/null"), "mode"));
    assertEquals((1 << 8) | 3, attr(layer.resolve("dev/null"), "rdev"));
    assertEquals(S_IFBLK | 0660, attr(layer.resolve("dev/loop9"), "mode"));
    assertEquals(S_IFIFO | 0600, attr(layer.resolve("run/fifo"), "mode"));
    assertEquals(04755, attr(layer.resolve("usr/bin/su"), "mode") & 07777);
    assertEquals(02750, attr(layer.resolve("home/u/f"), "mode") & 07777, "setgid survives the chown before it");
    assertEquals(1234, attr(layer.resolve("home/u/f"), "uid"));
    assertEquals(5678, attr(layer.resolve("home/u/f"), "gid"));
    assertArrayEquals(capability, sys.lgetxattr(layer.resolve("bin/ping"), "security.capability"));
  }

  @Test
  void overlayfsHidesWhatTheWhiteoutsSay() throws IOException {
    Path lower = unpack("lower", tar().file("gone", "old").file("d/old", "old").file("kept", "kept").build());
    Path upper = unpack("upper", tar().file(".wh.gone", "").dir("d/", 0755).file("d/.wh..wh..opq", "")
        .file("d/new", "new").build());
    Path merged = Files.createDirectory(dir.resolve("merged"));
    try {
      sys.mount("overlay", merged, "overlay", Syscalls.MS_RDONLY, "lowerdir=" + upper + ":" + lower);
    } catch (SyscallException e) {
      assumeTrue(false, "overlayfs is not available here: " + e.getMessage());
    }
    try {
      assertFalse(Files.exists(merged.resolve("gone"), NOFOLLOW));
      assertEquals("kept", Files.readString(merged.resolve("kept")));
      try (Stream<Path> s = Files.list(merged.resolve("d"))) {
        assertEquals(List.of("new"), s.map(p -> p.getFileName().toString()).toList());
      }
      assertTrue(Files.exists(lower.resolve("d/old")), "the lower layer is untouched");
    } finally {
      sys.umount(merged, Syscalls.MNT_DETACH);
    }
  }
}
