package dev.berth.agent.runtime;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Fills an empty volume with what the image has at the volume's mount point, as Docker does
 * on the first mount: a database image's initial files, a config directory's defaults.
 * Modes and owners are kept; regular files, directories and symlinks are copied, device
 * nodes and fifos are not.
 *
 * <p>The image is untrusted: the mount point is resolved inside the container's rootfs one
 * component at a time without following a symlink, so a link in the image can never make
 * this read (and copy into the volume) a file of the host. Nothing is followed while copying
 * either.
 */
final class VolumeSeeder {
  private static final LinkOption[] NOFOLLOW = {LinkOption.NOFOLLOW_LINKS};
  private final Syscalls syscalls;

  VolumeSeeder(Syscalls syscalls) {
    this.syscalls = syscalls;
  }

  /**
   * Copies {@code rootfs}'s {@code target} into {@code volume} when the volume is empty and the
   * image has a directory there.
   *
   * @return whether anything was copied
   */
  boolean seed(Path rootfs, String target, Path volume) throws IOException {
    if (!isEmpty(volume)) {
      return false;
    }
    Optional<Path> source = resolveInside(rootfs, target);
    if (source.isEmpty() || !Files.isDirectory(source.get(), NOFOLLOW)) {
      return false;
    }
    Path from = source.get();
    Files.walkFileTree(from, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
        Path to = volume.resolve(from.relativize(dir).toString());
        if (!dir.equals(from)) {
          Files.createDirectory(to);
        }
        copyOwnerAndMode(dir, to);
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
        Path to = volume.resolve(from.relativize(file).toString());
        if (attrs.isSymbolicLink()) {
          Files.createSymbolicLink(to, Files.readSymbolicLink(file));
          Object uid = Files.getAttribute(file, "unix:uid", NOFOLLOW);
          Object gid = Files.getAttribute(file, "unix:gid", NOFOLLOW);
          syscalls.lchown(to, (Integer) uid, (Integer) gid);
        } else if (attrs.isRegularFile()) {
          Files.copy(file, to, StandardCopyOption.COPY_ATTRIBUTES, LinkOption.NOFOLLOW_LINKS);
          copyOwnerAndMode(file, to);
        }
        return FileVisitResult.CONTINUE;
      }
    });
    return true;
  }

  private void copyOwnerAndMode(Path from, Path to) throws IOException {
    int uid = (Integer) Files.getAttribute(from, "unix:uid", NOFOLLOW);
    int gid = (Integer) Files.getAttribute(from, "unix:gid", NOFOLLOW);
    syscalls.lchown(to, uid, gid);
    // After the owner: chown clears the set-id bits, which the mode then restores.
    Files.setAttribute(to, "unix:mode", (Integer) Files.getAttribute(from, "unix:mode", NOFOLLOW) & 07777, NOFOLLOW);
  }

  private static boolean isEmpty(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.findAny().isEmpty();
    }
  }

  /**
   * {@code rootfs/target} when no component of {@code target} is a symlink or missing; empty
   * otherwise. {@code target} is absolute and normalized (the runtime checked it at create).
   */
  static Optional<Path> resolveInside(Path rootfs, String target) {
    Path p = rootfs;
    for (Path part : Path.of(target.startsWith("/") ? target.substring(1) : target)) {
      String name = part.toString();
      if (name.isEmpty() || name.equals(".") || name.equals("..")) {
        return Optional.empty();
      }
      p = p.resolve(name);
      if (Files.isSymbolicLink(p) || !Files.exists(p, NOFOLLOW)) {
        return Optional.empty();
      }
    }
    return Optional.of(p);
  }
}
