package dev.berth.agent.runtime;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** Reads the mount table of the agent's mount namespace ({@code /proc/self/mountinfo}). */
public final class Mounts {
  private static final Path MOUNTINFO = Path.of("/proc/self/mountinfo");

  private Mounts() {}

  /** Every mount point, in mount order. */
  public static List<String> mountPoints() {
    try {
      return Files.readAllLines(MOUNTINFO).stream().map(Mounts::mountPoint).toList();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + MOUNTINFO, e);
    }
  }

  /** The mount point field of one mountinfo line, with the kernel's octal escapes undone. */
  static String mountPoint(String line) {
    String field = line.split(" ", 6)[4];
    StringBuilder b = new StringBuilder(field.length());
    for (int i = 0; i < field.length(); i++) {
      char c = field.charAt(i);
      if (c == '\\' && i + 3 < field.length() && field.substring(i + 1, i + 4).matches("[0-7]{3}")) {
        b.append((char) Integer.parseInt(field.substring(i + 1, i + 4), 8));
        i += 3;
      } else {
        b.append(c);
      }
    }
    return b.toString();
  }

  /** Mount points at or below {@code dir}. */
  public static Stream<String> under(Path dir) {
    String s = dir.toAbsolutePath().normalize().toString();
    return mountPoints().stream().filter(m -> m.equals(s) || m.startsWith(s + "/")).distinct();
  }
}
