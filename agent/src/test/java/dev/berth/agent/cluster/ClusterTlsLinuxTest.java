package dev.berth.agent.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.agent.it.AgentProcess;
import dev.berth.agent.it.Linux;
import dev.berth.agent.tls.TestPki;
import dev.berth.proto.v1.AllocationCredentialRequest;
import dev.berth.proto.v1.AllocationInfo;
import dev.berth.proto.v1.AllocationState;
import dev.berth.proto.v1.ClusterServiceGrpc;
import dev.berth.proto.v1.JobRef;
import dev.berth.proto.v1.JobServiceGrpc;
import dev.berth.proto.v1.RegistryCredential;
import dev.berth.proto.v1.SecretServiceGrpc;
import dev.berth.proto.v1.StopJobRequest;
import dev.berth.proto.v1.SubmitJobRequest;
import dev.berth.proto.v1.SubmitJobResponse;
import dev.berth.proto.v1.ClusterStatus;
import dev.berth.proto.v1.ClusterStatusRequest;
import dev.berth.proto.v1.ListNodesRequest;
import dev.berth.proto.v1.Node;
import dev.berth.proto.v1.NodeRef;
import dev.berth.proto.v1.NodeServiceGrpc;
import dev.berth.proto.v1.NodeStatus;
import dev.berth.proto.v1.UpdateNodeRequest;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
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
 * A cluster over mutual TLS, with real berthd processes on 127.0.0.1: a one-server cluster "a"
 * (also serving its API on TCP with TLS) and a plain member "b", both with certificates of the
 * cluster CA, form and work; an agent "r" with a certificate of another CA tries to join them
 * and is refused — its messaging never gets through, so it never registers, and the others never
 * list it, whatever its UDP gossip says. The API on TCP refuses clients without a certificate of
 * the cluster CA. A job's registry credential submitted through the member is kept sealed, and a
 * (which holds the seal key) hands it to b over mutual TLS for b's allocation alone.
 */
@Tag("cluster")
@Timeout(240)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterTlsLinuxTest {
  /** A one-server cluster measured 0.8-2 s to start, a joining member a few more; room for a busy host. */
  private static final long START_SECONDS = 90;
  private Path pkiDir;
  private TestPki cluster;
  private AgentProcess a;
  private AgentProcess b;
  private AgentProcess rogue;
  private int apiPort;
  private final List<AgentProcess> all = new ArrayList<>();

  @BeforeAll
  @Timeout(300) // a cluster's start-up, slower on a machine busy with other tests
  void startCluster() throws Exception {
    assumeTrue(Linux.isRoot(), "berthd needs root (cgroups, mounts)");
    pkiDir = Files.createTempDirectory("berth-tls");
    cluster = new TestPki(pkiDir, "cluster-ca");
    TestPki other = new TestPki(pkiDir, "other-ca");
    List<Integer> ports = new ArrayList<>();
    while (ports.size() < 4) {
      int p = AgentProcess.freeClusterPort();
      if (!ports.contains(p)) {
        ports.add(p);
      }
    }
    apiPort = ports.get(3);
    String seed = "127.0.0.1:" + ports.get(0);
    a = AgentProcess.create(ports.get(0), with(TestPki.flags(cluster.node("a")),
        "--cluster", "test", "--node", "a", "--tcp", "127.0.0.1:" + apiPort));
    b = AgentProcess.create(ports.get(1), with(TestPki.flags(cluster.node("b")), "--cluster", "test", "--node", "b", "--join", seed));
    // Its own CA is consistent (berthd starts), but it is not the cluster's.
    rogue = AgentProcess.create(ports.get(2), with(TestPki.flags(other.node("r")), "--cluster", "test", "--node", "r", "--join", seed));
    all.addAll(List.of(a, b, rogue));
    for (AgentProcess p : all) {
      p.launch();
    }
    await(START_SECONDS, () -> names(a).equals(List.of("a", "b")) && names(b).equals(List.of("a", "b"))
        && statuses(a).values().stream().allMatch(s -> s == NodeStatus.NODE_STATUS_READY), "a and b registered and ready");
  }

  private static List<String> with(List<String> tls, String... more) {
    List<String> out = new ArrayList<>(tls);
    out.addAll(List.of(more));
    return out;
  }

  @AfterAll
  void stopCluster() throws Exception {
    for (ManagedChannel ch : secretChannels) {
      ch.shutdownNow();
    }
    AgentProcess.closeAll(all, pkiDir);
  }

  @Test
  @Order(1)
  void theClusterFormsAndWorksOverTls() throws Exception {
    nodes(a).update(UpdateNodeRequest.newBuilder().setName("b").putLabelAdd("disk", "ssd").build());
    Node seen = nodes(b).inspect(NodeRef.newBuilder().setName("b").build());
    assertEquals(Map.of("disk", "ssd"), seen.getLabelsMap());
    assertTrue(Files.exists(a.dataDir().resolve("cluster/tls/node.p12")));
    assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
        Files.getPosixFilePermissions(a.dataDir().resolve("cluster/tls/node.p12"))));
  }

  @Test
  @Order(2)
  void anAgentWithAWrongCertificateIsRefused() throws Exception {
    // Watched for a while: SWIM would have spread a member within a second or two.
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(8);
    while (System.nanoTime() < until) {
      assertEquals(List.of("a", "b"), names(a), "a lists the rogue");
      assertEquals(List.of("a", "b"), names(b), "b lists the rogue");
      Thread.sleep(500);
    }
    for (AgentProcess p : List.of(a, b)) {
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
          () -> nodes(p).inspect(NodeRef.newBuilder().setName("r").build()));
      assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode());
    }
    assertTrue(rogue.isAlive(), "the rogue berthd itself runs (its local API is not the cluster's)");
    ClusterStatus s = cluster(rogue).status(ClusterStatusRequest.getDefaultInstance());
    // Its messaging to a never completes a handshake: it cannot even learn the Raft groups.
    assertNotEquals("ready", s.getPhase(), s.toString());
    assertFalse(rogue.log().isEmpty());
  }

  @Test
  @Order(3)
  void theApiOnTcpRequiresACertificateOfTheClusterCa() throws Exception {
    Path me = cluster.client("me");
    SslContext good = GrpcSslContexts.forClient().keyManager(me.resolve("cert.pem").toFile(), me.resolve("key.pem").toFile())
        .trustManager(me.resolve("ca.pem").toFile()).build();
    assertEquals("test", tcpStatus(good).getCluster());
    Path stranger = pkiDir.resolve("other-ca-r");
    SslContext wrong = GrpcSslContexts.forClient().keyManager(stranger.resolve("cert.pem").toFile(), stranger.resolve("key.pem").toFile())
        .trustManager(me.resolve("ca.pem").toFile()).build();
    SslContext none = GrpcSslContexts.forClient().trustManager(me.resolve("ca.pem").toFile()).build();
    for (SslContext ssl : new SslContext[] {wrong, none, null}) {
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> tcpStatus(ssl));
      assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode(), e.toString());
    }
  }

  @Test
  @Order(4)
  void aJobsRegistryCredentialIsKeptSealedAndReachesOnlyItsAllocationsNode() throws Exception {
    String password = "pw-" + java.util.UUID.randomUUID();
    // Nothing listens on port 1: the pull fails after the credential was handed out, never leaving loopback.
    String registry = "127.0.0.1:1";
    SubmitJobRequest req = SubmitJobRequest.newBuilder().setSource("creds.yaml").setText("""
        name: creds
        type: service
        groups:
          - name: creds
            count: 2
            image: %s/team/app:1
            ports: ["18080:80"]
            resources: {cpu: 10m, memory: 8m}
        """.formatted(registry)).addCredentials(RegistryCredential.newBuilder().setRegistry(registry)
            .setUsername("berth").setPassword(password)).build();
    // Through the plain member: it seals with the key a published, and a fingerprints it over mutual TLS.
    SubmitJobResponse first = jobs(b).submit(req);
    assertTrue(first.getChanged());
    SubmitJobResponse again = jobs(b).submit(req);
    assertFalse(again.getChanged(), "the same credential sealed again is no new version");
    assertEquals(first.getVersion(), again.getVersion());

    // One replica per node (a fixed host port): b's asks a for the credential, then fails to pull.
    await(90, () -> jobs(a).status(JobRef.newBuilder().setName("creds").build()).getAllocationsList().stream()
        .anyMatch(x -> x.getNode().equals("b") && x.getState() == AllocationState.ALLOCATION_FAILED
            && !x.getMessage().isEmpty()), "b's allocation failed to pull");
    AllocationInfo onB = jobs(a).status(JobRef.newBuilder().setName("creds").build()).getAllocationsList().stream()
        .filter(x -> x.getNode().equals("b") && x.getState() == AllocationState.ALLOCATION_FAILED).findFirst().orElseThrow();
    assertFalse(onB.getMessage().contains("credential"), "b was not handed its credential: " + onB.getMessage());
    assertFalse(jobs(b).status(JobRef.newBuilder().setName("creds").build()).toString().contains(password));

    // As b (its node certificate) for an allocation that is not b's, and as a user: refused.
    SslContext asB = TestPki.load(pkiDir.resolve("cluster-ca-b")).grpcClientContext();
    AllocationInfo notOnB = jobs(a).status(JobRef.newBuilder().setName("creds").build()).getAllocationsList().stream()
        .filter(x -> !x.getNode().equals("b")).findFirst().orElseThrow();
    AllocationCredentialRequest notB = AllocationCredentialRequest.newBuilder().setRegistry(registry)
        .setAllocationId(notOnB.getId()).build();
    StatusRuntimeException other = assertThrows(StatusRuntimeException.class,
        () -> secrets(asB, "b").allocationCredential(notB));
    assertEquals(Status.Code.PERMISSION_DENIED, other.getStatus().getCode());
    assertTrue(other.getStatus().getDescription().endsWith("is not for node b: the allocation is not placed on it"),
        other.getStatus().getDescription());
    Path me = cluster.client("creds-user");
    SslContext user = GrpcSslContexts.forClient().keyManager(me.resolve("cert.pem").toFile(), me.resolve("key.pem").toFile())
        .trustManager(me.resolve("ca.pem").toFile()).build();
    AllocationCredentialRequest bs = notB.toBuilder().setAllocationId(onB.getId()).build();
    assertEquals(Status.Code.PERMISSION_DENIED, assertThrows(StatusRuntimeException.class,
        () -> secrets(user, null).allocationCredential(bs)).getStatus().getCode());

    jobs(a).stop(StopJobRequest.newBuilder().setName("creds").setPurge(true).build());
  }

  private final List<ManagedChannel> secretChannels = new ArrayList<>();

  /** SecretService of a on its TCP API, with {@code ssl}'s certificate, as {@code node} unless null. */
  private SecretServiceGrpc.SecretServiceBlockingStub secrets(SslContext ssl, String node) {
    ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", apiPort).sslContext(ssl).overrideAuthority("a").build();
    secretChannels.add(ch);
    SecretServiceGrpc.SecretServiceBlockingStub stub = SecretServiceGrpc.newBlockingStub(ch);
    return (node == null ? stub : stub.withInterceptors(dev.berth.agent.tls.NodeIdentityInterceptor.asNode(node)))
        .withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  private static JobServiceGrpc.JobServiceBlockingStub jobs(AgentProcess p) {
    return JobServiceGrpc.newBlockingStub(p.channel()).withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  private ClusterStatus tcpStatus(SslContext ssl) throws InterruptedException {
    NettyChannelBuilder nb = NettyChannelBuilder.forAddress("127.0.0.1", apiPort);
    ManagedChannel ch = (ssl == null ? nb.usePlaintext() : nb.sslContext(ssl)).build();
    try {
      return ClusterServiceGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS).status(ClusterStatusRequest.getDefaultInstance());
    } finally {
      ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  private void await(long seconds, BooleanSupplier condition, String what) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (System.nanoTime() < deadline) {
      try {
        if (condition.getAsBoolean()) {
          return;
        }
      } catch (StatusRuntimeException notYet) {
        // the cluster is still starting
      }
      Thread.sleep(250);
    }
    StringBuilder logs = new StringBuilder();
    for (AgentProcess p : all) {
      String log = p.log();
      logs.append("\n--- ").append(p.dataDir()).append(" ---\n").append(log, Math.max(0, log.length() - 4000), log.length());
    }
    throw new AssertionError("not within " + seconds + " s: " + what + logs);
  }

  private static List<String> names(AgentProcess p) {
    return list(p).stream().map(Node::getName).toList();
  }

  private static Map<String, NodeStatus> statuses(AgentProcess p) {
    return list(p).stream().collect(Collectors.toMap(Node::getName, Node::getStatus));
  }

  private static List<Node> list(AgentProcess p) {
    return nodes(p).list(ListNodesRequest.getDefaultInstance()).getNodesList();
  }

  private static NodeServiceGrpc.NodeServiceBlockingStub nodes(AgentProcess p) {
    return NodeServiceGrpc.newBlockingStub(p.channel()).withDeadlineAfter(20, TimeUnit.SECONDS);
  }

  private static ClusterServiceGrpc.ClusterServiceBlockingStub cluster(AgentProcess p) {
    return ClusterServiceGrpc.newBlockingStub(p.channel()).withDeadlineAfter(20, TimeUnit.SECONDS);
  }
}
