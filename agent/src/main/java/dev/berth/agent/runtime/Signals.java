package dev.berth.agent.runtime;

import dev.berth.agent.BerthException;
import java.util.Locale;
import java.util.Map;

/** Signal names and numbers of Linux on x86_64 and arm64, as `kill -s` and StopSignal write them. */
public final class Signals {
  public static final int SIGKILL = 9;
  public static final int SIGTERM = 15;

  private static final Map<String, Integer> BY_NAME = Map.ofEntries(
      Map.entry("HUP", 1), Map.entry("INT", 2), Map.entry("QUIT", 3), Map.entry("ILL", 4),
      Map.entry("TRAP", 5), Map.entry("ABRT", 6), Map.entry("IOT", 6), Map.entry("BUS", 7),
      Map.entry("FPE", 8), Map.entry("KILL", 9), Map.entry("USR1", 10), Map.entry("SEGV", 11),
      Map.entry("USR2", 12), Map.entry("PIPE", 13), Map.entry("ALRM", 14), Map.entry("TERM", 15),
      Map.entry("STKFLT", 16), Map.entry("CHLD", 17), Map.entry("CONT", 18), Map.entry("STOP", 19),
      Map.entry("TSTP", 20), Map.entry("TTIN", 21), Map.entry("TTOU", 22), Map.entry("URG", 23),
      Map.entry("XCPU", 24), Map.entry("XFSZ", 25), Map.entry("VTALRM", 26), Map.entry("PROF", 27),
      Map.entry("WINCH", 28), Map.entry("IO", 29), Map.entry("PWR", 30), Map.entry("SYS", 31));

  private Signals() {}

  /** "KILL", "SIGKILL", "sigterm", "9", "RTMIN+3" → the number; empty → {@code dflt}. */
  public static int parse(String text, int dflt) {
    if (text == null || text.isBlank()) {
      return dflt;
    }
    String s = text.trim().toUpperCase(Locale.ROOT);
    if (s.chars().allMatch(Character::isDigit)) {
      int n = Integer.parseInt(s);
      if (n >= 1 && n <= 64) {
        return n;
      }
    } else {
      String name = s.startsWith("SIG") ? s.substring(3) : s;
      Integer n = BY_NAME.get(name);
      if (n != null) {
        return n;
      }
      if (name.matches("RTMIN(\\+([1-9]|[12][0-9]|30))?")) {
        return 34 + (name.length() == 5 ? 0 : Integer.parseInt(name.substring(6)));
      }
    }
    throw BerthException.invalid("invalid signal \"" + text + "\": expected a name such as TERM or SIGKILL, or a number from 1 to 64");
  }
}
