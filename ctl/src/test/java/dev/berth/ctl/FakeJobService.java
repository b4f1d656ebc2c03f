package dev.berth.ctl;

import com.google.protobuf.Message;
import dev.berth.proto.v1.AllocationInfo;
import dev.berth.proto.v1.AllocationPort;
import dev.berth.proto.v1.AllocationState;
import dev.berth.proto.v1.GroupStatus;
import dev.berth.proto.v1.JobHistory;
import dev.berth.proto.v1.JobRef;
import dev.berth.proto.v1.JobServiceGrpc;
import dev.berth.proto.v1.JobStatus;
import dev.berth.proto.v1.JobSummary;
import dev.berth.proto.v1.ListJobsRequest;
import dev.berth.proto.v1.ListJobsResponse;
import dev.berth.proto.v1.PlanJobRequest;
import dev.berth.proto.v1.PlanJobResponse;
import dev.berth.proto.v1.RollbackJobRequest;
import dev.berth.proto.v1.RollbackJobResponse;
import dev.berth.proto.v1.ScaleJobRequest;
import dev.berth.proto.v1.StopJobRequest;
import dev.berth.proto.v1.SubmitJobRequest;
import dev.berth.proto.v1.SubmitJobResponse;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The agent's JobService in memory, served in-process: every request is recorded; Submit and
 * Plan answer what the test set; Status answers the scripted {@link #statuses} one per call,
 * the last one for good, so a test can make a job progress poll by poll.
 */
final class FakeJobService extends JobServiceGrpc.JobServiceImplBase implements AutoCloseable {
  final List<Message> requests = new CopyOnWriteArrayList<>();
  /** The jobs Status, Stop and Scale know; others are NOT_FOUND. */
  final Set<String> known = ConcurrentHashMap.newKeySet();
  final ConcurrentLinkedDeque<JobStatus> statuses = new ConcurrentLinkedDeque<>();
  final List<JobSummary> jobs = new CopyOnWriteArrayList<>();
  volatile SubmitJobResponse submitResponse = SubmitJobResponse.newBuilder().setJob("web").setVersion(3)
      .setEvaluationId("ev-1").setChanged(true).build();
  volatile PlanJobResponse planResponse = PlanJobResponse.getDefaultInstance();
  /** When set, Submit and Plan fail with it (the agent refusing a job file). */
  volatile StatusRuntimeException refusal;
  /** Every call answers UNAVAILABLE, as an agent whose cluster layer is still starting. */
  volatile boolean starting;

  private final String name = InProcessServerBuilder.generateName();
  private final Server server;

  FakeJobService() throws IOException {
    server = InProcessServerBuilder.forName(name).addService(this).directExecutor().build().start();
  }

  /** For {@link CliRunner#connector}: the CLI's channel, to this service. */
  ManagedChannel connect(DaemonAddress ignored) {
    return InProcessChannelBuilder.forName(name).directExecutor().build();
  }

  <T extends Message> List<T> requests(Class<T> type) {
    List<T> out = new ArrayList<>();
    for (Message m : requests) {
      if (type.isInstance(m)) {
        out.add(type.cast(m));
      }
    }
    return out;
  }

  private <T> void unary(Message request, StreamObserver<T> response, Supplier<T> answer) {
    requests.add(request);
    try {
      if (starting) {
        throw Status.UNAVAILABLE.withDescription("the cluster is still starting").asRuntimeException();
      }
      response.onNext(answer.get());
      response.onCompleted();
    } catch (RuntimeException e) {
      response.onError(e);
    }
  }

  private void find(String job) {
    if (!known.contains(job)) {
      throw Status.NOT_FOUND.withDescription("job \"" + job + "\" not found").asRuntimeException();
    }
  }

  @Override
  public void submit(SubmitJobRequest r, StreamObserver<SubmitJobResponse> o) {
    unary(r, o, () -> {
      if (refusal != null) {
        throw refusal;
      }
      known.add(submitResponse.getJob());
      return submitResponse;
    });
  }

  @Override
  public void plan(PlanJobRequest r, StreamObserver<PlanJobResponse> o) {
    unary(r, o, () -> {
      if (refusal != null) {
        throw refusal;
      }
      return planResponse;
    });
  }

  @Override
  public void status(JobRef r, StreamObserver<JobStatus> o) {
    unary(r, o, () -> {
      find(r.getName());
      JobStatus s = statuses.size() > 1 ? statuses.poll() : statuses.peek();
      if (s == null) {
        throw Status.NOT_FOUND.withDescription("job \"" + r.getName() + "\" not found").asRuntimeException();
      }
      return s;
    });
  }

  @Override
  public void list(ListJobsRequest r, StreamObserver<ListJobsResponse> o) {
    unary(r, o, () -> ListJobsResponse.newBuilder().addAllJobs(jobs).build());
  }

  @Override
  public void stop(StopJobRequest r, StreamObserver<JobStatus> o) {
    unary(r, o, () -> {
      find(r.getName());
      return JobStatus.newBuilder().setName(r.getName()).setVersion(4).setStopped(true).setStatus("dead").build();
    });
  }

  /** What History answers for a known job. */
  volatile JobHistory history = JobHistory.getDefaultInstance();

  @Override
  public void history(JobRef r, StreamObserver<JobHistory> o) {
    unary(r, o, () -> {
      find(r.getName());
      return history.toBuilder().setName(r.getName()).build();
    });
  }

  /** Rollback without a version fails as an agent without an older stable version does. */
  @Override
  public void rollback(RollbackJobRequest r, StreamObserver<RollbackJobResponse> o) {
    unary(r, o, () -> {
      find(r.getName());
      if (r.getVersion() == 0) {
        throw Status.FAILED_PRECONDITION.withDescription("job " + r.getName() + " has no stable version older than"
            + " its current version 4 to roll back to (versions kept: 1..4); name one with --version")
            .asRuntimeException();
      }
      return RollbackJobResponse.newBuilder().setJob(r.getName()).setVersion(5).setRolledBackTo(r.getVersion())
          .setEvaluationId("ev-0123456789abcdef").build();
    });
  }

  @Override
  public void scale(ScaleJobRequest r, StreamObserver<JobStatus> o) {
    unary(r, o, () -> {
      find(r.getName());
      return JobStatus.newBuilder().setName(r.getName()).setVersion(5).build();
    });
  }

  /** A replica of group "web" placed for {@code version}, desired running, generation 1, updated a minute before {@link CliRunner#NOW}. */
  static AllocationInfo.Builder allocation(String id, int index, String node, AllocationState state, long version) {
    return AllocationInfo.newBuilder().setId(id).setGroup("web").setIndex(index).setNode(node).setState(state)
        .setDesiredRunning(true).setGeneration(1).setJobVersion(version)
        .setUpdatedAtUnixMillis(CliRunner.NOW.toEpochMilli() - 60_000);
  }

  static AllocationPort port(String hostIp, int hostPort, int containerPort) {
    return AllocationPort.newBuilder().setLabel("port0").setHostIp(hostIp).setHostPort(hostPort).setContainerPort(containerPort).build();
  }

  static GroupStatus group(String name, int desired, int pending, int running, String pendingReason) {
    return GroupStatus.newBuilder().setName(name).setDesired(desired).setPending(pending).setRunning(running)
        .setPendingReason(pendingReason).build();
  }

  /** A service job "web" at {@code version}, submitted two minutes before {@link CliRunner#NOW}. */
  static JobStatus.Builder job(long version, GroupStatus group, AllocationInfo.Builder... allocations) {
    JobStatus.Builder b = JobStatus.newBuilder().setName("web").setType("service").setPriority(50).setVersion(version)
        .setStatus("running").setSubmittedAtUnixMillis(CliRunner.NOW.toEpochMilli() - 120_000).addGroups(group);
    for (AllocationInfo.Builder a : allocations) {
      b.addAllocations(a);
    }
    return b;
  }

  @Override
  public void close() {
    try {
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
