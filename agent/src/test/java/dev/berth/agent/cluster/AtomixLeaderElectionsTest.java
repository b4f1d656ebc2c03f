package dev.berth.agent.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import dev.berth.agent.it.AgentProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * The contract against Atomix: three agents' cluster layers in this JVM, all three Raft servers,
 * on free loopback ports, one cluster for the whole class. Also what only a real cluster does:
 * {@code run} is UNAVAILABLE while the cluster starts and once it stopped, and when the leader's
 * node stops (its Raft session ends with it) the next candidate leads; this one runs last, as
 * it takes a server away.
 */
@Tag("cluster")
@Timeout(300)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AtomixLeaderElectionsTest extends LeaderElectionsContract {
  private static final List<String> NAMES = List.of("a", "b", "c");
  /** A 3-server cluster measured 17-20 s to start as processes (two Raft elections in a row); room for a busy host. */
  private static final Duration START = Duration.ofSeconds(120);
  private final List<Cluster> clusters = new ArrayList<>();
  private Path dir;

  @BeforeAll
  @Timeout(300) // a cluster's start-up, slower on a machine busy with other tests
  void startCluster() throws Exception {
    dir = Files.createTempDirectory("berth-elections-test");
    List<Endpoint> endpoints = new ArrayList<>();
    while (endpoints.size() < NAMES.size()) {
      Endpoint e = new Endpoint("127.0.0.1", AgentProcess.freeClusterPort());
      if (!endpoints.contains(e)) {
        endpoints.add(e);
      }
    }
    for (int i = 0; i < NAMES.size(); i++) {
      String node = NAMES.get(i);
      Endpoint self = endpoints.get(i);
      ClusterConfig c = new ClusterConfig("elections", node, self, endpoints.stream().filter(e -> !e.equals(self)).toList(), true,
          NAMES, dir.resolve(node), ClusterConfig.DEFAULT_FAILURE_TIMEOUT, ClusterConfig.DEFAULT_GRACE_PERIOD);
      clusters.add(new Cluster(c, () -> new NodeFacts(node, 1, 1, 1, 1, List.of(), List.of(), System.currentTimeMillis())));
    }
    BerthException early = assertThrows(BerthException.class, () -> clusters.get(0).elections().run("early"));
    assertEquals(BerthException.Kind.UNAVAILABLE, early.kind());
    assertTrue(early.getMessage().contains("still starting"), early.getMessage());
    clusters.forEach(Cluster::start);
    for (Cluster c : clusters) {
      assertTrue(c.awaitReady(START), "not ready: " + c.status());
    }
  }

  @AfterAll
  void stopCluster() throws Exception {
    clusters.forEach(Cluster::close);
    if (dir != null) {
      try (Stream<Path> w = Files.walk(dir)) {
        for (Path p : (Iterable<Path>) w.sorted(Comparator.reverseOrder())::iterator) {
          Files.deleteIfExists(p);
        }
      }
    }
  }

  @Override
  List<LeaderElections> agents() {
    return clusters.stream().map(Cluster::elections).toList();
  }

  @Override
  List<String> names() {
    return NAMES;
  }

  @Test
  @Order(1)
  void aClusterThatIsStillStartingRefusesWithUnavailable() throws Exception {
    // One more agent that never starts: as every agent is until its Atomix is up.
    Cluster idle = new Cluster(ClusterConfig.standalone("idle", dir.resolve("idle"), new Endpoint("127.0.0.1",
        AgentProcess.freeClusterPort())), () -> new NodeFacts("idle", 1, 1, 1, 1, List.of(), List.of(), 0));
    try {
      BerthException e = assertThrows(BerthException.class, () -> idle.elections().run("starting"));
      assertEquals(BerthException.Kind.UNAVAILABLE, e.kind());
      assertEquals("the cluster is still starting", e.getMessage());
    } finally {
      idle.close();
    }
    BerthException stopped = assertThrows(BerthException.class, () -> idle.elections().run("starting"));
    assertEquals(BerthException.Kind.UNAVAILABLE, stopped.kind());
    assertEquals("the cluster layer is stopped", stopped.getMessage());
  }

  @Test
  @Order(Integer.MAX_VALUE)
  void whenTheLeadersNodeStopsTheNextCandidateLeads() throws Exception {
    String t = topic("node-stops");
    LeaderElections.Candidacy c = run(2, t);
    LeaderElections.Candidacy a = run(0, t);
    LeaderElections.Candidacy b = run(1, t);
    awaitAgreement("c", List.of(c, a, b), List.of(2, 0, 1));
    BlockingQueue<Optional<String>> heardByA = heard(a);
    BlockingQueue<Optional<String>> heardByB = heard(b);

    long t0 = System.nanoTime();
    clusters.get(2).close();
    // c was a Raft server too: a and b keep the quorum, and elect a Raft leader if c was it.
    assertEquals(Optional.of("a"), next(heardByA));
    assertEquals(Optional.of("a"), next(heardByB));
    awaitAgreement("a", List.of(a, b), List.of(0, 1));
    long millis = Duration.ofNanos(System.nanoTime() - t0).toMillis();
    BerthException e = assertThrows(BerthException.class, () -> clusters.get(2).elections().run(t));
    assertEquals(BerthException.Kind.UNAVAILABLE, e.kind());
    System.out.println("leadership passed from the stopped node c to a in " + millis + " ms");
  }
}
