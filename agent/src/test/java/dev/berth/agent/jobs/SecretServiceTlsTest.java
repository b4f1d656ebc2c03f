package dev.berth.agent.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import dev.berth.agent.api.AgentChannels;
import dev.berth.agent.api.ErrorInterceptor;
import dev.berth.agent.api.JobGrpcService;
import dev.berth.agent.api.SecretClient;
import dev.berth.agent.api.SecretGrpcService;
import dev.berth.agent.cluster.CredentialVault;
import dev.berth.agent.cluster.RegistryLogins;
import dev.berth.agent.cluster.Role;
import dev.berth.agent.cluster.SealKey;
import dev.berth.agent.cluster.ServersUnavailableException;
import dev.berth.agent.registry.Credentials;
import dev.berth.agent.tls.NodeIdentityInterceptor;
import dev.berth.agent.tls.TestPki;
import dev.berth.proto.v1.AllocationCredentialRequest;
import dev.berth.proto.v1.CredentialScope;
import dev.berth.proto.v1.FingerprintRequest;
import dev.berth.proto.v1.JobServiceGrpc;
import dev.berth.proto.v1.RegistryCredential;
import dev.berth.proto.v1.SecretServiceGrpc;
import dev.berth.proto.v1.StoredAllocation;
import dev.berth.proto.v1.StoredCredential;
import dev.berth.proto.v1.SubmitJobRequest;
import dev.berth.scheduler.Scheduler;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A registry credential reaches the node its allocation is placed on and no one else: a server
 * holding the seal key serves SecretService over mutual TLS on 127.0.0.1, as berthd does on TCP;
 * plain members (no key) seal, fingerprint and fetch through it with their node certificates, and
 * every other caller is refused with the reason. The replicated state is one in-memory store.
 */
@Timeout(60)
class SecretServiceTlsTest {
  private static final String REGISTRY = "registry.example.com";
  private static final CredentialVault.Scope WEB = CredentialVault.Scope.job("web");

  @TempDir
  Path dir;
  private final FakeNodes cluster = new FakeNodes().node("n1", 2, 4096).node("n2", 2, 4096);
  private final SealKey key = SealKey.generate("test seal key");
  private final CredentialVault serverVault = new CredentialVault(cluster.store, key);
  private final CredentialVault memberVault = new CredentialVault(cluster.store, null);
  private final RegistryLogins logins = new RegistryLogins(cluster.store, memberVault);
  private final Jobs jobs = new Jobs(cluster.jobs, cluster.view(), new Scheduler(), Clock.systemUTC(), () -> { });
  private TestPki pki;
  private Server server;
  private final List<ManagedChannel> channels = new ArrayList<>();
  private final java.util.Map<String, Path> certs = new java.util.HashMap<>();

  @BeforeEach
  void start() throws Exception {
    pki = new TestPki(dir, "cluster-ca");
    serverVault.publish();
    CredentialHandout handout = new CredentialHandout(cluster.jobs, new RegistryLogins(cluster.store, serverVault),
        serverVault);
    server = NettyServerBuilder.forAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
        .sslContext(TestPki.load(cert("s1")).grpcServerContext())
        .addService(ServerInterceptors.intercept(new SecretGrpcService(handout, serverVault), new ErrorInterceptor()))
        .intercept(new NodeIdentityInterceptor(false, NodeIdentityInterceptor.NODE))
        .build().start();
    cluster.registry.register("s1", "10.0.1.1:7946", "127.0.0.1:" + server.getPort(), Role.SERVER, 1);
  }

  @AfterEach
  void stop() throws Exception {
    for (ManagedChannel c : channels) {
      c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  /** A node's certificate directory, made once. */
  private Path cert(String node) {
    return certs.computeIfAbsent(node, n -> {
      try {
        return pki.node(n);
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    });
  }

  /** A plain member's client: no seal key, its own node certificate. */
  private SecretClient member(String node) {
    return new SecretClient(node, cluster.registry, AgentChannels.mutualTls(TestPki.load(cert(node))), memberVault,
        new CredentialHandout(cluster.jobs, logins, memberVault));
  }

  private String submit(String password) throws Exception {
    List<StoredCredential> sealed = member("n2").seal(List.of(new SecretClient.Given(REGISTRY, "berth", password)),
        CredentialVault.Scope.job("web"));
    Jobs.Submitted s = jobs.submit("web.yaml", """
        name: web
        groups:
          - name: web
            count: 1
            image: registry.example.com/team/web:1
            resources: {cpu: 10m, memory: 8m}
        """, sealed);
    return s.version() + (s.changed() ? " changed" : " same");
  }

  /** Places an allocation of {@code job} as the leading server does: tagged with the server's seal key. */
  private void place(String node, String id, String job, boolean stop) {
    StoredAllocation a = StoredAllocation.newBuilder().setId(id).setJob(job).setGroup("web").setNode(node)
        .setDesiredStop(stop).build();
    write(node, new AllocationTags(serverVault).attach(a, JobCodec.job(cluster.jobs.job(job).orElseThrow())));
  }

  /** Writes an allocation into the store as any agent can. */
  private void write(String node, StoredAllocation a) {
    cluster.jobs.updateNode(node, list -> {
      List<StoredAllocation> next = new ArrayList<>(list);
      next.add(a);
      return next;
    });
  }

  private static Status refused(Runnable call) {
    BerthException e = assertThrows(BerthException.class, call::run);
    return Status.fromCode(switch (e.kind()) {
      case PERMISSION_DENIED -> Status.Code.PERMISSION_DENIED;
      case NOT_FOUND -> Status.Code.NOT_FOUND;
      default -> Status.Code.UNKNOWN;
    }).withDescription(e.getMessage());
  }

  private ManagedChannel channel(io.grpc.netty.shaded.io.netty.handler.ssl.SslContext ssl) {
    ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", server.getPort()).sslContext(ssl)
        .overrideAuthority("s1").build();
    channels.add(ch);
    return ch;
  }

  @Test
  void aJobsCredentialIsStoredSealedAndASubmitOfTheSameIsNoNewVersion() throws Exception {
    assertEquals("1 changed", submit("s3cret"));
    byte[] raw = cluster.store.get(JobStore.JOBS, "web").orElseThrow().value();
    assertFalse(new String(raw, StandardCharsets.ISO_8859_1).contains("s3cret"), "the replicated job holds the password");
    // Sealed again (other bytes), fingerprinted by the server for the member: the same credential.
    assertEquals("1 same", submit("s3cret"));
    assertEquals("2 changed", submit("0ther"));
  }

  @Test
  void aFingerprintRequestNamesTheScopeItsCredentialsWereSealedFor() throws Exception {
    var stub = SecretServiceGrpc.newBlockingStub(channel(TestPki.load(cert("n2")).grpcClientContext()))
        .withInterceptors(NodeIdentityInterceptor.asNode("n2")).withDeadlineAfter(10, TimeUnit.SECONDS);
    StoredCredential sealed = memberVault.seal(WEB, REGISTRY, "berth", "s3cret");
    assertEquals(1, stub.fingerprint(FingerprintRequest.newBuilder().addCredentials(sealed)
        .setScope(SecretGrpcService.wire(WEB)).build()).getFingerprintsCount());
    StatusRuntimeException none = assertThrows(StatusRuntimeException.class, () -> stub.fingerprint(
        FingerprintRequest.newBuilder().addCredentials(sealed).build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, none.getStatus().getCode());
    assertEquals("a fingerprint request names the scope the credentials were sealed for (a job, or the cluster's "
        + "logins): they open only as that", none.getStatus().getDescription());
    StatusRuntimeException blank = assertThrows(StatusRuntimeException.class, () -> stub.fingerprint(
        FingerprintRequest.newBuilder().addCredentials(sealed).setScope(CredentialScope.newBuilder().setJob(" "))
            .build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, blank.getStatus().getCode());
    StatusRuntimeException other = assertThrows(StatusRuntimeException.class, () -> stub.fingerprint(
        FingerprintRequest.newBuilder().addCredentials(sealed).setScope(SecretGrpcService.wire(
            CredentialVault.Scope.job("batch"))).build()));
    assertEquals(Status.Code.PERMISSION_DENIED, other.getStatus().getCode());
    assertTrue(other.getStatus().getDescription().contains("was not sealed for job batch"),
        other.getStatus().getDescription());
  }

  /**
   * `berth job run --registry-auth` on a plain member: JobService seals the credential for the job
   * its file names, and a file that does not parse is refused as it is without credentials.
   */
  @Test
  void aSubmitSealsItsCredentialsForTheJobItsFileNames() throws Exception {
    String name = "jobs-" + System.nanoTime();
    Server jobsServer = InProcessServerBuilder.forName(name).directExecutor()
        .addService(ServerInterceptors.intercept(new JobGrpcService(jobs).credentials(member("n2")),
            new ErrorInterceptor()))
        .build().start();
    ManagedChannel ch = InProcessChannelBuilder.forName(name).directExecutor().build();
    try {
      var stub = JobServiceGrpc.newBlockingStub(ch);
      RegistryCredential given = RegistryCredential.newBuilder().setRegistry(REGISTRY).setUsername("berth")
          .setPassword("s3cret").build();
      String file = "name: batch\ngroups:\n  - name: web\n    count: 1\n    image: " + REGISTRY + "/team/web:1\n"
          + "    resources: {cpu: 10m, memory: 8m}\n";
      assertTrue(stub.submit(SubmitJobRequest.newBuilder().setSource("batch.yaml").setText(file).addCredentials(given)
          .build()).getChanged());
      StoredCredential kept = cluster.jobs.job("batch").orElseThrow().getCredentials(0);
      assertEquals("s3cret", serverVault.open(kept, CredentialVault.Scope.job("batch")));
      assertThrows(BerthException.class, () -> serverVault.open(kept, WEB));
      // The same again, sealed anew and fingerprinted by the server for the member: no new version.
      assertFalse(stub.submit(SubmitJobRequest.newBuilder().setSource("batch.yaml").setText(file).addCredentials(given)
          .build()).getChanged());

      String broken = "name: batch\ngroups:\n  - name: web\n    count: many\n";
      StatusRuntimeException plain = assertThrows(StatusRuntimeException.class, () -> stub.submit(
          SubmitJobRequest.newBuilder().setSource("batch.yaml").setText(broken).build()));
      StatusRuntimeException withAuth = assertThrows(StatusRuntimeException.class, () -> stub.submit(
          SubmitJobRequest.newBuilder().setSource("batch.yaml").setText(broken).addCredentials(given).build()));
      assertEquals(Status.Code.INVALID_ARGUMENT, plain.getStatus().getCode());
      assertEquals(plain.getStatus().getCode(), withAuth.getStatus().getCode());
      assertEquals(plain.getStatus().getDescription(), withAuth.getStatus().getDescription());
      assertTrue(plain.getStatus().getDescription().startsWith("batch.yaml"), plain.getStatus().getDescription());
    } finally {
      ch.shutdownNow();
      jobsServer.shutdownNow();
    }
  }

  @Test
  void theAllocationsNodeGetsItsCredential() throws Exception {
    submit("s3cret");
    place("n1", "a1", "web", false);
    Credentials c = member("n1").forAllocation("a1", REGISTRY);
    assertEquals(new Credentials("berth", "s3cret"), c);
  }

  @Test
  void anAllocationAMemberWroteForItselfIsRefused() throws Exception {
    submit("s3cret");
    write("n2", StoredAllocation.newBuilder().setId("a2").setJob("web").setGroup("web").setNode("n2").build());
    Status s = refused(() -> member("n2").forAllocation("a2", REGISTRY));
    assertEquals(Status.Code.PERMISSION_DENIED, s.getCode());
    assertTrue(s.getDescription().startsWith("cannot get the credential of allocation a2 for registry "
        + "registry.example.com: server s1: the registry credential of allocation a2 is not handed to node n2: it "
        + "carries no placement tag"), s.getDescription());
  }

  @Test
  void anotherNodeIsRefused() throws Exception {
    submit("s3cret");
    place("n1", "a1", "web", false);
    Status s = refused(() -> member("n2").forAllocation("a1", REGISTRY));
    assertEquals(Status.Code.PERMISSION_DENIED, s.getCode());
    assertEquals("cannot get the credential of allocation a1 for registry registry.example.com: server s1: the registry "
        + "credential of allocation a1 is not for node n2: the allocation is not placed on it", s.getDescription());
  }

  @Test
  void anotherNodesCertificateCannotClaimTheAllocationsNode() throws Exception {
    submit("s3cret");
    place("n1", "a1", "web", false);
    var stub = SecretServiceGrpc.newBlockingStub(channel(TestPki.load(cert("n2")).grpcClientContext()))
        .withInterceptors(NodeIdentityInterceptor.asNode("n1")).withDeadlineAfter(10, TimeUnit.SECONDS);
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> stub.allocationCredential(
        AllocationCredentialRequest.newBuilder().setAllocationId("a1").setRegistry(REGISTRY).build()));
    assertEquals(Status.Code.PERMISSION_DENIED, e.getStatus().getCode());
    assertEquals("a call as node n1 refused: the certificate CN=n2,O=berth names n2, localhost, not the node n1",
        e.getStatus().getDescription());
  }

  @Test
  void aClientCertificateIsRefusedWithOrWithoutAClaim() throws Exception {
    submit("s3cret");
    place("n1", "a1", "web", false);
    Path me = pki.client("admin");
    ManagedChannel ch = channel(GrpcSslContexts.forClient().keyManager(me.resolve("cert.pem").toFile(),
        me.resolve("key.pem").toFile()).trustManager(me.resolve("ca.pem").toFile()).build());
    AllocationCredentialRequest req = AllocationCredentialRequest.newBuilder().setAllocationId("a1").setRegistry(REGISTRY)
        .build();
    StatusRuntimeException plain = assertThrows(StatusRuntimeException.class, () -> SecretServiceGrpc.newBlockingStub(ch)
        .withDeadlineAfter(10, TimeUnit.SECONDS).allocationCredential(req));
    assertEquals(Status.Code.PERMISSION_DENIED, plain.getStatus().getCode());
    assertEquals("the registry credential of allocation a1 is handed only to the node it is placed on, asked as that "
        + "node (with its node certificate over mutual TLS); this call was made as no node", plain.getStatus().getDescription());
    StatusRuntimeException claiming = assertThrows(StatusRuntimeException.class, () -> SecretServiceGrpc.newBlockingStub(ch)
        .withInterceptors(NodeIdentityInterceptor.asNode("n1")).withDeadlineAfter(10, TimeUnit.SECONDS)
        .allocationCredential(req));
    assertEquals(Status.Code.PERMISSION_DENIED, claiming.getStatus().getCode());
    assertTrue(claiming.getStatus().getDescription().contains("is a client certificate"),
        claiming.getStatus().getDescription());
    StatusRuntimeException prints = assertThrows(StatusRuntimeException.class, () -> SecretServiceGrpc.newBlockingStub(ch)
        .withDeadlineAfter(10, TimeUnit.SECONDS).fingerprint(FingerprintRequest.newBuilder()
            .addCredentials(memberVault.seal(WEB, REGISTRY, "berth", "guess")).setScope(SecretGrpcService.wire(WEB))
            .build()));
    assertEquals(Status.Code.PERMISSION_DENIED, prints.getStatus().getCode());
  }

  @Test
  void anAllocationToStopGetsNothing() throws Exception {
    submit("s3cret");
    place("n1", "a3", "web", true);
    Status s = refused(() -> member("n1").forAllocation("a3", REGISTRY));
    assertEquals(Status.Code.PERMISSION_DENIED, s.getCode());
    assertTrue(s.getDescription().endsWith("the allocation is to stop on node n1"), s.getDescription());
  }

  @Test
  void withoutAJobCredentialTheClustersLoginIsHandedOut() throws Exception {
    jobs.submit("web.yaml", """
        name: web
        groups:
          - name: web
            count: 1
            image: other.example.com/web:1
            resources: {cpu: 10m, memory: 8m}
        """, List.of());
    logins.put("other.example.com", "team", "l0gin");
    place("n1", "a1", "web", false);
    assertEquals(new Credentials("team", "l0gin"), member("n1").forAllocation("a1", "other.example.com"));
    Status s = refused(() -> member("n1").forAllocation("a1", "third.example.com"));
    assertEquals(Status.Code.PERMISSION_DENIED, s.getCode());
    assertTrue(s.getDescription().endsWith("the registry credential of allocation a1 is only for registry "
        + "other.example.com, which its image other.example.com/web:1 is pulled from, not for third.example.com"),
        s.getDescription());
    logins.remove("other.example.com");
    s = refused(() -> member("n1").forAllocation("a1", "other.example.com"));
    assertEquals(Status.Code.NOT_FOUND, s.getCode());
    assertTrue(s.getDescription().endsWith("neither job web nor the cluster's logins have a credential for registry "
        + "other.example.com"), s.getDescription());
  }

  @Test
  void aMemberWithNoServerToAskSaysWhy() throws Exception {
    submit("s3cret");
    place("n1", "a1", "web", false);
    cluster.registry.register("s1", "10.0.1.1:7946", "", Role.SERVER, 1);
    BerthException e = assertThrows(BerthException.class, () -> member("n1").forAllocation("a1", REGISTRY));
    assertEquals("cannot get the credential of allocation a1 for registry registry.example.com: no server of the "
        + "cluster could answer: s1 serves no API on TCP (--tcp)", e.getMessage());
    assertEquals(BerthException.Kind.FAILED_PRECONDITION, e.kind(), "a setup to fix, not a wait");
  }

  @Test
  void aMemberWhoseServersAreAllUnreachableIsToldToTryAgain() throws Exception {
    submit("s3cret");
    place("n1", "a1", "web", false);
    int closed;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      closed = s.getLocalPort();
    }
    cluster.registry.register("s1", "10.0.1.1:7946", "127.0.0.1:" + closed, Role.SERVER, 1);
    BerthException e = assertThrows(BerthException.class, () -> member("n1").forAllocation("a1", REGISTRY));
    assertTrue(e instanceof ServersUnavailableException, e.getClass() + ": " + e.getMessage());
    assertEquals(BerthException.Kind.UNAVAILABLE, e.kind());
    assertTrue(e.getMessage().startsWith("cannot get the credential of allocation a1 for registry registry.example.com:"
        + " no server of the cluster could answer: s1: "), e.getMessage());
  }
}
