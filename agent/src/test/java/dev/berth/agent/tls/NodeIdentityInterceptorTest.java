package dev.berth.agent.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.berth.proto.v1.ClusterServiceGrpc;
import dev.berth.proto.v1.ClusterStatus;
import dev.berth.proto.v1.ClusterStatusRequest;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A call made as a node ({@code berth-node: NAME}) to an agent serving mutual TLS as berthd does
 * on TCP, on 127.0.0.1: it is served only with a node certificate of the cluster CA that names
 * that node, and the service then knows the caller; a call that claims no node is served as
 * before. The service answers with the caller it was told, or "-".
 */
@Timeout(60)
class NodeIdentityInterceptorTest {
  @TempDir
  Path dir;
  private TestPki cluster;
  private final List<Server> servers = new ArrayList<>();
  private final List<ManagedChannel> channels = new ArrayList<>();
  private int port;

  private static final ClusterServiceGrpc.ClusterServiceImplBase WHO = new ClusterServiceGrpc.ClusterServiceImplBase() {
    @Override
    public void status(ClusterStatusRequest request, StreamObserver<ClusterStatus> response) {
      response.onNext(ClusterStatus.newBuilder().setNode(NodeIdentityInterceptor.caller().orElse("-")).build());
      response.onCompleted();
    }
  };

  @BeforeEach
  void start() throws Exception {
    cluster = new TestPki(dir, "cluster-ca");
    Server s = NettyServerBuilder.forAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
        .sslContext(TestPki.load(cluster.node("a")).grpcServerContext())
        .addService(WHO)
        .intercept(new NodeIdentityInterceptor())
        .build().start();
    servers.add(s);
    port = s.getPort();
  }

  @AfterEach
  void stop() throws Exception {
    for (ManagedChannel c : channels) {
      c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    for (Server s : servers) {
      s.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  private Channel tls(SslContext ssl) {
    ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", port).sslContext(ssl).build();
    channels.add(ch);
    return ch;
  }

  private SslContext clientCertificate(String name) throws Exception {
    Path me = cluster.client(name);
    return GrpcSslContexts.forClient().keyManager(me.resolve("cert.pem").toFile(), me.resolve("key.pem").toFile())
        .trustManager(me.resolve("ca.pem").toFile()).build();
  }

  private static String who(Channel ch) {
    return ClusterServiceGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
        .status(ClusterStatusRequest.getDefaultInstance()).getNode();
  }

  private static Status refused(Channel ch) {
    return assertThrows(StatusRuntimeException.class, () -> who(ch)).getStatus();
  }

  @Test
  void aNodeCallingAsItselfIsServedAndKnown() throws Exception {
    Channel b = tls(TestPki.load(cluster.node("b")).grpcClientContext());
    assertEquals("b", who(ClientInterceptors.intercept(b, NodeIdentityInterceptor.asNode("b"))));
    // Any name the certificate gives counts (TestPki adds the DNS name localhost).
    assertEquals("localhost", who(ClientInterceptors.intercept(b, NodeIdentityInterceptor.asNode("localhost"))));
  }

  @Test
  void aNodeCallingAsAnotherNodeIsRefused() throws Exception {
    Channel b = tls(TestPki.load(cluster.node("b")).grpcClientContext());
    Status s = refused(ClientInterceptors.intercept(b, NodeIdentityInterceptor.asNode("c")));
    assertEquals(Status.Code.PERMISSION_DENIED, s.getCode());
    assertEquals("a call as node c refused: the certificate CN=b,O=berth names b, localhost, not the node c",
        s.getDescription());
  }

  @Test
  void aClientCertificateNeverPassesForANode() throws Exception {
    // A user certificate under a node's name: enough for the API, never for a node's identity.
    Channel user = tls(clientCertificate("b"));
    Status s = refused(ClientInterceptors.intercept(user, NodeIdentityInterceptor.asNode("b")));
    assertEquals(Status.Code.PERMISSION_DENIED, s.getCode());
    assertEquals("a call as node b refused: the certificate CN=b,O=berth is a client certificate "
        + "('berth cert client'); a node needs one made by 'berth cert node b' (extendedKeyUsage serverAuth and clientAuth)",
        s.getDescription());
    assertEquals("-", who(user), "the same certificate claiming no node is the CLI's, served as before");
  }

  @Test
  void aCallClaimingNoNodeIsServedAsBefore() throws Exception {
    assertEquals("-", who(tls(TestPki.load(cluster.node("b")).grpcClientContext())));
  }

  @Test
  void aCallNamingTwoNodesIsRefused() throws Exception {
    Metadata two = new Metadata();
    two.put(NodeIdentityInterceptor.NODE, "b");
    two.put(NodeIdentityInterceptor.NODE, "localhost");
    Channel b = tls(TestPki.load(cluster.node("b")).grpcClientContext());
    Status s = refused(ClientInterceptors.intercept(b, MetadataUtils.newAttachHeadersInterceptor(two)));
    assertEquals(Status.Code.PERMISSION_DENIED, s.getCode());
    assertEquals("a call is made as one node; got [berth-node: b, berth-node: localhost]", s.getDescription());
  }

  @Test
  void withoutTlsNoCallActsAsANode() throws Exception {
    // As on berthd's unix socket: no certificate, so no node identity, whatever the header says.
    String name = InProcessServerBuilder.generateName();
    servers.add(InProcessServerBuilder.forName(name).addService(WHO).intercept(new NodeIdentityInterceptor()).build().start());
    ManagedChannel ch = InProcessChannelBuilder.forName(name).build();
    channels.add(ch);
    Status s = refused(ClientInterceptors.intercept(ch, NodeIdentityInterceptor.asNode("b")));
    assertEquals(Status.Code.UNAUTHENTICATED, s.getCode());
    assertEquals("a call as node b needs mutual TLS with the node's certificate; this connection has no TLS",
        s.getDescription());
    assertEquals("-", who(ch));
  }

  @Test
  void anyHeaderTheServerNamesIsAClaimToo() throws Exception {
    // As berthd names the header of a forwarded call, which says which node forwarded it.
    Metadata.Key<String> forwardedBy = Metadata.Key.of("berth-forwarded", Metadata.ASCII_STRING_MARSHALLER);
    String name = InProcessServerBuilder.generateName();
    servers.add(InProcessServerBuilder.forName(name).addService(WHO)
        .intercept(new NodeIdentityInterceptor(false, NodeIdentityInterceptor.NODE, forwardedBy)).build().start());
    ManagedChannel ch = InProcessChannelBuilder.forName(name).build();
    channels.add(ch);
    Metadata forwarded = new Metadata();
    forwarded.put(forwardedBy, "b");
    assertEquals(Status.Code.UNAUTHENTICATED, refused(ClientInterceptors.intercept(ch,
        MetadataUtils.newAttachHeadersInterceptor(forwarded))).getCode());

    Server tlsServer = NettyServerBuilder.forAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
        .sslContext(TestPki.load(cluster.node("x")).grpcServerContext())
        .addService(WHO)
        .intercept(new NodeIdentityInterceptor(false, NodeIdentityInterceptor.NODE, forwardedBy))
        .build().start();
    servers.add(tlsServer);
    ManagedChannel b = NettyChannelBuilder.forAddress("127.0.0.1", tlsServer.getPort())
        .sslContext(TestPki.load(cluster.node("b")).grpcClientContext()).build();
    channels.add(b);
    assertEquals("b", who(ClientInterceptors.intercept(b, MetadataUtils.newAttachHeadersInterceptor(forwarded))));
    Metadata lying = new Metadata();
    lying.put(forwardedBy, "c");
    assertEquals(Status.Code.PERMISSION_DENIED, refused(ClientInterceptors.intercept(b,
        MetadataUtils.newAttachHeadersInterceptor(lying))).getCode());
    Metadata two = new Metadata();
    two.put(forwardedBy, "b");
    two.put(NodeIdentityInterceptor.NODE, "localhost");
    assertEquals("a call is made as one node; got [berth-node: localhost, berth-forwarded: b]",
        refused(ClientInterceptors.intercept(b, MetadataUtils.newAttachHeadersInterceptor(two))).getDescription());
  }

  @Test
  void onPlaintextTcpUnderTlsPlaintextAClaimIsTakenAsItIs() throws Exception {
    // Nothing is authenticated there (berthd serves it only when --tls-plaintext asks for it).
    String name = InProcessServerBuilder.generateName();
    servers.add(InProcessServerBuilder.forName(name).addService(WHO)
        .intercept(new NodeIdentityInterceptor(true, NodeIdentityInterceptor.NODE)).build().start());
    ManagedChannel ch = InProcessChannelBuilder.forName(name).build();
    channels.add(ch);
    assertEquals("b", who(ClientInterceptors.intercept(ch, NodeIdentityInterceptor.asNode("b"))));
  }
}
