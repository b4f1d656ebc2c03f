package dev.berth.ctl;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** -e and --env-file as docker reads them. */
final class EnvVars {
  private EnvVars() {
  }

  /**
   * The KEY=VALUE list: the files' lines first, then the -e flags. An entry without '=' takes
   * its value from {@code env} (the client's environment) and is left out when that has none.
   */
  static List<String> resolve(List<String> flags, List<Path> files, Map<String, String> env)
      throws IOException {
    List<String> out = new ArrayList<>();
    for (Path f : files) {
      List<String> lines;
      try {
        lines = Files.readAllLines(f, StandardCharsets.UTF_8);
      } catch (NoSuchFileException e) {
        throw new IOException("open " + f + ": no such file or directory", e);
      }
      for (String line : lines) {
        String l = line.stripLeading();
        if (!l.isEmpty() && !l.startsWith("#")) {
          add(out, l, env);
        }
      }
    }
    for (String e : flags) {
      add(out, e, env);
    }
    return out;
  }

  private static void add(List<String> out, String entry, Map<String, String> env) {
    int eq = entry.indexOf('=');
    if (eq == 0) {
      throw new CliException("invalid environment variable: " + entry, 125);
    }
    if (eq > 0) {
      out.add(entry);
      return;
    }
    String value = env.get(entry);
    if (value != null) {
      out.add(entry + "=" + value);
    }
  }
}
