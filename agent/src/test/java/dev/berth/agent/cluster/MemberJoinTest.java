package dev.berth.agent.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.it.AgentProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A plain member whose join does not complete begins it again with a fresh Atomix node, and a
 * later attempt joins: here the member starts before its only server, with a 2 s attempt, so its
 * first attempts time out; once the server is up the member is ready and registered.
 */
@Tag("cluster")
class MemberJoinTest {
  private final List<Cluster> clusters = new ArrayList<>();
  private Path dir;

  @AfterEach
  void stop() throws Exception {
    clusters.forEach(Cluster::close);
    if (dir != null) {
      try (Stream<Path> w = Files.walk(dir)) {
        for (Path p : (Iterable<Path>) w.sorted(Comparator.reverseOrder())::iterator) {
          Files.deleteIfExists(p);
        }
      }
    }
  }

  @Test
  @Timeout(240)
  void aMemberBeginsItsJoinAgainUntilItsServerAnswers() throws Exception {
    dir = Files.createTempDirectory("berth-join-test");
    Endpoint serverAt = new Endpoint("127.0.0.1", AgentProcess.freeClusterPort());
    Endpoint memberAt = new Endpoint("127.0.0.1", AgentProcess.freeClusterPort());
    ClusterConfig memberConfig = new ClusterConfig("join", "m", memberAt, List.of(serverAt), false, List.of(),
        dir.resolve("m"), ClusterConfig.DEFAULT_FAILURE_TIMEOUT, ClusterConfig.DEFAULT_GRACE_PERIOD);
    Cluster member = new Cluster(memberConfig, facts("m"), Duration.ofSeconds(2));
    clusters.add(member);
    member.start();

    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (member.joinAttempts() < 3 && System.nanoTime() < deadline) {
      Thread.sleep(100);
    }
    assertTrue(member.joinAttempts() >= 3, "attempts so far: " + member.joinAttempts());
    assertEquals(ClusterStatus.Phase.STARTING, member.status().phase(), String.valueOf(member.status()));

    ClusterConfig serverConfig = new ClusterConfig("join", "s", serverAt, List.of(), true, List.of("s"),
        dir.resolve("s"), ClusterConfig.DEFAULT_FAILURE_TIMEOUT, ClusterConfig.DEFAULT_GRACE_PERIOD);
    Cluster server = new Cluster(serverConfig, facts("s"));
    clusters.add(server);
    server.start();
    assertTrue(server.awaitReady(Duration.ofSeconds(120)), "server not ready: " + server.status());
    assertTrue(member.awaitReady(Duration.ofSeconds(120)), "member not ready: " + member.status());
    assertEquals(1, server.joinAttempts());

    deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (server.nodes().get("m").isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(100);
    }
    assertEquals(Role.MEMBER, server.nodes().get("m").orElseThrow().role());
  }

  private static java.util.function.Supplier<NodeFacts> facts(String node) {
    return () -> new NodeFacts(node, 1, 1, 1, 1, List.of(), List.of(), System.currentTimeMillis());
  }
}
