package dev.berth.agent.runtime.cgroup;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * This process's open descriptors on files below a directory, counted from {@code
 * /proc/self/fd}: what the kernel holds, not what the code believes it holds. Only those below
 * the directory, so that descriptors other threads of the test JVM open meanwhile do not count.
 */
public final class OpenFds {
  private OpenFds() {}

  public static long below(Path dir) {
    Path real = dir.toAbsolutePath().normalize();
    try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
      return fds.filter(fd -> {
        try {
          return Path.of(Files.readSymbolicLink(fd).toString().replace(" (deleted)", "")).startsWith(real);
        } catch (NoSuchFileException e) {
          return false; // closed while listed (the listing's own descriptor among them)
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }).count();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
