package dev.berth.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.cluster.ClusterConfig;
import dev.berth.agent.cluster.Endpoint;
import dev.berth.agent.tls.TestPki;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Plaintext TCP only when asked for: which --tcp and cluster addresses berthd accepts with and without TLS. */
@Timeout(30)
class AgentMainTlsFlagsTest {
  @TempDir
  Path dir;

  @ParameterizedTest(name = "--tcp {0} tls={1} plaintext={2}")
  @CsvSource({
      "127.0.0.1:2377, true,  false, ",
      "0.0.0.0:2377,   true,  false, ",
      "127.0.0.1:2377, false, true,  ",
      "127.0.0.1:2377, false, false, give --tls-ca",
      "0.0.0.0:2377,   false, true,  refusing to serve the API on 0.0.0.0:2377 without TLS",
      "0.0.0.0:2377,   false, false, refusing to serve the API on 0.0.0.0:2377 without TLS",
      "nonsense,       true,  false, expected HOST:PORT",
  })
  void theApiOnTcp(String address, boolean tls, boolean plaintext, String refusal) {
    if (refusal == null) {
      assertEquals(address.substring(address.lastIndexOf(':') + 1),
          String.valueOf(AgentMain.parseTcp(address, tls, plaintext).getPort()));
    } else {
      BerthException e = assertThrows(BerthException.class, () -> AgentMain.parseTcp(address, tls, plaintext));
      assertTrue(e.getMessage().contains(refusal), e.getMessage());
    }
  }

  private ClusterConfig config(String advertise, List<Endpoint> join) {
    return new ClusterConfig("c", "a", Endpoint.parse("--advertise", advertise), join, join.isEmpty(), join.isEmpty() ? List.of("a")
        : List.of(), dir.resolve("cluster"), ClusterConfig.DEFAULT_FAILURE_TIMEOUT, ClusterConfig.DEFAULT_GRACE_PERIOD);
  }

  @Test
  void plaintextClusterMessagingEvenOnLoopbackMustBeAskedFor() {
    ClusterConfig c = config("127.0.0.1:7946", List.of(new Endpoint("127.0.0.1", 7947)));
    BerthException e = assertThrows(BerthException.class, () -> AgentMain.clusterConfig(c, null, false));
    assertTrue(e.getMessage().startsWith("refusing plaintext cluster messaging (Raft) on 127.0.0.1:7946: any local"
        + " process could write the cluster's state"), e.getMessage());
    assertSame(c, AgentMain.clusterConfig(c, null, true));
    assertNull(c.tls());
  }

  @Test
  void aClusterOfItsOwnMakesItsOwnCertificateWhenItStarts() {
    ClusterConfig c = AgentMain.clusterConfig(config("127.0.0.1:7946", List.of()), null, false);
    assertTrue(c.tls().selfSigned(), c.tls().toString());
    assertEquals(dir.resolve("cluster").resolve("tls").resolve("self").resolve("node.p12"), c.tls().keyStore());
    assertTrue(java.nio.file.Files.notExists(c.tls().keyStore()), "made by the cluster's start-up thread, not here");
    ClusterConfig asked = config("127.0.0.1:7946", List.of());
    assertSame(asked, AgentMain.clusterConfig(asked, null, true), "--tls-plaintext keeps it plaintext");
  }

  @Test
  void plaintextClusterMessagingBeyondLoopbackMustBeAskedFor() {
    ClusterConfig c = config("10.1.2.3:7946", List.of(new Endpoint("10.1.2.4", 7946)));
    BerthException e = assertThrows(BerthException.class, () -> AgentMain.clusterConfig(c, null, false));
    assertTrue(e.getMessage().startsWith("refusing plaintext cluster messaging (Raft) with [10.1.2.3:7946, 10.1.2.4:7946]"),
        e.getMessage());
    assertSame(c, AgentMain.clusterConfig(c, null, true));
  }

  @Test
  void withTlsTheMessagingUsesKeyStoresUnderTheDataDir() throws Exception {
    Path node = new TestPki(dir, "ca").node("a");
    ClusterConfig c = AgentMain.clusterConfig(config("10.1.2.3:7946", List.of(new Endpoint("10.1.2.4", 7946))), TestPki.load(node),
        false);
    assertEquals(dir.resolve("cluster").resolve("tls").resolve("node.p12"), c.tls().keyStore());
    assertTrue(java.nio.file.Files.size(c.tls().trustStore()) > 0);
    assertEquals(Duration.ofSeconds(3), c.failureTimeout());
  }
}
