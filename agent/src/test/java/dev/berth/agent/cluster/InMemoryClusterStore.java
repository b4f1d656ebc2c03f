package dev.berth.agent.cluster;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/** A {@link ClusterStore} in one JVM's memory, for tests of what is built on the store. */
public final class InMemoryClusterStore implements ClusterStore {
  private final Map<String, Map<String, Entry>> tables = new TreeMap<>();
  private long version;

  @Override
  public synchronized Optional<Entry> get(String table, String key) {
    return Optional.ofNullable(table(table).get(key));
  }

  @Override
  public synchronized List<Entry> list(String table) {
    return new ArrayList<>(table(table).values());
  }

  @Override
  public synchronized Entry put(String table, String key, byte[] value) {
    Entry e = new Entry(key, value.clone(), ++version);
    table(table).put(key, e);
    return e;
  }

  @Override
  public synchronized Optional<Entry> compareAndSet(String table, String key, long expectedVersion, byte[] value) {
    Entry cur = table(table).get(key);
    long have = cur == null ? ABSENT : cur.version();
    return have == expectedVersion ? Optional.of(put(table, key, value)) : Optional.empty();
  }

  @Override
  public synchronized boolean remove(String table, String key, long expectedVersion) {
    Entry cur = table(table).get(key);
    if (cur == null || cur.version() != expectedVersion) {
      return false;
    }
    table(table).remove(key);
    return true;
  }

  private Map<String, Entry> table(String name) {
    return tables.computeIfAbsent(name, n -> new TreeMap<>());
  }
}
