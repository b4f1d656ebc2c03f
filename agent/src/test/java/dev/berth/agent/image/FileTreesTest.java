package dev.berth.agent.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Syncing and deleting trees: never through a symlink, never opening what is not a file or directory. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class FileTreesTest {
  @TempDir
  Path dir;

  @Test
  void syncsATreeOfManyFilesWithoutOpeningFifosOrFollowingSymlinks() throws Exception {
    Path tree = Files.createDirectories(dir.resolve("tree"));
    for (int d = 0; d < 10; d++) {
      Path sub = Files.createDirectories(tree.resolve("d" + d).resolve("e"));
      for (int f = 0; f < 50; f++) {
        Files.writeString(sub.resolve("f" + f), "x".repeat(f));
      }
    }
    // A fifo blocks whoever opens it for reading: syncTree must leave it alone (the timeout says if not).
    Process mkfifo = new ProcessBuilder("mkfifo", tree.resolve("fifo").toString()).start();
    assertEquals(0, mkfifo.waitFor());
    Path outside = Files.createDirectories(dir.resolve("outside"));
    Process fifoOutside = new ProcessBuilder("mkfifo", outside.resolve("fifo").toString()).start();
    assertEquals(0, fifoOutside.waitFor());
    Files.createSymbolicLink(tree.resolve("to-fifo"), outside.resolve("fifo"));
    Files.createSymbolicLink(tree.resolve("to-outside"), outside);

    FileTrees.syncTree(tree);

    assertTrue(Files.exists(tree.resolve("d9/e/f49")));
  }

  @Test
  void syncOfAMissingTreeFails() {
    assertThrows(NoSuchFileException.class, () -> FileTrees.syncTree(dir.resolve("nothing")));
  }

  @Test
  void writebackIsOnlyAHint() throws IOException {
    Path file = dir.resolve("big");
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      Writeback w = new Writeback(ch);
      java.nio.ByteBuffer chunk = java.nio.ByteBuffer.allocate(1 << 20);
      for (int i = 0; i < 3 * Writeback.STEP / chunk.capacity(); i++) {
        chunk.clear();
        ch.write(chunk);
        w.wrote(chunk.capacity());
      }
      w.await();
      ch.force(true);
    }
    assertEquals(3 * Writeback.STEP, Files.size(file));
    assertFalse(Files.isSymbolicLink(file));
  }
}
