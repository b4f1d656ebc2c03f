package dev.berth.ctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.ctl.cert.CertificateAuthority;
import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerStatus;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.ClientAuth;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CLI over mutual TLS against a real gRPC server on 127.0.0.1 (Netty, as berthd serves TCP)
 * that requires a client certificate of the cluster CA: the right certificate works by flags
 * and by BERTH_CERT_PATH; no certificate, one of another CA, or an agent of another CA fail with
 * a message about TLS.
 */
@Timeout(60)
class TlsTransportTest {
  @TempDir
  Path dir;
  private final FakeDaemon daemon = new FakeDaemon();
  private Server server;
  private String host;

  @BeforeEach
  void start() throws Exception {
    CertificateAuthority ca = CertificateAuthority.create("test-ca", Duration.ofDays(1), Clock.systemUTC());
    ca.writeTo(dir.resolve("ca"));
    ca.issueNode("agent", List.of(), List.of(InetAddress.getByName("127.0.0.1")), Duration.ofDays(1)).writeTo(dir.resolve("agent"));
    ca.issueClient("me", Duration.ofDays(1)).writeTo(dir.resolve("me"));
    CertificateAuthority other = CertificateAuthority.create("other-ca", Duration.ofDays(1), Clock.systemUTC());
    other.issueClient("me", Duration.ofDays(1)).writeTo(dir.resolve("stranger"));
    other.issueNode("agent", List.of(), List.of(InetAddress.getByName("127.0.0.1")), Duration.ofDays(1))
        .writeTo(dir.resolve("impostor"));
    daemon.containers.put("c1", Container.newBuilder().setId("c1").setName("web").setStatus(ContainerStatus.RUNNING).build());
    server = serve(dir.resolve("agent"));
  }

  private Server serve(Path identity) throws Exception {
    NettyServerBuilder b = NettyServerBuilder.forAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
        .sslContext(GrpcSslContexts.forServer(identity.resolve("cert.pem").toFile(), identity.resolve("key.pem").toFile())
            .trustManager(dir.resolve("ca").resolve("ca.pem").toFile())
            .clientAuth(ClientAuth.REQUIRE)
            .build());
    daemon.services().forEach(b::addService);
    Server s = b.build().start();
    host = "tcp://127.0.0.1:" + s.getPort();
    return s;
  }

  @AfterEach
  void stop() throws Exception {
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  private CliRunner.Result berth(java.util.Map<String, String> env, String... args) throws Exception {
    try (CliRunner r = new CliRunner()) {
      r.connector = DaemonAddress::connect;
      r.fastPath = false;
      r.env.putAll(env);
      return r.run(args);
    }
  }

  @Test
  void theRightCertificateByFlags() throws Exception {
    Path me = dir.resolve("me");
    CliRunner.Result r = berth(java.util.Map.of(), "-H", host, "--tlscacert", me.resolve("ca.pem").toString(),
        "--tlscert", me.resolve("cert.pem").toString(), "--tlskey", me.resolve("key.pem").toString(), "ps", "-q");
    assertEquals(0, r.code(), r.err());
    assertEquals("c1\n", r.out());
  }

  @Test
  void theRightCertificateByEnvironment() throws Exception {
    CliRunner.Result r = berth(java.util.Map.of("BERTH_HOST", host, "BERTH_CERT_PATH", dir.resolve("me").toString()), "ps", "-q");
    assertEquals(0, r.code(), r.err());
    assertEquals("c1\n", r.out());
  }

  @Test
  void theFastPathToo() throws Exception {
    try (CliRunner r = new CliRunner()) {
      r.connector = DaemonAddress::connect;
      r.env.put("BERTH_CERT_PATH", dir.resolve("me").toString());
      CliRunner.Result res = r.run("-H", host, "--tlsverify", "ps", "-q");
      assertEquals(0, res.code(), res.err());
      assertEquals("c1\n", res.out());
    }
  }

  @Test
  void plaintextIsRefusedByTheServer() throws Exception {
    CliRunner.Result r = berth(java.util.Map.of(), "-H", host, "ps");
    assertEquals(1, r.code());
    assertTrue(r.out().isEmpty(), r.out());
  }

  @Test
  void aCertificateOfAnotherCaIsRefused() throws Exception {
    CliRunner.Result r = berth(java.util.Map.of(), "-H", host, "--tlscacert", dir.resolve("me").resolve("ca.pem").toString(),
        "--tlscert", dir.resolve("stranger").resolve("cert.pem").toString(),
        "--tlskey", dir.resolve("stranger").resolve("key.pem").toString(), "ps");
    assertEquals(1, r.code());
    assertTrue(r.out().isEmpty(), r.out());
    assertTrue(r.err().contains("closed the TLS connection: it accepts only client certificates of its cluster CA"), r.err());
  }

  @Test
  void anAgentOfAnotherCaIsNotTrusted() throws Exception {
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server = serve(dir.resolve("impostor"));
    CliRunner.Result r = berth(java.util.Map.of("BERTH_CERT_PATH", dir.resolve("me").toString()), "-H", host, "ps");
    assertEquals(1, r.code());
    assertTrue(r.err().startsWith("TLS handshake with the Berth daemon at " + host + " failed"), r.err());
  }

  @Test
  void missingFilesAreNamed() throws Exception {
    Path none = dir.resolve("none");
    CliRunner.Result r = berth(java.util.Map.of("BERTH_CERT_PATH", none.toString()), "-H", host, "ps");
    assertEquals(1, r.code());
    assertTrue(r.err().contains(none.resolve("ca.pem").toString()), r.err());
  }

  @Test
  void tlsFlagsOnTheUnixSocketAreAMistake() throws Exception {
    CliRunner.Result r = berth(java.util.Map.of(), "-H", "unix:///run/nothere.sock", "--tlsverify", "ps");
    assertEquals(1, r.code());
    assertTrue(r.err().contains("TLS applies to tcp:// hosts only"), r.err());
  }
}
