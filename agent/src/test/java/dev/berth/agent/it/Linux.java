package dev.berth.agent.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** What the machine can do, for tests that need real kernel features. */
public final class Linux {
  private Linux() {}

  public static boolean isRoot() {
    if (!System.getProperty("os.name").equals("Linux")) {
      return false;
    }
    try {
      return Files.readAllLines(Path.of("/proc/self/status")).stream()
          .filter(l -> l.startsWith("Uid:")).anyMatch(l -> l.split("\\s+")[1].equals("0"));
    } catch (IOException e) {
      return false;
    }
  }
}
