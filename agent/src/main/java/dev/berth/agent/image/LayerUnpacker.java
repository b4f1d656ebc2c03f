package dev.berth.agent.image;

import dev.berth.agent.BerthException;
import dev.berth.agent.runtime.SyscallException;
import dev.berth.agent.runtime.Syscalls;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * Unpacks one layer, an uncompressed tar stream, into a directory that overlayfs can use as a
 * lower dir. A layer is hostile input: nothing outside the target directory is ever created,
 * changed or followed.
 *
 * <ul>
 *   <li>Absolute names are made relative to the target; {@code ..} components are resolved
 *       by name, and an entry whose {@code ..} would lead out of the target is refused.
 *   <li>No symlink is ever followed: every parent component is checked without following
 *       links, and one that is a symlink (or not a directory) refuses the entry. Missing
 *       parents are created (mode 0755).
 *   <li>A hardlink must name an entry already unpacked, not a directory, reached through real
 *       directories only.
 *   <li>An entry replacing a path of another kind removes it first (a symlink as a link, a
 *       directory with its content); a directory over a directory is merged.
 * </ul>
 *
 * OCI whiteouts become overlayfs ones: {@code .wh.NAME} a character device 0/0 named NAME,
 * {@code .wh..wh..opq} the xattr {@code trusted.overlay.opaque=y} on its directory; other
 * {@code .wh..wh.*} (aufs metadata) entries are skipped. Mode bits (setuid, setgid and sticky
 * included), numeric owners, {@code SCHILY.xattr.*} PAX xattrs byte for byte (except
 * overlayfs's own, which only whiteouts may set), symlinks, hardlinks, devices and fifos
 * are preserved, and the mtimes of files, symlinks and directories (directories at the end).
 * Device nodes and fifos keep the time of unpacking: the JDK sets times through an open file,
 * and opening those has side effects.
 *
 * <p>Failure is an exception: {@link BerthException} INVALID_ARGUMENT naming the entry and
 * the reason for a refused entry or a malformed tar, RESOURCE_EXHAUSTED naming the limit of
 * {@link LayerLimits}, INTERNAL when the file system fails. The target is then left partly
 * written: the caller deletes it. Thread-safe: each call has its own state.
 */
public final class LayerUnpacker {
  /** The xattr that makes an overlayfs directory opaque. */
  public static final String OPAQUE_XATTR = "trusted.overlay.opaque";

  private static final String WHITEOUT = ".wh.";
  private static final String WHITEOUT_META = ".wh..wh.";
  private static final String WHITEOUT_OPAQUE = ".wh..wh..opq";
  private static final String PAX_XATTR = "SCHILY.xattr.";
  private static final int MAX_NAME_BYTES = 4096;
  private static final int MAX_COMPONENT_BYTES = 255;
  private static final long MAX_ID = 0xFFFF_FFFEL; // (uid_t) -1 means "unchanged" to lchown
  private static final int EOPNOTSUPP = 95;

  private final Syscalls syscalls;
  private final LayerLimits limits;

  public LayerUnpacker(Syscalls syscalls, LayerLimits limits) {
    this.syscalls = syscalls;
    this.limits = limits;
  }

  /**
   * What one unpack read and wrote.
   *
   * @param contentBytes bytes of regular file content written
   * @param tarBytes bytes of the uncompressed tar stream, trailing bytes included
   */
  public record Stats(long entries, long contentBytes, long tarBytes) {}

  /**
   * Unpacks {@code tar} into {@code target} and reads the stream to its end, so that a digest
   * computed below covers all of it. {@code tar} is not closed.
   *
   * @param target an existing directory, normally empty, that nothing else writes meanwhile
   *     (the checks against symlinks rely on it)
   */
  public Stats unpack(InputStream tar, Path target) {
    try {
      BasicFileAttributes a = Files.readAttributes(target, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
      if (!a.isDirectory()) {
        throw new IllegalArgumentException("not a directory: " + target);
      }
    } catch (IOException e) {
      throw BerthException.internal("cannot unpack into " + target + ": " + e.getMessage(), e);
    }
    return new Run(target).run(tar);
  }

  private static BerthException exhausted(String message) {
    return new BerthException(BerthException.Kind.RESOURCE_EXHAUSTED, message);
  }

  /** The metadata of a directory entry, applied after all entries. */
  private record DirMeta(int mode, FileTime mtime, FileTime atime) {}

  /** One unpack. */
  private final class Run {
    private final Path target;
    private final Map<String, DirMeta> dirs = new HashMap<>();
    private long entries;
    private long contentBytes;
    private Counter counter;
    private String entryName;

    Run(Path target) {
      this.target = target;
    }

    Stats run(InputStream in) {
      counter = new Counter(in);
      TarHeaderTap tap = new TarHeaderTap(counter);
      TarArchiveInputStream tar = new TarArchiveInputStream(tap);
      byte[] buf = new byte[256 * 1024]; // file content is written in pieces this large at most
      while (true) {
        TarArchiveEntry entry;
        try {
          entry = tar.getNextEntry();
        } catch (IOException e) {
          throw BerthException.invalid("the layer is not a valid tar stream: " + e.getMessage());
        }
        if (entry == null) {
          break;
        }
        if (++entries > limits.maxEntries()) {
          throw exhausted("the layer has more than " + limits.maxEntries() + " entries (the limit maxEntries)");
        }
        entryName = entry.getName();
        try {
          apply(entry, tar, tap.takeXattrs(), buf);
        } catch (IOException | SyscallException e) {
          throw BerthException.internal("cannot unpack the layer entry \"" + entryName + "\": " + e.getMessage(), e);
        }
      }
      try {
        while (tap.read(buf) >= 0) {
          // trailing bytes belong to the layer's digest too
        }
      } catch (IOException e) {
        throw BerthException.invalid("the layer is not a valid tar stream: " + e.getMessage());
      }
      try {
        finishDirectories();
      } catch (IOException | SyscallException e) {
        throw BerthException.internal("cannot set the metadata of the layer's directories: " + e.getMessage(), e);
      }
      return new Stats(entries, contentBytes, counter.count);
    }

    private BerthException refuse(String reason) {
      return BerthException.invalid("refusing the layer entry \"" + entryName + "\": " + reason);
    }

    private void apply(TarArchiveEntry e, InputStream data, Map<String, byte[]> rawXattrs, byte[] buf)
        throws IOException {
      List<String> parts = components(e.getName());
      String base = parts.isEmpty() ? "" : parts.get(parts.size() - 1);
      if (parts.stream().limit(Math.max(parts.size() - 1, 0)).anyMatch(p -> p.startsWith(WHITEOUT_META))) {
        return; // inside aufs metadata (.wh..wh.plnk/…)
      }
      if (base.startsWith(WHITEOUT)) {
        whiteout(e, parts, base);
        return;
      }
      byte type = e.getLinkFlag();
      boolean dir = type == '5' || ((type == '0' || type == 0) && e.getName().endsWith("/"));
      if (parts.isEmpty()) {
        if (!dir) {
          throw refuse("it names the layer's root but is not a directory");
        }
        owner(target, e);
        xattrs(target, e, rawXattrs);
        dirs.put("", meta(e));
        return;
      }
      String rel = String.join("/", parts);
      Path path = parentsOf(parts).resolve(base);
      if (dir) {
        BasicFileAttributes existing = lstat(path);
        if (existing != null && !existing.isDirectory()) {
          Files.delete(path);
          existing = null;
        }
        if (existing == null) {
          Files.createDirectory(path);
        }
        owner(path, e);
        xattrs(path, e, rawXattrs);
        dirs.put(rel, meta(e));
        return;
      }
      switch (type) {
        case '0', 0, '7', 'S' -> {
          removeExisting(path, rel);
          FileChannel out = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
          Writeback writeback = new Writeback(out);
          try {
            copy(data, out, writeback, buf);
          } catch (IOException | RuntimeException x) {
            writeback.await();
            out.close();
            throw x;
          }
          writeback.closeLater(); // at once, or after an early writeback in flight: the next entry need not wait
          finish(path, e, rawXattrs, true);
        }
        case '1' -> hardlink(e, parts, path, rel);
        case '2' -> {
          String link = e.getLinkName();
          if (link.isEmpty()) {
            throw refuse("a symlink needs a target");
          }
          removeExisting(path, rel);
          Path linkTarget;
          try {
            linkTarget = Path.of(link);
          } catch (InvalidPathException x) {
            throw refuse("invalid symlink target: " + x.getMessage());
          }
          Files.createSymbolicLink(path, linkTarget);
          owner(path, e);
          xattrs(path, e, rawXattrs);
          setTimes(path, e);
        }
        case '3', '4', '6' -> {
          removeExisting(path, rel);
          char kind = type == '3' ? 'c' : type == '4' ? 'b' : 'p';
          syscalls.mknod(path, kind, e.getMode() & 07777, e.getDevMajor(), e.getDevMinor());
          finish(path, e, rawXattrs, false);
        }
        default -> throw refuse("unsupported tar entry type '" + (char) type + "'");
      }
    }

    /** Owner, times, mode, xattrs, in that order: chown clears setuid bits and capabilities. */
    private void finish(Path path, TarArchiveEntry e, Map<String, byte[]> rawXattrs, boolean times)
        throws IOException {
      owner(path, e);
      if (times) {
        setTimes(path, e);
      }
      chmod(path, e.getMode());
      xattrs(path, e, rawXattrs);
    }

    private void whiteout(TarArchiveEntry e, List<String> parts, String base) throws IOException {
      List<String> parent = parts.subList(0, parts.size() - 1);
      if (base.equals(WHITEOUT_OPAQUE)) {
        syscalls.lsetxattr(parentsOf(parts), OPAQUE_XATTR, "y".getBytes(StandardCharsets.US_ASCII));
        return;
      }
      if (base.startsWith(WHITEOUT_META)) {
        return; // aufs metadata, meaningless to overlayfs
      }
      String name = base.substring(WHITEOUT.length());
      if (name.isEmpty() || name.equals(".") || name.equals("..")) {
        throw refuse("a whiteout must name a file, not \"" + name + "\"");
      }
      List<String> hidden = new ArrayList<>(parent);
      hidden.add(name);
      Path path = parentsOf(hidden).resolve(name);
      removeExisting(path, String.join("/", hidden));
      syscalls.mknod(path, 'c', 0, 0, 0);
      owner(path, e);
    }

    private void hardlink(TarArchiveEntry e, List<String> parts, Path path, String rel) throws IOException {
      List<String> to = components(e.getLinkName(), "its hardlink target");
      if (to.isEmpty()) {
        throw refuse("a hardlink cannot point to the layer's root");
      }
      if (to.size() >= parts.size() && to.subList(0, parts.size()).equals(parts)) {
        throw refuse("a hardlink cannot point to itself or into what it replaces");
      }
      Path existing = parentsIfPresent(to);
      BasicFileAttributes a = existing == null ? null : lstat(existing);
      if (a == null) {
        throw refuse("its hardlink target \"" + e.getLinkName() + "\" is not in the layer (through directories only)");
      }
      if (a.isDirectory()) {
        throw refuse("its hardlink target \"" + e.getLinkName() + "\" is a directory");
      }
      removeExisting(path, rel);
      Files.createLink(path, existing); // link(2) does not follow a symlink on Linux
    }

    /** The entry's path components: absolute made relative, "." dropped, ".." resolved by name. */
    private List<String> components(String name) {
      return components(name, "its name");
    }

    private List<String> components(String name, String what) {
      if (name.getBytes(StandardCharsets.UTF_8).length > MAX_NAME_BYTES) {
        throw refuse(what + " is longer than " + MAX_NAME_BYTES + " bytes");
      }
      List<String> parts = new ArrayList<>();
      for (String c : name.split("/")) {
        if (c.isEmpty() || c.equals(".")) {
          continue;
        }
        if (c.equals("..")) {
          if (parts.isEmpty()) {
            throw refuse(what + " leads outside the layer through \"..\"");
          }
          parts.remove(parts.size() - 1);
        } else if (c.indexOf('\0') >= 0 || c.getBytes(StandardCharsets.UTF_8).length > MAX_COMPONENT_BYTES) {
          throw refuse(what + " has an invalid component (NUL, or longer than " + MAX_COMPONENT_BYTES + " bytes)");
        } else {
          parts.add(c);
        }
      }
      return parts;
    }

    /**
     * The directory that holds the last of {@code parts}, made of real directories only:
     * missing ones are created, a symlink or non-directory refuses the entry.
     */
    private Path parentsOf(List<String> parts) throws IOException {
      Path dir = target;
      for (int i = 0; i < parts.size() - 1; i++) {
        dir = dir.resolve(parts.get(i));
        BasicFileAttributes a = lstat(dir);
        if (a == null) {
          Files.createDirectory(dir);
          chmod(dir, 0755);
        } else if (a.isSymbolicLink()) {
          throw refuse("its parent \"" + String.join("/", parts.subList(0, i + 1)) + "\" is a symlink");
        } else if (!a.isDirectory()) {
          throw refuse("its parent \"" + String.join("/", parts.subList(0, i + 1)) + "\" is not a directory");
        }
      }
      return dir;
    }

    /** The path of {@code parts} if every parent is a real directory, else null. Creates nothing. */
    private Path parentsIfPresent(List<String> parts) throws IOException {
      Path dir = target;
      for (int i = 0; i < parts.size() - 1; i++) {
        dir = dir.resolve(parts.get(i));
        BasicFileAttributes a = lstat(dir);
        if (a == null || !a.isDirectory()) {
          return null; // isDirectory is false for a symlink: lstat does not follow
        }
      }
      return parts.isEmpty() ? target : dir.resolve(parts.get(parts.size() - 1));
    }

    private void removeExisting(Path path, String rel) throws IOException {
      BasicFileAttributes a = lstat(path);
      if (a == null) {
        return;
      }
      if (a.isDirectory()) {
        FileTrees.deleteRecursively(path);
        dirs.keySet().removeIf(k -> k.equals(rel) || k.startsWith(rel + "/"));
      } else {
        Files.delete(path);
      }
    }

    private void copy(InputStream data, FileChannel out, Writeback writeback, byte[] buf) throws IOException {
      while (true) {
        int n;
        try {
          n = data.read(buf);
        } catch (IOException e) {
          throw BerthException.invalid("the layer is not a valid tar stream: " + e.getMessage());
        }
        if (n < 0) {
          return;
        }
        contentBytes += n;
        if (contentBytes > limits.maxBytes()) {
          throw exhausted("the layer's files hold more than " + limits.maxBytes() + " bytes (the limit maxBytes)");
        }
        ByteBuffer bytes = ByteBuffer.wrap(buf, 0, n);
        while (bytes.hasRemaining()) {
          out.write(bytes);
        }
        writeback.wrote(n);
      }
    }

    private void owner(Path path, TarArchiveEntry e) {
      long uid = e.getLongUserId();
      long gid = e.getLongGroupId();
      if (uid < 0 || uid > MAX_ID || gid < 0 || gid > MAX_ID) {
        throw refuse("its owner " + uid + ":" + gid + " is out of range");
      }
      syscalls.lchown(path, (int) uid, (int) gid);
    }

    private void xattrs(Path path, TarArchiveEntry e, Map<String, byte[]> raw) {
      for (Map.Entry<String, String> h : e.getExtraPaxHeaders().entrySet()) {
        if (!h.getKey().startsWith(PAX_XATTR)) {
          continue;
        }
        String name = h.getKey().substring(PAX_XATTR.length());
        if (name.startsWith("trusted.overlay.") || name.startsWith("user.overlay.")) {
          continue; // overlayfs's own: only whiteouts may set them
        }
        // commons-compress decodes values as UTF-8; the tap has the bytes as they were
        byte[] value = raw.get(name);
        if (value == null || !new String(value, StandardCharsets.UTF_8).equals(h.getValue())) {
          value = h.getValue().getBytes(StandardCharsets.UTF_8);
        }
        try {
          syscalls.lsetxattr(path, name, value);
        } catch (SyscallException x) {
          if (x.errno() == EOPNOTSUPP) {
            throw refuse("the file system does not support its xattr \"" + name + "\"");
          }
          throw x;
        }
      }
    }

    private DirMeta meta(TarArchiveEntry e) {
      FileTime mtime = e.getLastModifiedTime();
      FileTime atime = e.getLastAccessTime();
      return new DirMeta(e.getMode(), mtime, atime != null ? atime : mtime);
    }

    private void setTimes(Path path, TarArchiveEntry e) throws IOException {
      DirMeta m = meta(e);
      Files.getFileAttributeView(path, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
          .setTimes(m.mtime(), m.atime(), null);
    }

    /** Deepest first, so that a directory made read-only does not stop its children. */
    private void finishDirectories() throws IOException {
      List<String> order = new ArrayList<>(dirs.keySet());
      order.sort(Comparator.comparingLong((String k) -> k.chars().filter(c -> c == '/').count() + (k.isEmpty() ? 0 : 1))
          .reversed());
      for (String rel : order) {
        Path path = rel.isEmpty() ? target : parentsIfPresent(List.of(rel.split("/")));
        BasicFileAttributes a = path == null ? null : lstat(path);
        if (a == null || !a.isDirectory()) {
          continue;
        }
        DirMeta m = dirs.get(rel);
        Files.getFileAttributeView(path, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
            .setTimes(m.mtime(), m.atime(), null);
        chmod(path, m.mode());
      }
    }

    /** A counter of the uncompressed bytes, which stops at the limit. */
    private final class Counter extends FilterInputStream {
      long count;

      Counter(InputStream in) {
        super(in);
      }

      @Override
      public int read() throws IOException {
        int b = in.read();
        if (b >= 0) {
          add(1);
        }
        return b;
      }

      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        int n = in.read(b, off, len);
        if (n > 0) {
          add(n);
        }
        return n;
      }

      @Override
      public long skip(long n) throws IOException {
        byte[] discard = new byte[(int) Math.min(Math.max(n, 0), 8192)];
        return Math.max(read(discard, 0, discard.length), 0); // read, so that the count stays true
      }

      private void add(int n) {
        count += n;
        if (count > limits.maxBytes()) {
          throw exhausted("the layer is larger than " + limits.maxBytes() + " bytes uncompressed (the limit maxBytes)");
        }
      }
    }
  }

  /** chmod(2) with all 12 mode bits; follows a symlink, so only for paths known not to be one. */
  private static void chmod(Path path, int mode) throws IOException {
    Files.setAttribute(path, "unix:mode", mode & 07777);
  }

  private static BasicFileAttributes lstat(Path path) throws IOException {
    try {
      return Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    } catch (NoSuchFileException e) {
      return null;
    }
  }
}
