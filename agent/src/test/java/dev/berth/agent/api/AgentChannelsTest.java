package dev.berth.agent.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import dev.berth.agent.tls.TestPki;
import dev.berth.agent.tls.TlsMaterial;
import dev.berth.proto.v1.ContainerRef;
import dev.berth.proto.v1.ContainerServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * How one agent dials another to forward a request, over real TCP on loopback: with TLS the peer
 * must hold a certificate of the cluster CA naming the node dialled, and this agent presents its
 * own node certificate; without TLS only plaintext when asked for, else no channel at all. A call
 * that gets through the handshake reaches a server without services: UNIMPLEMENTED.
 */
@Timeout(30)
class AgentChannelsTest {
  @TempDir
  Path dir;

  private static Server serve(io.grpc.netty.shaded.io.netty.handler.ssl.SslContext tls) throws Exception {
    NettyServerBuilder b = NettyServerBuilder.forAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    if (tls != null) {
      b.sslContext(tls);
    }
    // No method of the container API: a call that gets through the handshake answers UNIMPLEMENTED.
    b.addService(io.grpc.ServerServiceDefinition.builder("placeholder").build());
    return b.build().start();
  }

  private static Status.Code call(ContainerForwarder.Channels channels, String node, Server server) {
    ManagedChannel ch = channels.open(node, "127.0.0.1:" + server.getPort());
    try {
      ContainerServiceGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
          .inspect(ContainerRef.newBuilder().setId("x").build());
      return Status.Code.OK;
    } catch (StatusRuntimeException e) {
      return e.getStatus().getCode();
    } finally {
      ch.shutdownNow();
    }
  }

  @Test
  void mutualTlsReachesTheNodeDialledAndNoOther() throws Exception {
    TestPki cluster = new TestPki(dir, "cluster-ca");
    TestPki other = new TestPki(dir, "other-ca");
    TlsMaterial a = TestPki.load(cluster.node("a"));
    TlsMaterial b = TestPki.load(cluster.node("b"));
    Server server = serve(b.grpcServerContext());
    try {
      ContainerForwarder.Channels fromA = AgentChannels.of(a, false);
      assertEquals(Status.Code.UNIMPLEMENTED, call(fromA, "b", server), "a reaches b with its node certificate");
      assertEquals(Status.Code.UNAVAILABLE, call(fromA, "c", server), "the address reaches b, not c: refused");
      TlsMaterial stranger = TestPki.load(other.node("a"));
      assertEquals(Status.Code.UNAVAILABLE, call(AgentChannels.of(stranger, false), "b", server), "another CA's node");
    } finally {
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void plaintextOnlyWhenThisAgentServesPlaintextItself() throws Exception {
    Server server = serve(null);
    try {
      assertEquals(Status.Code.UNIMPLEMENTED, call(AgentChannels.of(null, true), "b", server));
      BerthException e = assertThrows(BerthException.class, () -> AgentChannels.of(null, false).open("b", "127.0.0.1:1"));
      assertEquals(BerthException.Kind.FAILED_PRECONDITION, e.kind());
      assertTrue(e.getMessage().contains("--tls-plaintext"), e.getMessage());
    } finally {
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }
}
