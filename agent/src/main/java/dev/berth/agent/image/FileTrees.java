package dev.berth.agent.image;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;

/** Whole-tree operations that never follow a symlink. */
final class FileTrees {
  private FileTrees() {}

  /**
   * Deletes {@code path} and everything below it; a symlink is deleted, never followed. A
   * directory without owner rwx is opened up first, so that this works without root too.
   * A missing {@code path} is fine.
   */
  static void deleteRecursively(Path path) throws IOException {
    BasicFileAttributes attrs;
    try {
      attrs = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    } catch (NoSuchFileException e) {
      return;
    }
    if (attrs.isDirectory()) {
      int mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
      if ((mode & 0700) != 0700) {
        Files.setAttribute(path, "unix:mode", (mode & 07777) | 0700);
      }
      try (DirectoryStream<Path> children = Files.newDirectoryStream(path)) {
        for (Path child : children) {
          deleteRecursively(child);
        }
      }
    }
    Files.deleteIfExists(path);
  }

  /**
   * Forces every regular file and directory below {@code root} to disk, so that a tree
   * renamed into place afterwards is complete after a power loss too. What cannot be opened
   * for reading (possible only without root: mode 000) is skipped.
   */
  static void syncTree(Path root) throws IOException {
    BasicFileAttributes attrs = Files.readAttributes(root, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    if (attrs.isDirectory()) {
      try (DirectoryStream<Path> children = Files.newDirectoryStream(root)) {
        for (Path child : children) {
          syncTree(child);
        }
      } catch (AccessDeniedException e) {
        return;
      }
    } else if (!attrs.isRegularFile()) {
      return;
    }
    try (FileChannel ch = FileChannel.open(root, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
      ch.force(true);
    } catch (AccessDeniedException e) {
      // not root and mode 000: nothing to do about it
    }
  }
}
