package dev.berth.agent.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.berth.proto.v1.ClusterServiceGrpc;
import dev.berth.proto.v1.ClusterStatus;
import dev.berth.proto.v1.ClusterStatusRequest;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.stub.StreamObserver;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The API on TCP as berthd serves it with TLS ({@link TlsMaterial#grpcServerContext()}) on
 * 127.0.0.1: a client with a certificate of the cluster CA is served; without a certificate, with
 * one of another CA, or in plaintext it is refused before any call reaches a service.
 */
@Timeout(60)
class GrpcTlsTest {
  @TempDir
  Path dir;
  private TestPki cluster;
  private TestPki other;
  private Server server;
  private int port;
  private volatile int served;

  @BeforeEach
  void start() throws Exception {
    cluster = new TestPki(dir, "cluster-ca");
    other = new TestPki(dir, "other-ca");
    server = NettyServerBuilder.forAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
        .sslContext(TestPki.load(cluster.node("a")).grpcServerContext())
        .addService(new ClusterServiceGrpc.ClusterServiceImplBase() {
          @Override
          public void status(ClusterStatusRequest request, StreamObserver<ClusterStatus> response) {
            served++;
            response.onNext(ClusterStatus.newBuilder().setCluster("test").build());
            response.onCompleted();
          }
        })
        .build().start();
    port = server.getPort();
  }

  @AfterEach
  void stop() throws Exception {
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  private ClusterStatus call(SslContext ssl) throws Exception {
    NettyChannelBuilder b = NettyChannelBuilder.forAddress("127.0.0.1", port);
    ManagedChannel ch = (ssl == null ? b.usePlaintext() : b.sslContext(ssl)).build();
    try {
      return ClusterServiceGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
          .status(ClusterStatusRequest.getDefaultInstance());
    } finally {
      ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void anotherNodeOfTheClusterIsServed() throws Exception {
    assertEquals("test", call(TestPki.load(cluster.node("b")).grpcClientContext()).getCluster());
  }

  @Test
  void aClientCertificateOfTheClusterCaIsServed() throws Exception {
    Path me = cluster.client("me");
    assertEquals("test", call(GrpcSslContexts.forClient().keyManager(me.resolve("cert.pem").toFile(), me.resolve("key.pem").toFile())
        .trustManager(me.resolve("ca.pem").toFile()).build()).getCluster());
  }

  @Test
  void withoutAClientCertificateIsRefused() throws Exception {
    Path ca = dir.resolve("cluster-ca").resolve("ca.pem");
    refused(GrpcSslContexts.forClient().trustManager(ca.toFile()).build());
  }

  @Test
  void aClientCertificateOfAnotherCaIsRefused() throws Exception {
    Path stranger = other.client("me");
    Path ca = dir.resolve("cluster-ca").resolve("ca.pem");
    refused(GrpcSslContexts.forClient().keyManager(stranger.resolve("cert.pem").toFile(), stranger.resolve("key.pem").toFile())
        .trustManager(ca.toFile()).build());
  }

  @Test
  void aNodeOfAnotherCaIsRefused() throws Exception {
    refused(TestPki.load(other.node("b")).grpcClientContext());
  }

  @Test
  void plaintextIsRefused() throws Exception {
    refused(null);
  }

  private void refused(SslContext ssl) {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> call(ssl));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.toString());
    assertEquals(0, served, "a refused client reached the service");
  }
}
