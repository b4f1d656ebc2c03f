package dev.berth.agent.image;

import static dev.berth.agent.image.Tars.tar;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import dev.berth.agent.runtime.RecordingSyscalls;
import dev.berth.agent.runtime.RecordingSyscalls.Device;
import dev.berth.agent.runtime.RecordingSyscalls.Owner;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class LayerUnpackerTest {
  private static final LinkOption NOFOLLOW = LinkOption.NOFOLLOW_LINKS;

  @TempDir Path base;
  private Path target;
  private Path canary;
  private final RecordingSyscalls sys = new RecordingSyscalls();

  @BeforeEach
  void dirs() throws IOException {
    target = Files.createDirectory(base.resolve("target"));
    canary = Files.createDirectory(base.resolve("canary"));
    Files.writeString(canary.resolve("secret"), "do not touch");
    Files.createDirectory(canary.resolve("b"));
    Files.setAttribute(canary.resolve("b"), "unix:mode", 0750);
  }

  private LayerUnpacker.Stats unpack(byte[] tar) {
    return unpack(tar, LayerLimits.DEFAULT);
  }

  private LayerUnpacker.Stats unpack(byte[] tar, LayerLimits limits) {
    return new LayerUnpacker(sys, limits).unpack(new ByteArrayInputStream(tar), target);
  }

  private static int mode(Path p) throws IOException {
    return (Integer) Files.getAttribute(p, "unix:mode", NOFOLLOW) & 07777;
  }

  private static FileTime mtime(Path p) throws IOException {
    return Files.readAttributes(p, BasicFileAttributes.class, NOFOLLOW).lastModifiedTime();
  }

  @Test
  void filesDirectoriesModesOwnersAndTimes() throws IOException {
    FileTime dirTime = FileTime.from(Instant.parse("2019-05-06T07:08:09.123456Z"));
    byte[] layer = tar()
        .entry("etc/", TarConstants.LF_DIR, 0750, null, e -> {
          e.setModTime(dirTime);
          e.setUserId(0);
          e.setGroupId(42);
        })
        .file("etc/hosts", "127.0.0.1 localhost\n", 0640, e -> {
          e.setUserId(1000);
          e.setGroupId(1001);
        })
        .file("usr/bin/su", "#!/bin/su\n", 04755, e -> {})
        .file("usr/bin/wall", "x", 02755, e -> {})
        .dir("tmp/", 01777)
        .dir("ro/", 0555)
        .file("ro/inside", "written before ro/ became read-only")
        .build();

    LayerUnpacker.Stats stats = unpack(layer);

    assertEquals(7, stats.entries());
    assertEquals(layer.length, stats.tarBytes());
    assertEquals("127.0.0.1 localhost\n", Files.readString(target.resolve("etc/hosts")));
    assertEquals(0750, mode(target.resolve("etc")));
    assertEquals(0640, mode(target.resolve("etc/hosts")));
    assertEquals(04755, mode(target.resolve("usr/bin/su")));
    assertEquals(02755, mode(target.resolve("usr/bin/wall")));
    assertEquals(01777, mode(target.resolve("tmp")));
    assertEquals(0555, mode(target.resolve("ro")));
    assertEquals(0755, mode(target.resolve("usr")), "implicit parents are 0755");
    assertEquals(new Owner(1000, 1001), sys.owner(target.resolve("etc/hosts")));
    assertEquals(new Owner(0, 42), sys.owner(target.resolve("etc")));
    assertEquals(Tars.MTIME, mtime(target.resolve("etc/hosts")));
    assertEquals(dirTime, mtime(target.resolve("etc")), "directory times are set after their entries");
    assertEquals(Tars.MTIME, mtime(target.resolve("ro")));
  }

  @Test
  void rootEntrySetsTheLayerRoot() throws IOException {
    unpack(tar().dir("./", 0700).file("./a", "a").build());
    assertEquals(0700, mode(target));
    assertEquals("a", Files.readString(target.resolve("a")));
  }

  @Test
  void symlinksAreKeptAsTheyAreAndNeverFollowed() throws IOException {
    unpack(tar()
        .symlink("abs", canary.resolve("secret").toString())
        .symlink("rel", "../../canary/secret")
        .symlink("up", "..")
        .build());
    assertEquals(canary.resolve("secret"), Files.readSymbolicLink(target.resolve("abs")));
    assertEquals(Path.of("../../canary/secret"), Files.readSymbolicLink(target.resolve("rel")));
    assertEquals(Path.of(".."), Files.readSymbolicLink(target.resolve("up")));
    assertEquals(Tars.MTIME, mtime(target.resolve("abs")), "the link's own time, not its target's");
    assertEquals("do not touch", Files.readString(canary.resolve("secret")));
  }

  @Test
  void hardlinksShareTheInode() throws IOException {
    unpack(tar().file("bin/busybox", "elf").hardlink("bin/sh", "bin/busybox").hardlink("/sbin/init", "/bin/busybox")
        .build());
    Object inode = Files.getAttribute(target.resolve("bin/busybox"), "unix:ino");
    assertEquals(inode, Files.getAttribute(target.resolve("bin/sh"), "unix:ino"));
    assertEquals(inode, Files.getAttribute(target.resolve("sbin/init"), "unix:ino"));
    assertEquals(3, Files.getAttribute(target.resolve("bin/busybox"), "unix:nlink"));
  }

  @Test
  void whiteoutsBecomeOverlayWhiteouts() throws IOException {
    unpack(tar()
        .file(".wh.gone", "")
        .dir("dir/", 0755)
        .file("dir/.wh..wh..opq", "")
        .file("dir/.wh.old", "")
        .file("implicit/.wh..wh..opq", "")
        .file(".wh..wh.plnk", "")
        .build());
    assertEquals(new Device('c', 0, 0, 0), sys.device(target.resolve("gone")).orElseThrow());
    assertEquals(new Device('c', 0, 0, 0), sys.device(target.resolve("dir/old")).orElseThrow());
    assertArrayEquals("y".getBytes(StandardCharsets.US_ASCII),
        sys.lgetxattr(target.resolve("dir"), LayerUnpacker.OPAQUE_XATTR));
    assertArrayEquals("y".getBytes(StandardCharsets.US_ASCII),
        sys.lgetxattr(target.resolve("implicit"), LayerUnpacker.OPAQUE_XATTR));
    assertFalse(Files.exists(target.resolve(".wh.gone"), NOFOLLOW));
    assertFalse(Files.exists(target.resolve(".wh..wh.plnk"), NOFOLLOW), "aufs metadata is skipped");
    assertFalse(Files.exists(target.resolve("dir/.wh..wh..opq"), NOFOLLOW));
  }

  @Test
  void paxXattrsArePreservedByteForByte() throws IOException {
    byte[] capability = {1, 0, 0, 2, (byte) 0x80, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    unpack(tar()
        .file("text", "t", 0644, e -> e.addPaxHeader("SCHILY.xattr.user.comment", "héllo"))
        .rawPax(Tars.paxRecord("SCHILY.xattr.security.capability", capability),
            Tars.paxRecord("SCHILY.xattr.trusted.overlay.opaque", "y".getBytes(StandardCharsets.US_ASCII)))
        .file("bin/ping", "elf")
        .build());
    assertArrayEquals("héllo".getBytes(StandardCharsets.UTF_8),
        sys.lgetxattr(target.resolve("text"), "user.comment"));
    assertArrayEquals(capability, sys.lgetxattr(target.resolve("bin/ping"), "security.capability"));
    assertTrue(sys.calls("lsetxattr").stream().noneMatch(c -> c.arg(1).equals(LayerUnpacker.OPAQUE_XATTR)),
        "overlayfs xattrs come from whiteouts only");
  }

  @Test
  void devicesAndFifos() throws IOException {
    unpack(tar()
        .device("dev/null", TarConstants.LF_CHR, 0666, 1, 3)
        .device("dev/loop0", TarConstants.LF_BLK, 0660, 7, 0)
        .device("run/fifo", TarConstants.LF_FIFO, 0600, 0, 0)
        .build());
    assertEquals(new Device('c', 0666, 1, 3), sys.device(target.resolve("dev/null")).orElseThrow());
    assertEquals(new Device('b', 0660, 7, 0), sys.device(target.resolve("dev/loop0")).orElseThrow());
    assertEquals(new Device('p', 0600, 0, 0), sys.device(target.resolve("run/fifo")).orElseThrow());
    assertEquals(0666, mode(target.resolve("dev/null")), "mode set despite the umask");
  }

  @Test
  void anEntryReplacesAPathOfAnotherKindWithoutFollowingIt() throws IOException {
    unpack(tar()
        .file("x", "file first")
        .dir("x/", 0755)
        .dir("d/", 0755)
        .file("d/f", "inside")
        .file("d", "now a file")
        .symlink("s", canary.resolve("secret").toString())
        .file("s", "replaced the link")
        .symlink("t", canary.toString())
        .dir("t/", 0700)
        .build());
    assertTrue(Files.isDirectory(target.resolve("x"), NOFOLLOW));
    assertEquals("now a file", Files.readString(target.resolve("d")));
    assertEquals("replaced the link", Files.readString(target.resolve("s")));
    assertTrue(Files.isDirectory(target.resolve("t"), NOFOLLOW));
    assertEquals("do not touch", Files.readString(canary.resolve("secret")));
    assertEquals(0750, mode(canary.resolve("b")));
  }

  @Test
  void absoluteNamesAreNeutralisedInsideTheTarget() throws IOException {
    Map<String, String> before = listing();
    unpack(tar().file("/abs/path", "inside").file("//etc//passwd", "root:x:0:0").build());
    assertEquals("inside", Files.readString(target.resolve("abs/path")));
    assertEquals("root:x:0:0", Files.readString(target.resolve("etc/passwd")));
    assertEquals(before, listing());
  }

  @Test
  void globalPaxHeadersAsGitArchiveWritesThemAreNoEntries() throws IOException {
    LayerUnpacker.Stats stats = unpack(tar()
        .entry("pax_global_header", TarConstants.LF_PAX_GLOBAL_EXTENDED_HEADER, 0666, null,
            e -> e.addPaxHeader("comment", "0123456789abcdef"))
        .file("README", "read me")
        .build());
    assertEquals("read me", Files.readString(target.resolve("README")));
    assertFalse(Files.exists(target.resolve("pax_global_header"), NOFOLLOW));
    assertEquals(1, stats.entries());
  }

  @Test
  void dotDotInsideTheLayerIsResolvedByName() throws IOException {
    unpack(tar().file("a/../b", "b").build());
    assertEquals("b", Files.readString(target.resolve("b")));
  }

  @Test
  void aDirectoryReplacedByASymlinkDoesNotLeadItsPendingModeOutside() throws IOException {
    Map<String, String> before = listing();
    unpack(tar().dir("a/", 0755).dir("a/b/", 0777).symlink("a", canary.toString()).build());
    assertEquals(before, listing());
    assertEquals(0750, mode(canary.resolve("b")));
  }

  /** A hostile layer, built knowing where the canary is. */
  private static Arguments refused(String name, Function<String, Tars> layer, String reason) {
    return Arguments.of(name, layer, reason);
  }

  static Stream<Arguments> hostile() {
    return Stream.of(
        refused("../escape", c -> tar().file("../escape", "x"), "leads outside the layer"),
        refused("a/../../escape", c -> tar().file("a/../../escape", "x"), "leads outside the layer"),
        refused("symlink, then a file through it",
            c -> tar().symlink("evil", c).file("evil/pwned", "x"), "its parent \"evil\" is a symlink"),
        refused("symlink to /tmp/outside, then a file through it",
            c -> tar().symlink("evil", "/tmp/outside").file("evil/pwned", "x"), "its parent \"evil\" is a symlink"),
        refused("symlink, then a directory through it",
            c -> tar().symlink("evil", c).dir("evil/sub/", 0755), "its parent \"evil\" is a symlink"),
        refused("chain of symlinks to ..",
            c -> tar().symlink("up", "..").symlink("up2", "up/..").file("up2/canary/pwned", "x"), "is a symlink"),
        refused("symlink to .., then deeper",
            c -> tar().symlink("up", "..").file("up/canary/pwned", "x"), "its parent \"up\" is a symlink"),
        refused("symlink below a real directory",
            c -> tar().dir("d/", 0755).symlink("d/l", c).file("d/l/pwned", "x"), "its parent \"d/l\" is a symlink"),
        refused("hardlink to /etc/passwd", c -> tar().hardlink("h", "/etc/passwd"), "is not in the layer"),
        refused("hardlink to ../x", c -> tar().hardlink("h", "../canary/secret"), "leads outside the layer"),
        refused("hardlink through a symlink",
            c -> tar().symlink("evil", c).hardlink("h", "evil/secret"), "is not in the layer"),
        refused("hardlink through a symlink to ..",
            c -> tar().symlink("up", "..").hardlink("h", "up/canary/secret"), "is not in the layer"),
        refused("hardlink to a directory", c -> tar().dir("d/", 0755).hardlink("h", "d"), "is a directory"),
        refused("hardlink to itself", c -> tar().file("f", "f").hardlink("f", "f"), "itself"),
        refused("hardlink created through a symlink",
            c -> tar().file("f", "f").symlink("evil", c).hardlink("evil/h", "f"), "is a symlink"),
        refused("whiteout .wh...", c -> tar().file(".wh...", ""), "a whiteout must name a file"),
        refused("whiteout .wh..", c -> tar().file("d/.wh..", ""), "a whiteout must name a file"),
        refused("whiteout ../.wh.x", c -> tar().file("../.wh.secret", ""), "leads outside the layer"),
        refused("whiteout through a symlink",
            c -> tar().symlink("evil", c).file("evil/.wh.secret", ""), "is a symlink"),
        refused("opaque whiteout through a symlink",
            c -> tar().symlink("evil", c).file("evil/.wh..wh..opq", ""), "is a symlink"),
        refused("device through a symlink",
            c -> tar().symlink("evil", c).device("evil/null", TarConstants.LF_CHR, 0666, 1, 3), "is a symlink"),
        refused("a file as a parent", c -> tar().file("f", "f").file("f/g", "g"), "is not a directory"),
        refused("the root as a file", c -> tar().file(".", "x"), "names the layer's root but is not a directory"),
        refused("unsupported entry type", c -> tar().entry("v", (byte) 'V', 0644, null, e -> {}), "unsupported"),
        refused("xattr the file system does not take",
            c -> tar().file("f", "f", 0644, e -> e.addPaxHeader("SCHILY.xattr.bogus.x", "v")), "its xattr \"bogus.x\""),
        refused("owner out of range", c -> tar().file("f", "f", 0644, e -> e.setUserId(1L << 33)), "out of range"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("hostile")
  void hostileEntriesAreRefusedAndNothingOutsideChanges(String name, Function<String, Tars> layer, String reason)
      throws IOException {
    byte[] bytes = layer.apply(canary.toString()).build();
    Map<String, String> before = listing();
    BerthException e = assertThrows(BerthException.class, () -> unpack(bytes));
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind(), e.getMessage());
    assertTrue(e.getMessage().startsWith("refusing the layer entry \""), e.getMessage());
    assertTrue(e.getMessage().contains(reason), e.getMessage());
    assertEquals(before, listing());
    assertEquals(1, Files.getAttribute(canary.resolve("secret"), "unix:nlink"));
    assertFalse(Files.exists(Path.of("/tmp/outside/pwned"), NOFOLLOW));
    assertTrue(sys.calls().stream().allMatch(c -> c.args().isEmpty() || !(c.arg(0) instanceof Path p)
        || p.toAbsolutePath().normalize().startsWith(target)), "every syscall stays in the target: " + sys.calls());
  }

  @Test
  void tooManyEntries() {
    byte[] layer = tar().file("a", "a").file("b", "b").file("c", "c").build();
    BerthException e = assertThrows(BerthException.class, () -> unpack(layer, new LayerLimits(2, 1 << 20)));
    assertEquals(BerthException.Kind.RESOURCE_EXHAUSTED, e.kind());
    assertTrue(e.getMessage().contains("more than 2 entries") && e.getMessage().contains("maxEntries"), e.getMessage());
  }

  @Test
  void tooManyBytes() {
    byte[] layer = tar().file("big", new byte[64 * 1024]).build();
    BerthException e = assertThrows(BerthException.class, () -> unpack(layer, new LayerLimits(10, 16 * 1024)));
    assertEquals(BerthException.Kind.RESOURCE_EXHAUSTED, e.kind());
    assertTrue(e.getMessage().contains("16384 bytes") && e.getMessage().contains("maxBytes"), e.getMessage());
  }

  @Test
  void oversizedMetadataIsRefusedBeforeItIsRead() {
    byte[] layer = tar().file("f", "f", 0644, e -> e.addPaxHeader("comment", "x".repeat(2 << 20))).build();
    BerthException e = assertThrows(BerthException.class, () -> unpack(layer));
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind());
    assertTrue(e.getMessage().contains("metadata entry"), e.getMessage());
  }

  @Test
  void garbageIsNotATar() {
    byte[] garbage = "<html>not a tar</html>".repeat(100).getBytes(StandardCharsets.US_ASCII);
    BerthException e = assertThrows(BerthException.class, () -> unpack(garbage));
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind());
    assertTrue(e.getMessage().contains("not a valid tar"), e.getMessage());
  }

  @Test
  void trailingBytesAreReadAndCounted() {
    byte[] layer = tar().file("a", "a").build();
    byte[] padded = java.util.Arrays.copyOf(layer, layer.length + 4096);
    assertEquals(padded.length, unpack(padded).tarBytes());
  }

  /** Everything under the temp dir except the target: path → kind, size, mode, mtime. */
  private Map<String, String> listing() throws IOException {
    Map<String, String> out = new TreeMap<>();
    try (Stream<Path> all = Files.walk(base)) {
      for (Path p : (Iterable<Path>) all::iterator) {
        if (p.startsWith(target)) {
          continue;
        }
        BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, NOFOLLOW);
        out.put(base.relativize(p).toString(), (a.isDirectory() ? "d" : a.isSymbolicLink() ? "l" : "f") + " "
            + a.size() + " " + Integer.toOctalString(mode(p)) + " " + a.lastModifiedTime());
      }
    }
    return out;
  }
}
