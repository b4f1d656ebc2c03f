package dev.berth.agent.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LogReaderTest {
  @TempDir
  Path dir;

  static String line(String stream, String text, int second) {
    return "{\"log\":\"" + text + "\\n\",\"stream\":\"" + stream + "\",\"time\":\"2026-01-02T03:04:"
        + String.format("%02d", second) + ".123456789Z\"}\n";
  }

  List<String> read(int tail, Instant since) throws Exception {
    List<String> got = new ArrayList<>();
    new LogReader(dir, "container.log").read(tail, false, since, () -> false, e -> {
      got.add((e.stderr() ? "err:" : "out:") + e.text().trim());
      return true;
    });
    return got;
  }

  @Test
  void readsRotatedFilesOldestFirst() throws Exception {
    Files.writeString(dir.resolve("container.log.2"), line("stdout", "a", 1));
    Files.writeString(dir.resolve("container.log.1"), line("stderr", "b", 2));
    Files.writeString(dir.resolve("container.log"), line("stdout", "c", 3) + line("stdout", "d", 4));
    assertEquals(List.of("out:a", "err:b", "out:c", "out:d"), read(-1, null));
    assertEquals(List.of("out:c", "out:d"), read(2, null));
    assertEquals(List.of(), read(0, null));
    assertEquals(List.of("out:c", "out:d"), read(-1, Instant.parse("2026-01-02T03:04:03Z")));
  }

  @Test
  void skipsDamagedLines() throws Exception {
    Files.writeString(dir.resolve("container.log"), "garbage\n" + line("stdout", "ok", 1) + "{\"log\":1\n");
    assertEquals(List.of("out:ok"), read(-1, null));
    assertNull(LogReader.parse("{}"));
  }

  @Test
  void followSeesNewLinesAndRotationsUntilTheContainerStops() throws Exception {
    Path current = dir.resolve("container.log");
    Files.writeString(current, line("stdout", "first", 1));
    AtomicBoolean running = new AtomicBoolean(true);
    List<String> got = new ArrayList<>();
    Thread follower = new Thread(() -> {
      try {
        new LogReader(dir, "container.log").read(-1, true, null, running::get, e -> {
          synchronized (got) {
            got.add(e.text().trim());
          }
          return true;
        });
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    follower.start();
    Thread.sleep(150);
    Files.writeString(current, line("stdout", "second", 2), StandardOpenOption.APPEND);
    Thread.sleep(150);
    // Rotate as the shim does: the current file becomes .1, a new one starts.
    Files.writeString(current, line("stdout", "third", 3), StandardOpenOption.APPEND);
    Files.move(current, dir.resolve("container.log.1"));
    Files.writeString(current, line("stdout", "fourth", 4));
    Thread.sleep(150);
    running.set(false);
    follower.join(5000);
    assertEquals(List.of("first", "second", "third", "fourth"), got);
  }
}
