package dev.berth.agent.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.api.ErrorInterceptor;
import dev.berth.agent.api.JobGrpcService;
import dev.berth.proto.v1.AllocationInfo;
import dev.berth.proto.v1.JobHistory;
import dev.berth.proto.v1.JobRef;
import dev.berth.proto.v1.JobServiceGrpc;
import dev.berth.proto.v1.JobStatus;
import dev.berth.proto.v1.JobVersionInfo;
import dev.berth.proto.v1.RollbackJobRequest;
import dev.berth.proto.v1.RollbackJobResponse;
import dev.berth.proto.v1.SubmitJobRequest;
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
 * {@code job history|rollback|status} through the real JobService in process, over the in-memory
 * store and a scheduling loop the test drives: the versions as mapped, a rollback's answer and
 * refusals with their codes, and a start-first pair counted as one running replica.
 */
class JobHistoryGrpcTest {
  private final FakeNodes nodes = new FakeNodes().node("a", 2, 4096).node("b", 2, 4096);
  private final SchedulingLoop loop = new SchedulingLoop(nodes.jobs, nodes.view(), null, new Scheduler(),
      Clock.systemUTC(), Duration.ofSeconds(1), SchedulingLoop.Listener.NONE);
  private Server server;
  private ManagedChannel channel;
  private JobServiceGrpc.JobServiceBlockingStub stub;

  @BeforeEach
  void start() throws Exception {
    String name = "history-" + System.nanoTime();
    Jobs jobs = new Jobs(nodes.jobs, nodes.view(), new Scheduler(), Clock.systemUTC(), () -> { });
    server = InProcessServerBuilder.forName(name).directExecutor()
        .addService(ServerInterceptors.intercept(new JobGrpcService(jobs), new ErrorInterceptor()))
        .build().start();
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    stub = JobServiceGrpc.newBlockingStub(channel);
  }

  @AfterEach
  void stop() {
    channel.shutdownNow();
    server.shutdownNow();
  }

  private static String web(String image) {
    return "name: web\ngroups:\n  - name: web\n    count: 2\n    image: " + image + "\n"
        + "    resources: {cpu: 100m, memory: 64m}\n"
        + "update: {max_parallel: 2, min_healthy_time: 1s, healthy_deadline: 60s, order: start-first}\n";
  }

  private void submit(String image) {
    stub.submit(SubmitJobRequest.newBuilder().setSource("web.yaml").setText(web(image)).build());
  }

  private void rollOut() {
    for (int i = 0; i < 4; i++) {
      loop.round(true);
      nodes.nodesReport(true);
    }
    loop.round(true);
  }

  @Test
  void historyAndRollbackAsTheServiceAnswersThem() {
    JobRef web = JobRef.newBuilder().setName("web").build();
    submit("busybox");
    StatusRuntimeException none = assertThrows(StatusRuntimeException.class,
        () -> stub.rollback(RollbackJobRequest.newBuilder().setName("web").build()));
    assertEquals(Status.Code.FAILED_PRECONDITION, none.getStatus().getCode());
    assertTrue(none.getStatus().getDescription().contains("no stable version older than its current version 1"),
        none.getStatus().getDescription());
    rollOut();
    submit("busybox:1.36");

    // The new copies start beside the old ones: each replica counts once, as running.
    loop.round(false);
    JobStatus st = stub.status(web);
    assertEquals(4, st.getAllocationsList().stream().filter(AllocationInfo::getDesiredRunning).count(), st.toString());
    assertEquals(2, st.getGroups(0).getRunning(), st.toString());
    assertEquals(0, st.getGroups(0).getPending(), st.toString());
    assertEquals(1, st.getStableVersion());
    assertEquals("running", st.getDeployment());
    rollOut();

    JobHistory h = stub.history(web);
    assertEquals(2, h.getVersion());
    assertEquals(List.of(2L, 1L), h.getVersionsList().stream().map(JobVersionInfo::getVersion).toList());
    JobVersionInfo v2 = h.getVersions(0);
    assertTrue(v2.getCurrent() && v2.getStable(), v2.toString());
    assertEquals("successful", v2.getDeployment());
    assertEquals("image web: busybox \u2192 busybox:1.36", v2.getChanges());
    assertEquals(web("busybox"), h.getVersions(1).getText());
    assertTrue(h.getVersions(1).getSubmittedAtUnixMillis() > 0);

    RollbackJobResponse r = stub.rollback(RollbackJobRequest.newBuilder().setName("web").build());
    assertEquals(3, r.getVersion());
    assertEquals(1, r.getRolledBackTo());
    assertEquals(web("busybox"), stub.status(web).getSource());
    assertEquals(Status.Code.NOT_FOUND, assertThrows(StatusRuntimeException.class,
        () -> stub.rollback(RollbackJobRequest.newBuilder().setName("web").setVersion(9).build())).getStatus().getCode());
    assertEquals(Status.Code.INVALID_ARGUMENT, assertThrows(StatusRuntimeException.class,
        () -> stub.rollback(RollbackJobRequest.newBuilder().setName("web").setVersion(-1).build())).getStatus().getCode());
    assertEquals(Status.Code.NOT_FOUND, assertThrows(StatusRuntimeException.class,
        () -> stub.history(JobRef.newBuilder().setName("nope").build())).getStatus().getCode());
  }
}
