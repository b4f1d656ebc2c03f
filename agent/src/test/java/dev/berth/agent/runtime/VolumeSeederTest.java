package dev.berth.agent.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VolumeSeederTest {
  @TempDir Path tmp;
  Path rootfs;
  Path volume;
  RecordingSyscalls syscalls;

  @BeforeEach
  void setUp() throws Exception {
    rootfs = Files.createDirectories(tmp.resolve("rootfs"));
    volume = Files.createDirectories(tmp.resolve("volume"));
    syscalls = new RecordingSyscalls();
  }

  @Test
  void anEmptyVolumeGetsTheImagesFilesWithTheirModes() throws Exception {
    Path data = Files.createDirectories(rootfs.resolve("var/lib/db"));
    Files.writeString(data.resolve("init.sql"), "create table t;\n");
    Files.setAttribute(data.resolve("init.sql"), "unix:mode", 0640);
    Files.createDirectories(data.resolve("sub"));
    Files.createSymbolicLink(data.resolve("current"), Path.of("sub"));
    Files.setAttribute(data, "unix:mode", 0700);

    assertTrue(new VolumeSeeder(syscalls).seed(rootfs, "/var/lib/db", volume));

    assertEquals("create table t;\n", Files.readString(volume.resolve("init.sql")));
    assertEquals(0640, (Integer) Files.getAttribute(volume.resolve("init.sql"), "unix:mode") & 07777);
    assertEquals(0700, (Integer) Files.getAttribute(volume, "unix:mode") & 07777, "the volume takes the directory's mode");
    assertTrue(Files.isDirectory(volume.resolve("sub")));
    assertEquals(Path.of("sub"), Files.readSymbolicLink(volume.resolve("current")));
  }

  @Test
  void aVolumeWithDataIsLeftAlone() throws Exception {
    Files.createDirectories(rootfs.resolve("data"));
    Files.writeString(rootfs.resolve("data/default"), "image\n");
    Files.writeString(volume.resolve("mine"), "user\n");

    assertFalse(new VolumeSeeder(syscalls).seed(rootfs, "/data", volume));
    assertFalse(Files.exists(volume.resolve("default")));
  }

  @Test
  void aSymlinkInTheImageNeverLeadsOutOfTheRootfs() throws Exception {
    Path outside = Files.createDirectories(tmp.resolve("host-secrets"));
    Files.writeString(outside.resolve("key"), "secret\n");
    Files.createSymbolicLink(rootfs.resolve("data"), outside);
    Files.createDirectories(rootfs.resolve("etc"));
    Files.createSymbolicLink(rootfs.resolve("etc/conf"), Path.of("../../host-secrets"));

    assertFalse(new VolumeSeeder(syscalls).seed(rootfs, "/data", volume));
    assertFalse(new VolumeSeeder(syscalls).seed(rootfs, "/etc/conf", volume));
    assertEquals(Optional.empty(), VolumeSeeder.resolveInside(rootfs, "/data/key"));
    try (var s = Files.list(volume)) {
      assertEquals(0, s.count(), "nothing of the host was copied");
    }
  }

  @Test
  void aMissingOrNonDirectoryTargetCopiesNothing() throws Exception {
    Files.writeString(rootfs.resolve("file"), "x");
    assertFalse(new VolumeSeeder(syscalls).seed(rootfs, "/nope/deeper", volume));
    assertFalse(new VolumeSeeder(syscalls).seed(rootfs, "/file", volume));
    assertTrue(Files.isDirectory(volume, LinkOption.NOFOLLOW_LINKS));
  }
}
