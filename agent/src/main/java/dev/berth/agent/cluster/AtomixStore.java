package dev.berth.agent.cluster;

import dev.berth.agent.BerthException;
import io.atomix.core.Atomix;
import io.atomix.core.map.AsyncAtomicMap;
import io.atomix.core.map.AtomicMap;
import io.atomix.utils.time.Versioned;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import java.util.regex.Pattern;

/** {@link ClusterStore} over one Atomix {@code AtomicMap<String, byte[]>} per table, in the Raft group "data". */
final class AtomixStore implements ClusterStore {
  private static final Pattern TABLE = Pattern.compile("[a-z][a-z0-9-]{0,40}");
  private static final int MAX_KEY = 512;

  private final Supplier<Atomix> atomix;
  private final Duration timeout;
  private final Map<String, AsyncAtomicMap<String, byte[]>> maps = new ConcurrentHashMap<>();

  /** @param atomix the started Atomix; throws UNAVAILABLE while the cluster is starting */
  AtomixStore(Supplier<Atomix> atomix, Duration timeout) {
    this.atomix = atomix;
    this.timeout = timeout;
  }

  @Override
  public Optional<Entry> get(String table, String key) {
    checkKey(key);
    return Optional.ofNullable(await(map(table).get(key))).map(v -> entry(key, v));
  }

  @Override
  public List<Entry> list(String table) {
    AtomicMap<String, byte[]> sync = map(table).sync(timeout);
    List<Entry> out = new ArrayList<>();
    try {
      for (Map.Entry<String, Versioned<byte[]>> e : sync.entrySet()) {
        out.add(entry(e.getKey(), e.getValue()));
      }
    } catch (RuntimeException e) {
      throw translate(e);
    }
    out.sort(Comparator.comparing(Entry::key));
    return out;
  }

  @Override
  public Entry put(String table, String key, byte[] value) {
    checkKey(key);
    return entry(key, await(map(table).putAndGet(key, value)));
  }

  @Override
  public Optional<Entry> compareAndSet(String table, String key, long expectedVersion, byte[] value) {
    checkKey(key);
    AsyncAtomicMap<String, byte[]> m = map(table);
    if (expectedVersion == ABSENT) {
      // putIfAbsent answers with the existing value, or null when it wrote.
      if (await(m.putIfAbsent(key, value)) != null) {
        return Optional.empty();
      }
    } else if (!await(m.replace(key, expectedVersion, value))) {
      return Optional.empty();
    }
    // Read back for the version: AtomicMap's conditional writes do not return it. A write by
    // someone else in between shows up as a newer version, which a later CAS then rejects.
    return Optional.ofNullable(await(m.get(key))).map(v -> entry(key, v));
  }

  @Override
  public boolean remove(String table, String key, long expectedVersion) {
    checkKey(key);
    return await(map(table).remove(key, expectedVersion));
  }

  private AsyncAtomicMap<String, byte[]> map(String table) {
    if (!TABLE.matcher(table).matches()) {
      throw BerthException.invalid("invalid table name \"" + table + "\"");
    }
    AsyncAtomicMap<String, byte[]> m = maps.get(table);
    if (m != null) {
      return m;
    }
    Atomix a = atomix.get();
    // Creating a primitive is itself a Raft write (Atomix's primitive registry): bounded too.
    AsyncAtomicMap<String, byte[]> created = await(a.<String, byte[]>atomicMapBuilder("berth-" + table)
        .withProtocol(AtomixNode.raft())
        .buildAsync()
        .thenApply(AtomicMap::async));
    AsyncAtomicMap<String, byte[]> raced = maps.putIfAbsent(table, created);
    return raced != null ? raced : created;
  }

  private static Entry entry(String key, Versioned<byte[]> v) {
    return new Entry(key, v.value(), v.version());
  }

  private static void checkKey(String key) {
    if (key == null || key.isEmpty() || key.length() > MAX_KEY) {
      throw BerthException.invalid("a key must have 1 to " + MAX_KEY + " characters");
    }
  }

  private <T> T await(CompletableFuture<T> f) {
    try {
      return f.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      f.cancel(false);
      throw noQuorum();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BerthException(BerthException.Kind.UNAVAILABLE, "interrupted while waiting for the cluster");
    } catch (ExecutionException e) {
      throw translate(e.getCause());
    }
  }

  private BerthException noQuorum() {
    return new ServersUnavailableException(
        "no quorum of the cluster's servers answered within " + timeout.toSeconds() + " s; the write may or may not have happened", null);
  }

  private BerthException translate(Throwable t) {
    if (t instanceof BerthException b) {
      return b;
    }
    // Atomix reports a missing quorum, a closed session and a timeout as PrimitiveException subclasses;
    // a Raft client whose server just died, until it finds another, as the IOException of its
    // connection (refused, reset).
    if (t instanceof io.atomix.primitive.PrimitiveException || t instanceof TimeoutException
        || t instanceof java.io.IOException) {
      return new ServersUnavailableException(
          "the cluster's servers did not answer: " + t.getClass().getSimpleName(), t);
    }
    return BerthException.internal("cluster store: " + t, t);
  }
}
