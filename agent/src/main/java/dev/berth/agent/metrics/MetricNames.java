package dev.berth.agent.metrics;

import java.util.List;

/**
 * The names of the metrics an agent exports, as Prometheus shows them. Per container they are
 * cAdvisor's (so that dashboards and alerts written for cAdvisor work unchanged), with
 * cAdvisor's labels {@code id} (the cgroup path), {@code name} and {@code image}, plus
 * {@code node} and {@code berth_job}. The Berth job is not called {@code job}: Prometheus
 * owns that label (the scrape job) and renames a scraped one to {@code exported_job}.
 */
public final class MetricNames {
  private MetricNames() {}

  // Per container: gauges.
  public static final String MEMORY_USAGE = "container_memory_usage_bytes";
  public static final String MEMORY_WORKING_SET = "container_memory_working_set_bytes";
  public static final String MEMORY_CACHE = "container_memory_cache";
  public static final String MEMORY_RSS = "container_memory_rss";
  public static final String SPEC_MEMORY_LIMIT = "container_spec_memory_limit_bytes";
  public static final String SPEC_CPU_QUOTA = "container_spec_cpu_quota";
  public static final String SPEC_CPU_PERIOD = "container_spec_cpu_period";
  /**
   * Tasks, as the pids controller counts them (processes and their threads), which is what
   * {@code docker stats} shows as PIDS. cAdvisor counts processes only; reading each
   * container's cgroup.procs would cost a scrape of a thousand containers over 150 ms on
   * cgroup v1, so the exact process count is left to {@code berth stats} and {@code berth top}.
   */
  public static final String PROCESSES = "container_processes";
  public static final String THREADS_MAX = "container_threads_max";
  public static final String START_TIME = "container_start_time_seconds";

  // Per container: counters, named without the _total that the exposition appends.
  public static final String CPU_USAGE = "container_cpu_usage_seconds";
  public static final String CPU_USER = "container_cpu_user_seconds";
  public static final String CPU_SYSTEM = "container_cpu_system_seconds";
  public static final String CPU_PERIODS = "container_cpu_cfs_periods";
  public static final String CPU_THROTTLED_PERIODS = "container_cpu_cfs_throttled_periods";
  public static final String CPU_THROTTLED_SECONDS = "container_cpu_cfs_throttled_seconds";
  public static final String OOM_EVENTS = "container_oom_events";
  public static final String RESTARTS = "container_restarts";
  public static final String NET_RX_BYTES = "container_network_receive_bytes";
  public static final String NET_RX_PACKETS = "container_network_receive_packets";
  public static final String NET_RX_ERRORS = "container_network_receive_errors";
  public static final String NET_RX_DROPPED = "container_network_receive_packets_dropped";
  public static final String NET_TX_BYTES = "container_network_transmit_bytes";
  public static final String NET_TX_PACKETS = "container_network_transmit_packets";
  public static final String NET_TX_ERRORS = "container_network_transmit_errors";
  public static final String NET_TX_DROPPED = "container_network_transmit_packets_dropped";

  /** The labels of every per-container series, in this order; network series add {@code interface}. */
  public static final List<String> CONTAINER_LABELS = List.of("id", "name", "image", "berth_job", "node");

  // Per agent (Micrometer names; Prometheus shows dots as underscores, with unit and _total suffixes).
  public static final String GRPC_REQUESTS = "berth.grpc.server.requests";
  public static final String PULL_BYTES = "berth.image.pull.bytes";
  public static final String PULL_DURATION = "berth.image.pull";
  public static final String CONTAINER_START = "berth.container.start";
  public static final String CONTAINERS = "berth.containers";
  public static final String CLUSTER_MEMBERS = "berth.cluster.members";
  public static final String SCRAPE_DURATION = "berth.metrics.collect";
}
