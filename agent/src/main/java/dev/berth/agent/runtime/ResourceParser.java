package dev.berth.agent.runtime;

import dev.berth.agent.BerthException;
import dev.berth.agent.runtime.cgroup.CgroupLimits;
import java.math.BigDecimal;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses resource limits as users write them on the command line, the way Docker reads them. */
public final class ResourceParser {
  /** The CFS period Berth uses for {@code --cpus}: Docker's, 100 ms. */
  public static final long CPU_PERIOD_MICROS = 100_000;
  /** Below this the kernel cannot even start a process reliably; Docker refuses it too. */
  public static final long MIN_MEMORY_BYTES = 6L * 1024 * 1024;

  private static final Pattern SIZE = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([kmgtp]?)(i?b?)?");

  private ResourceParser() {}

  /** "512m", "1g", "1.5g", "1048576", "64MiB" → bytes; empty → 0 (unlimited). */
  public static long memory(String text) {
    if (text == null || text.isBlank()) {
      return 0;
    }
    Matcher m = SIZE.matcher(text.trim().toLowerCase(Locale.ROOT));
    if (!m.matches()) {
      throw BerthException.invalid("invalid memory limit \"" + text
          + "\": expected a number of bytes with an optional unit b, k, m, g, t (e.g. 512m, 1g)");
    }
    long unit = switch (m.group(2)) {
      case "" -> 1L;
      case "k" -> 1L << 10;
      case "m" -> 1L << 20;
      case "g" -> 1L << 30;
      case "t" -> 1L << 40;
      default -> 1L << 50;
    };
    long bytes;
    try {
      bytes = new BigDecimal(m.group(1)).multiply(BigDecimal.valueOf(unit)).longValueExact();
    } catch (ArithmeticException e) {
      throw BerthException.invalid("invalid memory limit \"" + text + "\": not a whole number of bytes or too large");
    }
    if (bytes == 0) {
      return 0; // as with Docker: no limit
    }
    if (bytes < MIN_MEMORY_BYTES) {
      throw BerthException.invalid("invalid memory limit \"" + text + "\": the minimum is 6m");
    }
    return bytes;
  }

  /** "0.5", "2" → a CFS quota in microseconds per {@link #CPU_PERIOD_MICROS}; empty → 0 (unlimited). */
  public static long cpuQuotaMicros(String text) {
    if (text == null || text.isBlank()) {
      return 0;
    }
    BigDecimal cpus;
    try {
      cpus = new BigDecimal(text.trim());
    } catch (NumberFormatException e) {
      throw BerthException.invalid("invalid cpus \"" + text + "\": expected a decimal number of CPUs such as 0.5 or 2");
    }
    int available = Runtime.getRuntime().availableProcessors();
    if (cpus.signum() <= 0 || cpus.compareTo(BigDecimal.valueOf(available)) > 0) {
      throw BerthException.invalid("invalid cpus \"" + text + "\": the range of CPUs is from 0.01 to " + available
          + " (the CPUs of this host)");
    }
    long quota = cpus.multiply(BigDecimal.valueOf(CPU_PERIOD_MICROS)).longValue();
    if (quota < 1000) {
      throw BerthException.invalid("invalid cpus \"" + text + "\": the minimum is 0.01");
    }
    return quota;
  }

  /** The cgroup limits of a container's resources; pidsLimit ≤ 0 means unlimited. */
  public static CgroupLimits limits(String memory, String cpus, long pidsLimit) {
    long quota = cpuQuotaMicros(cpus);
    return new CgroupLimits(memory(memory), quota, quota == 0 ? 0 : CPU_PERIOD_MICROS, Math.max(0, pidsLimit));
  }
}
