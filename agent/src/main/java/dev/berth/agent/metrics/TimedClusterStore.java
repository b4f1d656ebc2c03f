package dev.berth.agent.metrics;

import dev.berth.agent.cluster.ClusterStore;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * A {@link ClusterStore} that times every operation: writes (a Raft commit each) and linearizable
 * reads, by table, into {@code berth_store_operation_seconds}.
 */
public final class TimedClusterStore implements ClusterStore {
  private final ClusterStore store;
  private final MeterRegistry registry;

  public TimedClusterStore(ClusterStore store, MeterRegistry registry) {
    this.store = store;
    this.registry = registry;
  }

  /** One timer per operation and table, built once: every store call of the agent passes here. */
  private final java.util.concurrent.ConcurrentMap<String, Timer> timers = new java.util.concurrent.ConcurrentHashMap<>();

  private <T> T time(String op, String table, Supplier<T> call) {
    Timer t = timers.computeIfAbsent(op + "\u0000" + table, k -> Timer.builder("berth_store_operation_seconds")
        .description("Replicated store operations (writes are Raft commits), by operation and table")
        .tags("operation", op, "table", table).publishPercentileHistogram().register(registry));
    return t.record(call);
  }

  @Override
  public Optional<Entry> get(String table, String key) {
    return time("get", table, () -> store.get(table, key));
  }

  @Override
  public List<Entry> list(String table) {
    return time("list", table, () -> store.list(table));
  }

  @Override
  public Entry put(String table, String key, byte[] value) {
    return time("put", table, () -> store.put(table, key, value));
  }

  @Override
  public Optional<Entry> compareAndSet(String table, String key, long expectedVersion, byte[] value) {
    return time("compare_and_set", table, () -> store.compareAndSet(table, key, expectedVersion, value));
  }

  @Override
  public boolean remove(String table, String key, long expectedVersion) {
    return time("remove", table, () -> store.remove(table, key, expectedVersion));
  }
}
