package dev.berth.agent.runtime;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * Packs a container's writable layer (the overlayfs upper directory) into an OCI layer tar:
 * what `berth commit` turns into the new image's top layer. Overlay whiteouts (character
 * devices 0/0) become {@code .wh.NAME} entries, opaque directories a {@code .wh..wh..opq}
 * entry; files keep their mode, owner, mtime and extended attributes, hardlinks stay links.
 *
 * <p>Reads the directory without following a symlink. Not thread-safe; one pack at a time per
 * instance. The caller should make sure the container does not write meanwhile (it is stopped,
 * or paused); if it does, a file is caught half-written, cut or zero-padded to the size it had
 * when its entry began, and the layer stays a valid tar.
 */
public final class LayerPacker {
  private static final String OPAQUE = "trusted.overlay.opaque";
  /** Overlay's own bookkeeping, never part of an image. */
  private static final String OVERLAY_PREFIX = "trusted.overlay.";

  private final Syscalls syscalls;

  public LayerPacker(Syscalls syscalls) {
    this.syscalls = syscalls;
  }

  /**
   * PAX records are written as UTF-8 text: a binary value (a file capability, say) would be
   * corrupted, so it stops the commit with its name instead of being lost silently.
   */
  private static String utf8(byte[] value, String file, String attribute) throws IOException {
    try {
      return StandardCharsets.UTF_8.newDecoder().decode(java.nio.ByteBuffer.wrap(value)).toString();
    } catch (java.nio.charset.CharacterCodingException e) {
      throw new IOException("cannot commit " + file + ": its extended attribute " + attribute
          + " is binary, which Berth cannot write into a layer yet");
    }
  }

  /** Writes the tar of {@code upper} to {@code out} (which it does not close). */
  public void pack(Path upper, OutputStream out) throws IOException {
    TarArchiveOutputStream tar = new TarArchiveOutputStream(out);
    tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
    tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
    Map<Object, String> seenInodes = new HashMap<>();
    List<Path> entries;
    try (Stream<Path> walk = Files.walk(upper)) {
      entries = new ArrayList<>(walk.filter(p -> !p.equals(upper)).sorted().toList());
    }
    for (Path p : entries) {
      String name = upper.relativize(p).toString();
      Map<String, Object> a = Files.readAttributes(p, "unix:mode,uid,gid,rdev,ino,dev,nlink,lastModifiedTime,size",
          LinkOption.NOFOLLOW_LINKS);
      int mode = (Integer) a.get("mode");
      int type = mode & 0170000;
      TarArchiveEntry e;
      if (type == 0020000 && (Long) a.get("rdev") == 0) {
        // An overlay whiteout: the file was deleted in this container.
        Path parent = p.getParent();
        String dir = parent.equals(upper) ? "" : upper.relativize(parent) + "/";
        e = new TarArchiveEntry(dir + ".wh." + p.getFileName(), true);
        e.setMode(0100000);
        e.setModTime(((FileTime) a.get("lastModifiedTime")).toMillis());
        tar.putArchiveEntry(e);
        tar.closeArchiveEntry();
        continue;
      }
      switch (type) {
        case 0040000 -> e = new TarArchiveEntry(name + "/", true);
        case 0120000 -> {
          e = new TarArchiveEntry(name, TarArchiveEntry.LF_SYMLINK, true);
          e.setLinkName(Files.readSymbolicLink(p).toString());
        }
        case 0100000 -> {
          Object key = List.of(a.get("dev"), a.get("ino"));
          String first = (Integer) a.get("nlink") > 1 ? seenInodes.putIfAbsent(key, name) : null;
          if (first != null) {
            e = new TarArchiveEntry(name, TarArchiveEntry.LF_LINK, true);
            e.setLinkName(first);
          } else {
            e = new TarArchiveEntry(name, true);
            e.setSize((Long) a.get("size"));
          }
        }
        case 0020000, 0060000 -> {
          e = new TarArchiveEntry(name, type == 0020000 ? TarArchiveEntry.LF_CHR : TarArchiveEntry.LF_BLK, true);
          long rdev = (Long) a.get("rdev");
          e.setDevMajor((int) ((rdev >>> 8) & 0xfff | (rdev >>> 32) & ~0xfff));
          e.setDevMinor((int) ((rdev & 0xff) | ((rdev >>> 12) & ~0xff)));
        }
        case 0010000 -> e = new TarArchiveEntry(name, TarArchiveEntry.LF_FIFO, true);
        default -> {
          continue; // sockets are not image content
        }
      }
      e.setMode(mode);
      e.setIds((Integer) a.get("uid"), (Integer) a.get("gid"));
      e.setModTime(((FileTime) a.get("lastModifiedTime")).toMillis());
      boolean opaque = false;
      for (String x : syscalls.llistxattr(p)) {
        byte[] v = syscalls.lgetxattr(p, x);
        if (x.equals(OPAQUE)) {
          opaque = v.length == 1 && v[0] == 'y';
        } else if (!x.startsWith(OVERLAY_PREFIX)) {
          e.addPaxHeader("SCHILY.xattr." + x, utf8(v, name, x));
        }
      }
      tar.putArchiveEntry(e);
      if (type == 0100000 && !e.isLink()) {
        try (InputStream in = Files.newInputStream(p, LinkOption.NOFOLLOW_LINKS)) {
          copyExactly(in, tar, e.getSize());
        }
      }
      tar.closeArchiveEntry();
      if (opaque) {
        TarArchiveEntry o = new TarArchiveEntry(name + "/.wh..wh..opq", true);
        o.setMode(0100000);
        tar.putArchiveEntry(o);
        tar.closeArchiveEntry();
      }
    }
    tar.finish();
  }

  /**
   * Copies exactly {@code size} bytes, the size the entry's header promised: a file a running
   * container grows while it is packed (commit --pause=false) is cut at that size, one it
   * shrinks is padded with zeros. Either way the tar stays well-formed.
   */
  static void copyExactly(InputStream in, OutputStream out, long size) throws IOException {
    byte[] buf = new byte[64 * 1024];
    long left = size;
    while (left > 0) {
      int n = in.read(buf, 0, (int) Math.min(buf.length, left));
      if (n < 0) {
        java.util.Arrays.fill(buf, (byte) 0);
        while (left > 0) {
          int z = (int) Math.min(buf.length, left);
          out.write(buf, 0, z);
          left -= z;
        }
        return;
      }
      out.write(buf, 0, n);
      left -= n;
    }
  }
}
