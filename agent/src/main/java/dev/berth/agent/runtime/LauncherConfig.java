package dev.berth.agent.runtime;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/**
 * Writes the launcher's config file (see {@code agent/src/main/c/README.md}): one directive
 * per line, TAB-separated fields, with backslash, tab and newline escaped. Pure text: what the
 * runtime decides becomes data that can be shown, tested and handed to the launcher.
 */
public final class LauncherConfig {
  private final StringBuilder text = new StringBuilder("version\t1\n");

  /** Appends one directive. */
  public LauncherConfig add(String directive, Object... fields) {
    text.append(directive);
    for (Object f : fields) {
      text.append('\t').append(escape(String.valueOf(f)));
    }
    text.append('\n');
    return this;
  }

  public LauncherConfig flag(String directive, boolean on) {
    return add(directive, on ? "1" : "0");
  }

  public LauncherConfig addAll(String directive, List<String> values) {
    values.forEach(v -> add(directive, v));
    return this;
  }

  public LauncherConfig mount(String source, Path target, String fsType, String flags, String data) {
    return add("mount", source, target.toString(), fsType, flags.isEmpty() ? "-" : flags, data.isEmpty() ? "-" : data);
  }

  static String escape(String s) {
    StringBuilder b = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '\\' -> b.append("\\\\");
        case '\t' -> b.append("\\t");
        case '\n' -> b.append("\\n");
        default -> b.append(c);
      }
    }
    return b.toString();
  }

  public String text() {
    return text.toString();
  }

  public byte[] bytes() {
    return text().getBytes(StandardCharsets.UTF_8);
  }
}
