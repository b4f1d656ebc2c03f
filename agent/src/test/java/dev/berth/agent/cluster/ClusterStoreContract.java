package dev.berth.agent.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * What every {@link ClusterStore} does, run against the in-memory fake and the real Atomix
 * store, so that the fake cannot drift; and the {@link NodeRegistry} on top of each.
 */
abstract class ClusterStoreContract {
  /** A store whose tables are empty at the start of each test (tests use their own table names). */
  abstract ClusterStore store();

  private static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void putThenGetReturnsTheValueWithAGrowingVersion() {
    ClusterStore s = store();
    ClusterStore.Entry first = s.put("t-put", "k", b("v1"));
    ClusterStore.Entry second = s.put("t-put", "k", b("v2"));
    assertTrue(second.version() > first.version());
    ClusterStore.Entry got = s.get("t-put", "k").orElseThrow();
    assertArrayEquals(b("v2"), got.value());
    assertEquals(second.version(), got.version());
    assertTrue(s.get("t-put", "missing").isEmpty());
  }

  @Test
  void compareAndSetWritesOnlyAtTheExpectedVersion() {
    ClusterStore s = store();
    ClusterStore.Entry created = s.compareAndSet("t-cas", "k", ClusterStore.ABSENT, b("a")).orElseThrow();
    assertTrue(s.compareAndSet("t-cas", "k", ClusterStore.ABSENT, b("again")).isEmpty(), "exists already");
    assertTrue(s.compareAndSet("t-cas", "k", created.version() + 1000, b("stale")).isEmpty());
    ClusterStore.Entry next = s.compareAndSet("t-cas", "k", created.version(), b("b")).orElseThrow();
    assertTrue(next.version() > created.version());
    assertArrayEquals(b("b"), s.get("t-cas", "k").orElseThrow().value());
    assertFalse(s.remove("t-cas", "k", created.version()));
    assertTrue(s.remove("t-cas", "k", next.version()));
    assertTrue(s.get("t-cas", "k").isEmpty());
  }

  @Test
  void listIsSortedByKey() {
    ClusterStore s = store();
    s.put("t-list", "b", b("2"));
    s.put("t-list", "a", b("1"));
    assertEquals(List.of("a", "b"), s.list("t-list").stream().map(ClusterStore.Entry::key).toList());
  }

  @Test
  void registryKeepsAdminStateAcrossReRegistration() {
    NodeRegistry r = new NodeRegistry(store());
    r.register("n1", "127.0.0.1:1", "", Role.SERVER, 5);
    r.update("n1", n -> n.withLabels(Map.of("zone", "a")).withDrain(true));
    NodeRecord again = r.register("n1", "127.0.0.1:2", "127.0.0.1:2377", Role.SERVER, 9);
    assertEquals(new NodeRecord("n1", "127.0.0.1:2", "127.0.0.1:2377", Role.SERVER, Map.of("zone", "a"), true, true, 5), again);
    assertEquals(again, r.get("n1").orElseThrow());
    BerthException e = assertThrows(BerthException.class, () -> r.update("nope", n -> n));
    assertEquals(BerthException.Kind.NOT_FOUND, e.kind());
  }
}
