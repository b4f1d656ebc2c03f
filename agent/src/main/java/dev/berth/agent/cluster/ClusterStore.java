package dev.berth.agent.cluster;

import java.util.List;
import java.util.Optional;

/**
 * The replicated, consistent state (Raft, on the server agents): tables of keyed byte values,
 * each with a version that grows with every write, so that callers can compare-and-set.
 *
 * <p>Values are opaque bytes: the callers' own records serialized (protobuf), never
 * Atomix-serialized Java objects. Reads are linearizable. Every method blocks for at most the
 * store's timeout and is safe from any thread; at ~140 sequential writes per second (measured),
 * write desired state and batched status only, never one write per container.
 *
 * <p>Failures are {@code BerthException}s: {@code UNAVAILABLE} while the cluster is starting or
 * when no quorum of servers answers in time (no write is then known to have happened or not),
 * {@code INVALID_ARGUMENT} for a bad table or key.
 */
public interface ClusterStore {
  /** Version 0 in a compare-and-set: "the key must not exist". */
  long ABSENT = 0;

  /** One stored value. {@code version} is positive and grows with every write of the key. */
  record Entry(String key, byte[] value, long version) {}

  Optional<Entry> get(String table, String key);

  /** Every entry of {@code table}, sorted by key. */
  List<Entry> list(String table);

  /** Writes unconditionally; returns the entry as stored, with its new version. */
  Entry put(String table, String key, byte[] value);

  /**
   * Writes only if the key's current version is {@code expectedVersion} ({@link #ABSENT}: only
   * if it does not exist). Returns the new entry, or empty if the version did not match.
   */
  Optional<Entry> compareAndSet(String table, String key, long expectedVersion, byte[] value);

  /** Removes only if the current version is {@code expectedVersion}; true if it removed. */
  boolean remove(String table, String key, long expectedVersion);
}
