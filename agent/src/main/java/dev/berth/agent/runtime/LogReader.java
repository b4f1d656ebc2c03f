package dev.berth.agent.runtime;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.RandomAccessFile;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;

/**
 * Reads a container's json-file logs ({@code container.log}, {@code .1}, … written by the
 * shim), oldest first, and follows the live file across rotations.
 */
public final class LogReader {
  /** One log record. */
  public record Entry(boolean stderr, String text, Instant time) {}

  private static final JsonFactory JSON = new JsonFactory();
  private static final long FOLLOW_POLL_MILLIS = 50;

  private final Path dir;
  private final String base;

  public LogReader(Path dir, String base) {
    this.dir = dir;
    this.base = base;
  }

  /** The log files, oldest first. */
  List<Path> files() {
    List<Path> files = new ArrayList<>();
    for (int i = 1; ; i++) {
      Path p = dir.resolve(base + "." + i);
      if (!Files.exists(p)) {
        break;
      }
      files.add(0, p);
    }
    Path current = dir.resolve(base);
    if (Files.exists(current)) {
      files.add(current);
    }
    return files;
  }

  /**
   * Sends every record (or the last {@code tail} when tail ≥ 0) to {@code sink}, then, when
   * {@code follow}, new ones as they are written until {@code running} turns false and the
   * file is drained. {@code sink} returns false to stop early (the client went away).
   */
  public void read(int tail, boolean follow, Instant since, BooleanSupplier running, Predicate<Entry> sink)
      throws IOException, InterruptedException {
    List<Path> files = files();
    Deque<Entry> last = tail >= 0 ? new ArrayDeque<>() : null;
    long offset = 0;
    Object currentKey = null;
    for (int i = 0; i < files.size(); i++) {
      Path f = files.get(i);
      boolean isCurrent = i == files.size() - 1 && f.getFileName().toString().equals(base);
      // The identity of the file actually opened: taken before and after the open, so that a
      // rotation in between (the shim renames the current file and starts a new one) is seen,
      // and the follower never takes the new file's identity for the one it read.
      Object key = null;
      RandomAccessFile opened = null;
      for (int attempt = 0; opened == null; attempt++) {
        Object before = fileKey(f);
        RandomAccessFile raf = new RandomAccessFile(f.toFile(), "r");
        if (java.util.Objects.equals(before, fileKey(f)) || attempt >= 10) {
          opened = raf;
          key = before;
        } else {
          raf.close();
        }
      }
      try (RandomAccessFile raf = opened) {
        long end = raf.length();
        BufferedReader r = new BufferedReader(new InputStreamReader(Channels.newInputStream(raf.getChannel()), StandardCharsets.UTF_8));
        long pos = 0;
        String line;
        while (pos < end && (line = r.readLine()) != null) {
          pos += line.getBytes(StandardCharsets.UTF_8).length + 1;
          Entry e = parse(line);
          if (e == null || (since != null && e.time().isBefore(since))) {
            continue;
          }
          if (last != null) {
            last.addLast(e);
            if (last.size() > tail) {
              last.removeFirst();
            }
          } else if (!sink.test(e)) {
            return;
          }
        }
        if (isCurrent) {
          offset = Math.min(pos, end);
          currentKey = key;
        }
      }
    }
    if (last != null) {
      for (Entry e : last) {
        if (!sink.test(e)) {
          return;
        }
      }
    }
    if (follow) {
      follow(offset, currentKey, running, sink);
    }
  }

  private void follow(long offset, Object key, BooleanSupplier running, Predicate<Entry> sink)
      throws IOException, InterruptedException {
    Path current = dir.resolve(base);
    StringBuilder partial = new StringBuilder();
    while (true) {
      boolean wasRunning = running.getAsBoolean();
      if (Files.exists(current)) {
        Object nowKey = Files.readAttributes(current, java.nio.file.attribute.BasicFileAttributes.class).fileKey();
        if (key != null && !key.equals(nowKey)) {
          // Rotated: finish the old file (now .1), then start the new one from the top.
          offset = drain(dir.resolve(base + ".1"), key, offset, partial, sink);
          if (offset < 0) {
            return;
          }
          offset = 0;
          partial.setLength(0);
        }
        key = nowKey;
        offset = drain(current, key, offset, partial, sink);
        if (offset < 0) {
          return;
        }
      }
      if (!wasRunning) {
        return;
      }
      Thread.sleep(FOLLOW_POLL_MILLIS);
    }
  }

  private static Object fileKey(Path f) throws IOException {
    return Files.readAttributes(f, java.nio.file.attribute.BasicFileAttributes.class).fileKey();
  }

  /**
   * Reads complete lines from {@code offset} of {@code f}, provided it still is the file
   * {@code key} names (when the shim rotated it meanwhile, nothing is read: the caller sees the
   * rotation on its next round and reads the old file under its new name); returns the new
   * offset, or -1 when the sink stopped.
   */
  private long drain(Path f, Object key, long offset, StringBuilder partial, Predicate<Entry> sink) throws IOException {
    if (!Files.exists(f)) {
      return offset;
    }
    try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "r")) {
      if (key != null && !key.equals(fileKey(f))) {
        return offset;
      }
      long len = raf.length();
      if (len <= offset) {
        return len < offset ? 0 : offset;
      }
      byte[] buf = new byte[(int) Math.min(len - offset, 1 << 20)];
      raf.seek(offset);
      raf.readFully(buf);
      int start = 0;
      for (int i = 0; i < buf.length; i++) {
        if (buf[i] == '\n') {
          partial.append(new String(buf, start, i - start, StandardCharsets.UTF_8));
          Entry e = parse(partial.toString());
          partial.setLength(0);
          start = i + 1;
          if (e != null && !sink.test(e)) {
            return -1;
          }
        }
      }
      // An incomplete line stays in the file until the shim finishes it; re-read it next time.
      return offset + start;
    }
  }

  /** Parses one json-file line; a damaged line is skipped rather than ending the stream. */
  static Entry parse(String line) {
    String log = null;
    String stream = "stdout";
    String time = null;
    try (JsonParser p = JSON.createParser(line)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        return null;
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        p.nextToken();
        switch (name) {
          case "log" -> log = p.getText();
          case "stream" -> stream = p.getText();
          case "time" -> time = p.getText();
          default -> p.skipChildren();
        }
      }
    } catch (IOException e) {
      return null;
    }
    if (log == null) {
      return null;
    }
    Instant t;
    try {
      t = time == null ? Instant.EPOCH : Instant.parse(time);
    } catch (RuntimeException e) {
      t = Instant.EPOCH;
    }
    return new Entry("stderr".equals(stream), log, t);
  }
}
