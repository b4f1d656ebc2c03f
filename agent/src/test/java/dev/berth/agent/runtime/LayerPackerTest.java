package dev.berth.agent.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The writable layer of a container becomes an OCI layer tar. */
@Timeout(30)
class LayerPackerTest {
  @TempDir
  Path upper;

  private Map<String, TarArchiveEntry> pack(Syscalls sys, Map<String, String> contents) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    new LayerPacker(sys).pack(upper, out);
    Map<String, TarArchiveEntry> entries = new LinkedHashMap<>();
    try (TarArchiveInputStream tar = new TarArchiveInputStream(new ByteArrayInputStream(out.toByteArray()))) {
      for (TarArchiveEntry e; (e = tar.getNextEntry()) != null; ) {
        entries.put(e.getName(), e);
        if (!e.isDirectory() && !e.isSymbolicLink() && !e.isLink() && !e.isCharacterDevice()) {
          contents.put(e.getName(), new String(tar.readAllBytes(), StandardCharsets.UTF_8));
        }
      }
    }
    return entries;
  }

  @Test
  void filesDirsSymlinksAndHardlinksKeepWhatTheyAre() throws IOException {
    Files.createDirectories(upper.resolve("etc/app"));
    Path conf = Files.writeString(upper.resolve("etc/app/conf"), "x=1\n");
    Files.setPosixFilePermissions(conf, PosixFilePermissions.fromString("rwxr-x---"));
    Files.createSymbolicLink(upper.resolve("etc/link"), Path.of("../outside/whatever"));
    Files.createLink(upper.resolve("etc/app/hard"), conf);
    RecordingSyscalls sys = new RecordingSyscalls();
    sys.lsetxattr(conf, "user.note", "hello".getBytes(StandardCharsets.UTF_8));
    Map<String, String> contents = new LinkedHashMap<>();
    Map<String, TarArchiveEntry> e = pack(sys, contents);

    assertTrue(e.get("etc/").isDirectory());
    assertEquals("x=1\n", contents.get("etc/app/conf"));
    assertEquals(0750, e.get("etc/app/conf").getMode() & 07777);
    assertEquals("hello", e.get("etc/app/conf").getExtraPaxHeader("SCHILY.xattr.user.note"));
    assertTrue(e.get("etc/app/hard").isLink());
    assertEquals("etc/app/conf", e.get("etc/app/hard").getLinkName());
    assertTrue(e.get("etc/link").isSymbolicLink());
    assertEquals("../outside/whatever", e.get("etc/link").getLinkName(), "symlinks are kept, never followed");
  }

  @Test
  void aBinaryXattrStopsThePackWithItsName() throws IOException {
    Path f = Files.writeString(upper.resolve("bin-tool"), "#!/bin/sh\n");
    RecordingSyscalls sys = new RecordingSyscalls();
    sys.lsetxattr(f, "security.capability", new byte[] {1, 0, 0, 2, (byte) 0xff, (byte) 0xfe});
    IOException e = assertThrows(IOException.class, () -> pack(sys, new LinkedHashMap<>()));
    assertTrue(e.getMessage().contains("bin-tool") && e.getMessage().contains("security.capability"), e.getMessage());
  }

  @Test
  @Tag("linux")
  void overlayWhiteoutsAndOpaqueDirsBecomeOciWhiteouts() throws IOException {
    assumeTrue(dev.berth.agent.it.Linux.isRoot(), "needs root for a 0/0 device and a trusted.* xattr");
    LinuxSyscalls sys = new LinuxSyscalls();
    Files.createDirectories(upper.resolve("etc"));
    sys.mknod(upper.resolve("etc/deleted"), 'c', 0, 0, 0);
    Path opaque = Files.createDirectories(upper.resolve("var/cache"));
    sys.lsetxattr(opaque, "trusted.overlay.opaque", "y".getBytes(StandardCharsets.UTF_8));
    sys.mknod(upper.resolve("etc/null"), 'c', 0666, 1, 3);
    Map<String, TarArchiveEntry> e = pack(sys, new LinkedHashMap<>());

    assertTrue(e.containsKey("etc/.wh.deleted"), e.keySet().toString());
    assertTrue(e.containsKey("var/cache/.wh..wh..opq"), e.keySet().toString());
    assertTrue(e.get("var/cache/").getExtraPaxHeaders().keySet().stream().noneMatch(k -> k.contains("overlay")),
        "overlay's own xattrs stay out of the image");
    TarArchiveEntry dev = e.get("etc/null");
    assertTrue(dev.isCharacterDevice());
    assertEquals(1, dev.getDevMajor());
    assertEquals(3, dev.getDevMinor());
  }

  @Test
  void aFileThatChangesSizeWhilePackedIsCutOrPaddedToItsHeader() throws IOException {
    ByteArrayOutputStream grown = new ByteArrayOutputStream();
    LayerPacker.copyExactly(new ByteArrayInputStream("0123456789".getBytes(StandardCharsets.UTF_8)), grown, 4);
    assertEquals("0123", grown.toString(StandardCharsets.UTF_8));
    ByteArrayOutputStream shrunk = new ByteArrayOutputStream();
    LayerPacker.copyExactly(new ByteArrayInputStream("ab".getBytes(StandardCharsets.UTF_8)), shrunk, 70_000);
    byte[] b = shrunk.toByteArray();
    assertEquals(70_000, b.length);
    assertEquals('a', b[0]);
    assertEquals(0, b[69_999]);
  }
}
