package dev.berth.agent.metrics;

import static dev.berth.agent.metrics.MetricNames.*;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;

/**
 * The per-container series, read when Prometheus scrapes: every running container's cgroup
 * and network counters, and every container's restarts (the runtime's count) and OOM kills
 * (see {@link RunHistory}), under cAdvisor's names ({@link MetricNames}), written straight in
 * Prometheus' text format 0.0.4.
 *
 * <p>Written by hand rather than through the Prometheus client's snapshot model: with a
 * thousand containers that model spends most of a scrape sorting and validating 30,000 label
 * sets, and each container's labels are the same for all its series, so they are escaped once.
 *
 * <p>A reading is cached for {@link #DEFAULT_TTL}, so that several scrapers at once (two
 * Prometheus servers, a dashboard's bursts) cost one reading. Thread-safe: readings are
 * serialised, and the cache is shared.
 */
public final class ContainerCollector {
  /**
   * How long one reading serves scrapes: well under any sane scrape interval (Prometheus'
   * default is 15 s), long enough to absorb concurrent scrapes.
   */
  public static final Duration DEFAULT_TTL = Duration.ofSeconds(1);

  private final Supplier<List<ContainerTarget>> targets;
  private final ContainerSampler sampler;
  private final String node;
  private final long ttlNanos;
  private final LongSupplier nanoTime;
  private final RunHistory history = new RunHistory();
  private byte[] cached;
  private long cachedAt;
  private volatile long lastCollectNanos;

  public ContainerCollector(Supplier<List<ContainerTarget>> targets, ContainerSampler sampler, String node, Duration ttl,
      LongSupplier nanoTime) {
    this.targets = targets;
    this.sampler = sampler;
    this.node = node;
    this.ttlNanos = ttl.toNanos();
    this.nanoTime = nanoTime;
  }

  /** How long the last reading took, formatting included, in nanoseconds (cached answers not counted). */
  public long lastCollectNanos() {
    return lastCollectNanos;
  }

  /** Writes the per-container families, text format 0.0.4. */
  public void write(OutputStream out) throws IOException {
    out.write(collect());
  }

  /** The exposition of the per-container families, read now or taken from the cache. */
  synchronized byte[] collect() {
    long start = nanoTime.getAsLong();
    if (cached != null && start - cachedAt < ttlNanos) {
      return cached;
    }
    cached = read();
    cachedAt = start;
    lastCollectNanos = nanoTime.getAsLong() - start;
    return cached;
  }

  private static final Map<String, String> HELP = Map.ofEntries(
      Map.entry(MEMORY_USAGE, "Current memory usage, page cache included, in bytes"),
      Map.entry(MEMORY_WORKING_SET, "Current working set (usage less inactive page cache), in bytes"),
      Map.entry(MEMORY_CACHE, "Page cache charged to the container, in bytes"),
      Map.entry(MEMORY_RSS, "Anonymous memory of the container, in bytes"),
      Map.entry(SPEC_MEMORY_LIMIT, "Memory limit of the container, in bytes; 0 when unlimited"),
      Map.entry(SPEC_CPU_QUOTA, "CFS quota of the container, in microseconds per period; 0 when unlimited"),
      Map.entry(SPEC_CPU_PERIOD, "CFS period of the container, in microseconds"),
      Map.entry(PROCESSES, "Number of tasks (processes and threads, the pids controller's count) inside the container"),
      Map.entry(THREADS_MAX, "Maximum number of tasks allowed in the container; 0 when unlimited"),
      Map.entry(START_TIME, "Start time of the container's current run since the Unix epoch, in seconds"),
      Map.entry(CPU_USAGE, "Cumulative CPU time consumed, in seconds"),
      Map.entry(CPU_USER, "Cumulative user CPU time consumed, in seconds"),
      Map.entry(CPU_SYSTEM, "Cumulative system CPU time consumed, in seconds"),
      Map.entry(CPU_PERIODS, "Number of elapsed enforcement period intervals"),
      Map.entry(CPU_THROTTLED_PERIODS, "Number of throttled period intervals"),
      Map.entry(CPU_THROTTLED_SECONDS, "Total time duration the container has been throttled, in seconds"),
      Map.entry(OOM_EVENTS, "Count of out-of-memory kills in the container, over all its runs seen by this agent"),
      Map.entry(RESTARTS, "Restarts by the container's restart policy since the user last started it"),
      Map.entry(NET_RX_BYTES, "Cumulative count of bytes received"),
      Map.entry(NET_RX_PACKETS, "Cumulative count of packets received"),
      Map.entry(NET_RX_ERRORS, "Cumulative count of errors encountered while receiving"),
      Map.entry(NET_RX_DROPPED, "Cumulative count of packets dropped while receiving"),
      Map.entry(NET_TX_BYTES, "Cumulative count of bytes transmitted"),
      Map.entry(NET_TX_PACKETS, "Cumulative count of packets transmitted"),
      Map.entry(NET_TX_ERRORS, "Cumulative count of errors encountered while transmitting"),
      Map.entry(NET_TX_DROPPED, "Cumulative count of packets dropped while transmitting"));

  /** One family of gauges or counters over the running containers' samples. */
  private record Family(String name, boolean counter, ToDoubleFunction<ContainerSample> value) {}

  private static final List<Family> RUNNING = List.of(
      new Family(MEMORY_USAGE, false, s -> s.cgroup().memoryUsageBytes()),
      new Family(MEMORY_WORKING_SET, false, s -> s.cgroup().memoryWorkingSetBytes()),
      new Family(MEMORY_CACHE, false, s -> s.cgroup().memoryCacheBytes()),
      new Family(MEMORY_RSS, false, s -> s.cgroup().memoryRssBytes()),
      new Family(SPEC_MEMORY_LIMIT, false, s -> s.target().memoryLimitBytes()),
      new Family(SPEC_CPU_QUOTA, false, s -> s.target().cpuQuotaMicros()),
      new Family(SPEC_CPU_PERIOD, false, s -> s.target().cpuPeriodMicros() > 0 ? s.target().cpuPeriodMicros() : 100_000),
      new Family(PROCESSES, false, s -> s.cgroup().pids()),
      new Family(THREADS_MAX, false, s -> s.target().pidsLimit()),
      new Family(CPU_USAGE, true, s -> s.cgroup().cpuUsageNanos() / 1e9),
      new Family(CPU_USER, true, s -> s.cgroup().cpuUserNanos() / 1e9),
      new Family(CPU_SYSTEM, true, s -> s.cgroup().cpuSystemNanos() / 1e9),
      new Family(CPU_PERIODS, true, s -> s.cgroup().cpuPeriods()),
      new Family(CPU_THROTTLED_PERIODS, true, s -> s.cgroup().cpuThrottledPeriods()),
      new Family(CPU_THROTTLED_SECONDS, true, s -> s.cgroup().cpuThrottledNanos() / 1e9));

  /** Network families: a name and the interface's counter. */
  private record NetFamily(String name, ToDoubleFunction<NetDev.Interface> value) {}

  private static final List<NetFamily> NETWORK = List.of(
      new NetFamily(NET_RX_BYTES, NetDev.Interface::rxBytes),
      new NetFamily(NET_RX_PACKETS, NetDev.Interface::rxPackets),
      new NetFamily(NET_RX_ERRORS, NetDev.Interface::rxErrors),
      new NetFamily(NET_RX_DROPPED, NetDev.Interface::rxDropped),
      new NetFamily(NET_TX_BYTES, NetDev.Interface::txBytes),
      new NetFamily(NET_TX_PACKETS, NetDev.Interface::txPackets),
      new NetFamily(NET_TX_ERRORS, NetDev.Interface::txErrors),
      new NetFamily(NET_TX_DROPPED, NetDev.Interface::txDropped));

  /** Every family name as Prometheus shows it (counters with _total), for checks of dashboards and rules. */
  public static List<String> familyNames() {
    List<String> names = new ArrayList<>();
    RUNNING.forEach(f -> names.add(f.counter() ? f.name() + "_total" : f.name()));
    names.add(START_TIME);
    NETWORK.forEach(f -> names.add(f.name() + "_total"));
    names.add(RESTARTS + "_total");
    names.add(OOM_EVENTS + "_total");
    return names;
  }

  private byte[] read() {
    List<ContainerTarget> all = targets.get();
    List<ContainerSample> samples = sampler.sampleRunning(all);
    // Each container's labels, escaped and encoded once for all its series.
    Map<String, byte[]> labels = new java.util.HashMap<>();
    for (ContainerTarget t : all) {
      labels.put(t.id(), labels(t));
    }
    Text b = new Text(samples.size() * 4000 + 4096);
    for (Family f : RUNNING) {
      byte[] name = header(b, f.name(), f.counter());
      for (ContainerSample s : samples) {
        sample(b, name, labels.get(s.target().id()), null, f.value().applyAsDouble(s));
      }
    }
    byte[] startTime = header(b, START_TIME, false);
    for (ContainerSample s : samples) {
      if (s.target().startedAt() != null) {
        var at = s.target().startedAt();
        sample(b, startTime, labels.get(s.target().id()), null, at.getEpochSecond() + at.getNano() / 1e9);
      }
    }
    for (NetFamily f : NETWORK) {
      byte[] name = header(b, f.name(), true);
      for (ContainerSample s : samples) {
        for (NetDev.Interface i : s.interfaces()) {
          sample(b, name, labels.get(s.target().id()), i.name(), f.value().applyAsDouble(i));
        }
      }
    }
    // Restarts and OOM kills for every container, running or not: a crash-looping container
    // spends most of its time waiting to be started again.
    Map<String, Long> oomSeen = new java.util.HashMap<>();
    samples.forEach(s -> oomSeen.put(s.target().id(), s.cgroup().oomKills()));
    Set<String> live = new HashSet<>();
    for (ContainerTarget t : all) {
      live.add(t.id());
      history.observe(t, oomSeen.getOrDefault(t.id(), -1L));
    }
    history.retain(live);
    byte[] name = header(b, RESTARTS, true);
    for (ContainerTarget t : all) {
      sample(b, name, labels.get(t.id()), null, t.restartCount());
    }
    name = header(b, OOM_EVENTS, true);
    for (ContainerTarget t : all) {
      sample(b, name, labels.get(t.id()), null, history.oomEvents(t.id()));
    }
    return b.toByteArray();
  }

  /** The HELP and TYPE lines; returns the sample name (counters end in _total), encoded. */
  private static byte[] header(Text b, String family, boolean counter) {
    String name = counter ? family + "_total" : family;
    b.append("# HELP " + name + ' ' + HELP.get(family) + "\n# TYPE " + name + (counter ? " counter\n" : " gauge\n"));
    return name.getBytes(StandardCharsets.UTF_8);
  }

  private static void sample(Text b, byte[] name, byte[] labels, String iface, double value) {
    b.append(name);
    b.append((byte) '{');
    b.append(labels);
    if (iface != null) {
      StringBuilder i = new StringBuilder(",interface=\"");
      escape(i, iface);
      b.append(i.append('"').toString());
    }
    b.append((byte) '}');
    b.append((byte) ' ');
    if (value == Math.rint(value) && Math.abs(value) < 1e15) {
      b.append((long) value);
    } else {
      b.append(Double.toString(value));
    }
    b.append((byte) '\n');
  }

  /** {@code id="…",name="…",image="…",berth_job="…",node="…"}, escaped, without the braces, in UTF-8. */
  private byte[] labels(ContainerTarget t) {
    StringBuilder b = new StringBuilder(160);
    String[] values = {"/" + t.cgroupPath(), t.name(), t.image(), t.job(), node};
    List<String> names = CONTAINER_LABELS;
    for (int i = 0; i < values.length; i++) {
      if (i > 0) {
        b.append(',');
      }
      b.append(names.get(i)).append("=\"");
      escape(b, values[i]);
      b.append('"');
    }
    return b.toString().getBytes(StandardCharsets.UTF_8);
  }

  /**
   * The exposition as it is written: UTF-8 bytes straight into one growing array, so that the
   * thousands of lines of a large scrape are neither a String first nor copied to be encoded.
   */
  private static final class Text {
    private byte[] buf;
    private int size;

    Text(int capacity) {
      buf = new byte[capacity];
    }

    private void room(int n) {
      if (size + n > buf.length) {
        buf = java.util.Arrays.copyOf(buf, Math.max(buf.length * 2, size + n));
      }
    }

    void append(byte c) {
      room(1);
      buf[size++] = c;
    }

    void append(byte[] b) {
      room(b.length);
      System.arraycopy(b, 0, buf, size, b.length);
      size += b.length;
    }

    void append(String s) {
      append(s.getBytes(StandardCharsets.UTF_8));
    }

    /** A long in decimal, without a String in between. */
    void append(long v) {
      if (v == Long.MIN_VALUE) {
        append(Long.toString(v));
        return;
      }
      room(20);
      if (v < 0) {
        buf[size++] = '-';
        v = -v;
      }
      int digits = 1;
      for (long x = v; x >= 10; x /= 10) {
        digits++;
      }
      for (int i = size + digits - 1; i >= size; i--) {
        buf[i] = (byte) ('0' + v % 10);
        v /= 10;
      }
      size += digits;
    }

    byte[] toByteArray() {
      return java.util.Arrays.copyOf(buf, size);
    }
  }

  /** Label value escaping of the text format: backslash, double quote and line feed. */
  static void escape(StringBuilder b, String v) {
    for (int i = 0; i < v.length(); i++) {
      char c = v.charAt(i);
      switch (c) {
        case '\\' -> b.append("\\\\");
        case '"' -> b.append("\\\"");
        case '\n' -> b.append("\\n");
        default -> b.append(c);
      }
    }
  }
}
