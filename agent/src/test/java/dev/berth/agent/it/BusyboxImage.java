package dev.berth.agent.it;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * Builds the test image: a rootfs tarball of Debian's busybox-static, its applets as
 * symlinks, and the few files an image needs (passwd, group, a non-root user).
 */
public final class BusyboxImage {
  public static final Path BUSYBOX = Path.of("/bin/busybox");

  private BusyboxImage() {}

  public static boolean available() {
    return Files.isExecutable(BUSYBOX);
  }

  /** Writes the rootfs tar to {@code out}. */
  public static void writeTar(OutputStream out) throws IOException, InterruptedException {
    try (TarArchiveOutputStream tar = new TarArchiveOutputStream(out)) {
      tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      for (String d : List.of("bin", "etc", "proc", "sys", "dev", "root", "home", "home/app", "var", "var/empty", "work")) {
        dir(tar, d, 0755, 0, 0);
      }
      dir(tar, "tmp", 01777, 0, 0);
      dir(tar, "data", 0775, 1000, 1000);
      file(tar, "bin/busybox", Files.readAllBytes(BUSYBOX), 0755);
      for (String applet : applets()) {
        if (!applet.equals("busybox")) {
          TarArchiveEntry e = new TarArchiveEntry("bin/" + applet, TarArchiveEntry.LF_SYMLINK);
          e.setLinkName("busybox");
          tar.putArchiveEntry(e);
          tar.closeArchiveEntry();
        }
      }
      file(tar, "etc/passwd", ("root:x:0:0:root:/root:/bin/sh\n"
          + "app:x:1000:1000:app:/home/app:/bin/sh\n"
          + "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n").getBytes(StandardCharsets.UTF_8), 0644);
      file(tar, "etc/group", ("root:x:0:\napp:x:1000:\nextra:x:2000:app\nnogroup:x:65534:\n")
          .getBytes(StandardCharsets.UTF_8), 0644);
      file(tar, "etc/hostname", "image\n".getBytes(StandardCharsets.UTF_8), 0644);
      file(tar, "etc/image-file", "from the image\n".getBytes(StandardCharsets.UTF_8), 0644);
      // A symlink that tries to lead a workdir out of the rootfs.
      TarArchiveEntry evil = new TarArchiveEntry("escape", TarArchiveEntry.LF_SYMLINK);
      evil.setLinkName("../../../../../../../../tmp");
      tar.putArchiveEntry(evil);
      tar.closeArchiveEntry();
      file(tar, "bin/not-executable", "#!/bin/sh\necho no\n".getBytes(StandardCharsets.UTF_8), 0644);
      tar.finish();
    }
  }

  public static byte[] tar() throws IOException, InterruptedException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    writeTar(b);
    return b.toByteArray();
  }

  private static List<String> applets() throws IOException, InterruptedException {
    Process p = new ProcessBuilder(BUSYBOX.toString(), "--list").redirectErrorStream(true).start();
    List<String> names = new ArrayList<>();
    for (String line : new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
      if (line.matches("[a-z0-9_.\\[\\-]+")) {
        names.add(line);
      }
    }
    p.waitFor(10, TimeUnit.SECONDS);
    return names;
  }

  private static void dir(TarArchiveOutputStream tar, String name, int mode, int uid, int gid) throws IOException {
    TarArchiveEntry e = new TarArchiveEntry(name + "/");
    e.setMode(040000 | mode);
    e.setUserId(uid);
    e.setGroupId(gid);
    tar.putArchiveEntry(e);
    tar.closeArchiveEntry();
  }

  private static void file(TarArchiveOutputStream tar, String name, byte[] content, int mode) throws IOException {
    TarArchiveEntry e = new TarArchiveEntry(name);
    e.setMode(0100000 | mode);
    e.setSize(content.length);
    tar.putArchiveEntry(e);
    tar.write(content);
    tar.closeArchiveEntry();
  }
}
