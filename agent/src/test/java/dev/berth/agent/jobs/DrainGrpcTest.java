package dev.berth.agent.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.api.ErrorInterceptor;
import dev.berth.agent.api.NodeGrpcService;
import dev.berth.agent.cluster.NodeDirectory;
import dev.berth.proto.v1.Node;
import dev.berth.proto.v1.NodeServiceGrpc;
import dev.berth.proto.v1.StoredAllocation;
import dev.berth.proto.v1.UpdateNodeRequest;
import dev.berth.scheduler.Scheduler;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code berth node drain|activate} through the real NodeService in process: the deadline as
 * recorded, and the scheduling loop acting on the drain it recorded.
 */
class DrainGrpcTest {
  private final FakeNodes nodes = new FakeNodes().node("a", 2, 4096).node("b", 2, 4096);
  private Server server;
  private ManagedChannel channel;
  private NodeServiceGrpc.NodeServiceBlockingStub stub;

  @BeforeEach
  void start() throws Exception {
    String name = "drain-" + System.nanoTime();
    server = InProcessServerBuilder.forName(name).directExecutor()
        .addService(ServerInterceptors.intercept(new NodeGrpcService(new NodeDirectory(nodes.registry, nodes, nodes)),
            new ErrorInterceptor()))
        .build().start();
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    stub = NodeServiceGrpc.newBlockingStub(channel);
  }

  @AfterEach
  void stop() {
    channel.shutdownNow();
    server.shutdownNow();
  }

  private Node drain(Long deadlineMillis) {
    UpdateNodeRequest.Builder b = UpdateNodeRequest.newBuilder().setName("a").setDrain(true);
    if (deadlineMillis != null) {
      b.setDrainDeadlineMillis(deadlineMillis);
    }
    return stub.update(b.build());
  }

  @Test
  void theDeadlineIsRecordedAsATimeAndActivateClearsIt() {
    long before = System.currentTimeMillis();
    Node n = drain(null);
    assertTrue(n.getDrain());
    long in = n.getDrainDeadlineUnixMillis() - before;
    assertTrue(in >= Duration.ofHours(1).toMillis() && in < Duration.ofHours(1).toMillis() + 60_000,
        "an hour by default: " + in);
    Node minute = drain(60_000L);
    assertTrue(Math.abs(minute.getDrainDeadlineUnixMillis() - before - 60_000) < 60_000);
    assertEquals(minute.getDrainDeadlineUnixMillis(), nodes.registry.get("a").orElseThrow().drainDeadlineMillis(),
        "stored with the node (StoredNode.drain_deadline_millis) and read back");
    long force = drain(0L).getDrainDeadlineUnixMillis();
    assertTrue(force >= before && force <= System.currentTimeMillis(), "at once: now");
    assertEquals(0, drain(-1L).getDrainDeadlineUnixMillis(), "no deadline");
    assertEquals(0, nodes.registry.get("a").orElseThrow().drainDeadlineMillis());

    Node active = stub.update(UpdateNodeRequest.newBuilder().setName("a").setDrain(false).setEligible(true).build());
    assertFalse(active.getDrain());
    assertTrue(active.getEligible());
    assertEquals(0, active.getDrainDeadlineUnixMillis());
  }

  @Test
  void aDeadlineWithoutDrainIsRefused() {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> stub.update(
        UpdateNodeRequest.newBuilder().setName("a").setDrainDeadlineMillis(1000).build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
  }

  @Test
  void aForcedDrainMovesEverythingAtOnce() {
    Clock clock = Clock.systemUTC();
    Jobs jobs = new Jobs(nodes.jobs, nodes.view(), new Scheduler(), clock, () -> { });
    SchedulingLoop loop = new SchedulingLoop(nodes.jobs, nodes.view(), null, new Scheduler(), clock,
        Duration.ofSeconds(1), SchedulingLoop.Listener.NONE);
    jobs.submit("w.yaml", "name: w\ngroups:\n  - name: w\n    count: 4\n    image: busybox\n"
        + "    resources: {cpu: 100m, memory: 64m}\n    constraints: [{attribute: node.name, value: a}]\n", List.of());
    loop.round(false);
    jobs.submit("w.yaml", "name: w\ngroups:\n  - name: w\n    count: 4\n    image: busybox\n"
        + "    resources: {cpu: 100m, memory: 64m}\n", List.of());
    nodes.nodesReport(true);
    drain(0L);
    loop.round(true);
    List<StoredAllocation> live = nodes.jobs.allAllocations().values().stream()
        .flatMap(n -> n.allocations().stream()).filter(Replacements::live).toList();
    assertEquals(4, live.size());
    assertTrue(live.stream().allMatch(x -> x.getNode().equals("b")), live.toString());
  }
}
