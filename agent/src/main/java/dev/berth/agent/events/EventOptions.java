package dev.berth.agent.events;

import dev.berth.agent.BerthException;
import dev.berth.agent.task.Durations;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/** berthd's flags for its event log, a picocli mixin of {@code AgentMain}. Defaults: {@link EventLog.Settings}. */
public final class EventOptions {
  private static final Pattern SIZE = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([kmgt]?)(i?b?)");

  @Option(names = "--events-max-age", paramLabel = "DURATION", converter = DurationConverter.class,
      description = "How long this agent keeps its events on disk for 'berth events --since' (default: 24h).")
  Duration maxAge = EventLog.Settings.DEFAULT_MAX_AGE;

  @Option(names = "--events-max-size", paramLabel = "SIZE", converter = SizeConverter.class,
      description = "The most disk this agent's event log takes, e.g. 64MiB, 512k; the oldest events go first "
          + "(default: 64MiB).")
  long maxBytes = EventLog.Settings.DEFAULT_MAX_BYTES;

  public EventOptions() {
  }

  /** @throws BerthException INVALID_ARGUMENT for bounds too small */
  public EventLog.Settings settings() {
    return EventLog.Settings.of(maxAge, maxBytes);
  }

  /** Sizes as Docker's flags take them, in binary units: 64MiB, 64M, 64mb, 512k, 1g, 65536. */
  static long parseSize(String text) {
    Matcher m = SIZE.matcher(text.trim().toLowerCase(Locale.ROOT));
    if (!m.matches() || (m.group(2).isEmpty() && !m.group(3).isEmpty() && !m.group(3).equals("b"))) {
      throw BerthException.invalid("invalid size \"" + text + "\": expected e.g. 64MiB, 512k, 1g");
    }
    long unit = switch (m.group(2)) {
      case "" -> 1L;
      case "k" -> 1L << 10;
      case "m" -> 1L << 20;
      case "g" -> 1L << 30;
      default -> 1L << 40;
    };
    try {
      return new BigDecimal(m.group(1)).multiply(BigDecimal.valueOf(unit)).longValueExact();
    } catch (ArithmeticException e) {
      throw BerthException.invalid("invalid size \"" + text + "\": not a whole number of bytes, or too large");
    }
  }

  static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
    @Override
    public Duration convert(String value) {
      try {
        return Durations.parse(value);
      } catch (BerthException e) {
        throw new CommandLine.TypeConversionException(e.getMessage());
      }
    }
  }

  static final class SizeConverter implements CommandLine.ITypeConverter<Long> {
    @Override
    public Long convert(String value) {
      try {
        return parseSize(value);
      } catch (BerthException e) {
        throw new CommandLine.TypeConversionException(e.getMessage());
      }
    }
  }
}
