package dev.berth.agent.metrics;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmInfoMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Everything one agent exports, in one Prometheus registry: the per-container series of a
 * {@link ContainerCollector}, the agent's own meters (those of {@link GrpcMetricsInterceptor},
 * containers by state, cluster members by state, how long the container reading took) and
 * the JVM's (memory, GC, threads, classes, CPU, uptime, file descriptors). The agent's meters
 * carry a {@code node} tag, like the per-container series.
 *
 * <p>Thread-safe. {@link #close()} detaches the GC listeners.
 */
public final class AgentMetrics implements AutoCloseable {
  /** Container states as {@code berth_containers{state}} reports them. */
  public static final List<String> CONTAINER_STATES = List.of("created", "running", "exited", "removing");
  /** Member states as {@code berth_cluster_members{state}} reports them. */
  public static final List<String> MEMBER_STATES = List.of("alive", "suspect", "down");

  private final PrometheusMeterRegistry registry;
  private final ContainerCollector containers;
  private final JvmGcMetrics gc = new JvmGcMetrics();

  /**
   * @param containersByState counts of this agent's containers by state (names of {@link #CONTAINER_STATES})
   * @param membersByState counts of the cluster's members by state as this agent sees them
   *     (names of {@link #MEMBER_STATES})
   */
  public AgentMetrics(String node, ContainerCollector containers, Supplier<Map<String, Long>> containersByState,
      Supplier<Map<String, Long>> membersByState) {
    this.containers = containers;
    registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT, new PrometheusRegistry(),
        io.micrometer.core.instrument.Clock.SYSTEM);
    registry.config().commonTags("node", node);
    new JvmMemoryMetrics().bindTo(registry);
    gc.bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ClassLoaderMetrics().bindTo(registry);
    new JvmInfoMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    OpenFiles.bindTo(registry);
    // One reading serves all states of a scrape.
    Supplier<Map<String, Long>> byState = Memo.of(containersByState);
    for (String s : CONTAINER_STATES) {
      Gauge.builder(MetricNames.CONTAINERS, () -> byState.get().getOrDefault(s, 0L)).tag("state", s)
          .description("Containers of this agent, by state").register(registry);
    }
    Supplier<Map<String, Long>> members = Memo.of(membersByState);
    for (String s : MEMBER_STATES) {
      Gauge.builder(MetricNames.CLUSTER_MEMBERS, () -> members.get().getOrDefault(s, 0L)).tag("state", s)
          .description("Cluster members by state, as this agent sees them").register(registry);
    }
    Gauge.builder(MetricNames.SCRAPE_DURATION, () -> containers.lastCollectNanos() / 1e9).baseUnit("seconds")
        .description("How long the last reading of the per-container statistics took").register(registry);
  }

  /** The registry to add meters to (the gRPC interceptor's). */
  public MeterRegistry registry() {
    return registry;
  }

  /** The exposition, Prometheus text format 0.0.4. */
  public String scrape() {
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(1 << 16);
    try {
      scrape(out);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    return out.toString(java.nio.charset.StandardCharsets.UTF_8);
  }

  /**
   * Writes the exposition, Prometheus text format 0.0.4, to {@code out}: the agent's meters, then
   * the per-container families (no name is in both, so the two parts make one valid exposition).
   * The containers are read first, so that {@code berth_metrics_collect_seconds} in this
   * exposition is the time of the reading it carries, not of the one before.
   */
  public void scrape(OutputStream out) throws IOException {
    byte[] perContainer = containers.collect();
    registry.scrape(out, CONTENT_TYPE);
    out.write(perContainer);
  }

  /** The content type of {@link #scrape(OutputStream)}. */
  public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

  @Override
  public void close() {
    gc.close();
    registry.close();
  }

  /** A supplier whose value is reused for a short while, so the gauges of one scrape share one reading. */
  static final class Memo<T> implements Supplier<T> {
    private static final long TTL_NANOS = 500_000_000L;
    private final Supplier<T> source;
    private T value;
    private long at;

    private Memo(Supplier<T> source) {
      this.source = source;
    }

    static <T> Supplier<T> of(Supplier<T> source) {
      return new Memo<>(source);
    }

    @Override
    public synchronized T get() {
      long now = System.nanoTime();
      if (value == null || now - at > TTL_NANOS) {
        value = source.get();
        at = now;
      }
      return value;
    }
  }
}
