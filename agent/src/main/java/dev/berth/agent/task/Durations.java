package dev.berth.agent.task;

import dev.berth.agent.BerthException;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Durations as Go's time.ParseDuration reads them, as Docker's flags take them: "100ms", "1.5s", "1m30s". */
public final class Durations {
  private static final Pattern PART = Pattern.compile("(\\d+(?:\\.\\d*)?|\\.\\d+)(ns|us|µs|ms|s|m|h)");

  private Durations() {}

  /** @throws BerthException INVALID_ARGUMENT for anything else, a negative duration included */
  public static Duration parse(String text) {
    if (text == null || text.isEmpty()) {
      throw BerthException.invalid("invalid duration \"\": expected e.g. 100ms, 30s, 1m30s");
    }
    if (text.equals("0")) {
      return Duration.ZERO;
    }
    Matcher m = PART.matcher(text);
    BigDecimal nanos = BigDecimal.ZERO;
    int at = 0;
    while (at < text.length()) {
      if (!m.find(at) || m.start() != at) {
        throw BerthException.invalid("invalid duration \"" + text + "\": expected e.g. 100ms, 30s, 1m30s");
      }
      long unit = switch (m.group(2)) {
        case "ns" -> 1L;
        case "us", "µs" -> 1_000L;
        case "ms" -> 1_000_000L;
        case "s" -> 1_000_000_000L;
        case "m" -> 60_000_000_000L;
        default -> 3_600_000_000_000L;
      };
      nanos = nanos.add(new BigDecimal(m.group(1)).multiply(BigDecimal.valueOf(unit)));
      at = m.end();
    }
    return Duration.ofNanos(nanos.longValue());
  }
}
