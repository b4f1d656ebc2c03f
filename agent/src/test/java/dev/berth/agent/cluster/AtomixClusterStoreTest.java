package dev.berth.agent.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import dev.berth.agent.it.AgentProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * The contract against the real store: a one-server cluster (the embedded default) in this JVM,
 * on a free loopback port, one for the whole class. Also: calls before it is ready say so.
 */
@Tag("cluster")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AtomixClusterStoreTest extends ClusterStoreContract {
  private Path dir;
  private Cluster cluster;
  private final String suffix = UUID.randomUUID().toString().substring(0, 8);

  @BeforeAll
  @Timeout(300) // a cluster's start-up, slower on a machine busy with other tests
  void start() throws Exception {
    dir = Files.createTempDirectory("berth-cluster-test");
    String node = "n1";
    cluster = new Cluster(ClusterConfig.standalone(node, dir, new Endpoint("127.0.0.1", AgentProcess.freeClusterPort())),
        () -> new NodeFacts(node, 1, 1, 1, 1, List.of(), List.of(), System.currentTimeMillis()));
    BerthException early = assertThrows(BerthException.class, () -> cluster.store().get("t", "k"));
    assertEquals(BerthException.Kind.UNAVAILABLE, early.kind());
    assertTrue(early.getMessage().contains("still starting"), early.getMessage());
    cluster.start();
    assertTrue(cluster.awaitReady(Duration.ofSeconds(60)), "not ready: " + cluster.status());
  }

  @AfterAll
  void stop() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
    if (dir != null) {
      try (Stream<Path> w = Files.walk(dir)) {
        for (Path p : (Iterable<Path>) w.sorted(Comparator.reverseOrder())::iterator) {
          Files.deleteIfExists(p);
        }
      }
    }
  }

  @Override
  ClusterStore store() {
    // A fresh table name per call would leak primitives; one prefix per class run keeps them apart from other runs.
    return new ClusterStore() {
      private String t(String table) {
        return table + "-" + suffix;
      }

      @Override
      public java.util.Optional<Entry> get(String table, String key) {
        return cluster.store().get(t(table), key);
      }

      @Override
      public List<Entry> list(String table) {
        return cluster.store().list(t(table));
      }

      @Override
      public Entry put(String table, String key, byte[] value) {
        return cluster.store().put(t(table), key, value);
      }

      @Override
      public java.util.Optional<Entry> compareAndSet(String table, String key, long expectedVersion, byte[] value) {
        return cluster.store().compareAndSet(t(table), key, expectedVersion, value);
      }

      @Override
      public boolean remove(String table, String key, long expectedVersion) {
        return cluster.store().remove(t(table), key, expectedVersion);
      }
    };
  }

  @Test
  void theLoneServerLeadsAndRegisteredItself() throws Exception {
    ClusterStatus s = cluster.status();
    assertEquals(ClusterStatus.Phase.READY, s.phase());
    assertTrue(s.quorum());
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (!cluster.isRegistered() && System.nanoTime() < deadline) {
      Thread.sleep(100);
    }
    assertEquals(Role.SERVER, cluster.nodes().get("n1").orElseThrow().role());
    assertTrue(cluster.gossip().of("n1").isPresent());
  }
}
