package dev.berth.ctl;

import dev.berth.proto.v1.Container;
import java.math.BigDecimal;
import java.math.MathContext;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Locale;

/** How docker words times, sizes, ids and commands. */
final class Format {
  private static final String[] SIZE_UNITS = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};

  /** Loaded only by the paths that print dates: java.time.format is a few dozen classes. */
  private static final class Patterns {
    static final DateTimeFormatter RFC3339_SECONDS =
        DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss", Locale.ROOT);
    // Locale.US: the root locale has no short zone names on newer JDKs ("GMT+02:00", not "CEST").
    static final DateTimeFormatter GO_TIME =
        DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss Z z", Locale.US);
  }

  private Format() {
  }

  /** A duration the way docker's ps and images say it ("5 seconds", "About an hour", "3 weeks"). */
  static String humanDuration(long nanos) {
    long seconds = nanos / 1_000_000_000L;
    if (seconds < 1) {
      return "Less than a second";
    } else if (seconds == 1) {
      return "1 second";
    } else if (seconds < 60) {
      return seconds + " seconds";
    }
    long minutes = seconds / 60;
    if (minutes == 1) {
      return "About a minute";
    } else if (minutes < 60) {
      return minutes + " minutes";
    }
    long hours = Math.round(nanos / 3.6e12);
    if (hours == 1) {
      return "About an hour";
    } else if (hours < 48) {
      return hours + " hours";
    } else if (hours < 24 * 7 * 2) {
      return hours / 24 + " days";
    } else if (hours < 24 * 30 * 2) {
      return hours / 24 / 7 + " weeks";
    } else if (hours < 24 * 365 * 2) {
      return hours / 24 / 30 + " months";
    }
    return seconds / 3600 / 24 / 365 + " years";
  }

  static long nowNanos(Clock clock) {
    Instant now = clock.instant();
    return now.getEpochSecond() * 1_000_000_000L + now.getNano();
  }

  /** "5 seconds ago". */
  static String ago(long unixNanos, Clock clock) {
    return humanDuration(Math.max(0, nowNanos(clock) - unixNanos)) + " ago";
  }

  /**
   * STATUS in `ps`: "Up 3 seconds", "Up 3 seconds (healthy)", "Up 1 second (health: starting)",
   * "Restarting (1) 2 seconds ago", "Exited (0) 2 minutes ago", "Created".
   */
  static String status(Container c, Clock clock) {
    switch (c.getStatus()) {
      case RUNNING:
        String up = "Up " + humanDuration(Math.max(0, nowNanos(clock) - c.getStartedAtUnixNanos()));
        return switch (c.getHealth().getStatus()) {
          case HEALTH_STARTING -> up + " (health: starting)";
          case HEALTH_HEALTHY -> up + " (healthy)";
          case HEALTH_UNHEALTHY -> up + " (unhealthy)";
          default -> up;
        };
      case EXITED:
        if (c.getRestarting()) {
          return "Restarting (" + c.getExitCode() + ") " + ago(c.getFinishedAtUnixNanos(), clock);
        }
        return "Exited (" + c.getExitCode() + ") " + ago(c.getFinishedAtUnixNanos(), clock);
      case CREATED:
        return "Created";
      case REMOVING:
        return "Removal In Progress";
      default:
        return "";
    }
  }

  /** The State word of docker's JSON: created, running, restarting, exited, removing. */
  static String state(Container c) {
    if (c.getRestarting()) {
      return "restarting";
    }
    switch (c.getStatus()) {
      case CREATED:
        return "created";
      case RUNNING:
        return "running";
      case EXITED:
        return "exited";
      case REMOVING:
        return "removing";
      default:
        return "unknown";
    }
  }

  /** Decimal units, three significant digits: "4.19MB", "512kB", "0B". */
  static String humanSize(long bytes) {
    double size = bytes;
    int unit = 0;
    while (size >= 1000 && unit < SIZE_UNITS.length - 1) {
      size /= 1000;
      unit++;
    }
    BigDecimal d = new BigDecimal(size).round(new MathContext(3)).stripTrailingZeros();
    return d.toPlainString() + SIZE_UNITS[unit];
  }

  /** The 12 hex digits docker shows for an id, without any "sha256:" prefix. */
  static String shortId(String id) {
    String hex = id.startsWith("sha256:") ? id.substring("sha256:".length()) : id;
    return hex.length() > 12 ? hex.substring(0, 12) : hex;
  }

  /** Shortens to {@code max} characters, the last one an ellipsis. */
  static String ellipsis(String s, int max) {
    if (s.codePointCount(0, s.length()) <= max) {
      return s;
    }
    return s.substring(0, s.offsetByCodePoints(0, max - 1)) + "…";
  }

  /** A double-quoted string with Go's escapes, as `ps` shows COMMAND. */
  static String quote(String s) {
    StringBuilder b = new StringBuilder(s.length() + 2).append('"');
    for (int i = 0; i < s.length(); ) {
      int c = s.codePointAt(i);
      i += Character.charCount(c);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        case 0x07 -> b.append("\\a");
        case '\b' -> b.append("\\b");
        case '\f' -> b.append("\\f");
        case 0x0b -> b.append("\\v");
        default -> {
          if (c < 0x20 || c == 0x7f) {
            b.append(String.format("\\x%02x", c));
          } else if (Character.isISOControl(c) || !Character.isDefined(c)) {
            b.append(c > 0xffff ? String.format("\\U%08x", c) : String.format("\\u%04x", c));
          } else {
            b.appendCodePoint(c);
          }
        }
      }
    }
    return b.append('"').toString();
  }

  /**
   * RFC 3339 in UTC with nanoseconds, Go's RFC3339Nano: trailing zeros of the fraction dropped
   * ({@code fixed} false, as inspect shows times) or always nine digits ({@code fixed} true, as
   * `logs -t` prints them so that lines align). Zero is Go's zero time.
   */
  static String rfc3339(long unixNanos, boolean fixed) {
    if (unixNanos == 0) {
      return "0001-01-01T00:00:00Z";
    }
    Instant t = Instant.ofEpochSecond(Math.floorDiv(unixNanos, 1_000_000_000L), Math.floorMod(unixNanos, 1_000_000_000L));
    String base = Patterns.RFC3339_SECONDS.format(t.atOffset(ZoneOffset.UTC));
    String frac = String.format("%09d", t.getNano());
    if (!fixed) {
      int end = frac.length();
      while (end > 0 && frac.charAt(end - 1) == '0') {
        end--;
      }
      frac = frac.substring(0, end);
    }
    return base + (frac.isEmpty() ? "" : "." + frac) + "Z";
  }

  /** Go's time.String() without the monotonic part, as CreatedAt in JSON: "2024-05-01 10:00:00 +0000 UTC". */
  static String goTime(long unixNanos, ZoneId zone) {
    Instant t = Instant.ofEpochSecond(Math.floorDiv(unixNanos, 1_000_000_000L), Math.floorMod(unixNanos, 1_000_000_000L));
    return Patterns.GO_TIME.format(ZonedDateTime.ofInstant(t, zone));
  }

  /** Labels as docker's {{.Labels}} shows them: "a=1,b=2", sorted by key. */
  static String labels(java.util.Map<String, String> labels) {
    java.util.StringJoiner j = new java.util.StringJoiner(",");
    new java.util.TreeMap<>(labels).forEach((k, v) -> j.add(k + "=" + v));
    return j.toString();
  }
}
