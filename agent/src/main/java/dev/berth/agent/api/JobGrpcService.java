package dev.berth.agent.api;

import dev.berth.agent.BerthException;
import dev.berth.agent.cluster.CredentialVault;
import dev.berth.agent.jobs.JobCodec;
import dev.berth.agent.jobs.Jobs;
import dev.berth.proto.v1.AllocationInfo;
import dev.berth.proto.v1.AllocationPort;
import dev.berth.proto.v1.AllocationState;
import dev.berth.proto.v1.GroupPlan;
import dev.berth.proto.v1.GroupStatus;
import dev.berth.proto.v1.JobHistory;
import dev.berth.proto.v1.JobRef;
import dev.berth.proto.v1.JobServiceGrpc;
import dev.berth.proto.v1.JobStatus;
import dev.berth.proto.v1.JobSummary;
import dev.berth.proto.v1.JobVersionInfo;
import dev.berth.proto.v1.ListJobsRequest;
import dev.berth.proto.v1.ListJobsResponse;
import dev.berth.proto.v1.NodeVerdict;
import dev.berth.proto.v1.PlanJobRequest;
import dev.berth.proto.v1.PlanJobResponse;
import dev.berth.proto.v1.PlannedAllocation;
import dev.berth.proto.v1.PlannedStop;
import dev.berth.proto.v1.RegistryCredential;
import dev.berth.proto.v1.RollbackJobRequest;
import dev.berth.proto.v1.RollbackJobResponse;
import dev.berth.proto.v1.ScaleJobRequest;
import dev.berth.proto.v1.StopJobRequest;
import dev.berth.proto.v1.StoredAllocation;
import dev.berth.proto.v1.StoredCredential;
import dev.berth.proto.v1.StoredJobVersion;
import dev.berth.proto.v1.StoredPort;
import dev.berth.proto.v1.SubmitJobRequest;
import dev.berth.proto.v1.SubmitJobResponse;
import dev.berth.scheduler.Plan;
import dev.berth.scheduler.jobfile.JobFileException;
import dev.berth.scheduler.jobfile.JobFileParser;
import dev.berth.scheduler.model.Allocation;
import dev.berth.scheduler.model.JobType;
import dev.berth.scheduler.model.PortMapping;
import dev.berth.scheduler.model.TaskGroup;
import io.grpc.stub.StreamObserver;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** `berth job …` and `berth service …`: validate, delegate to {@link Jobs}, map. */
public final class JobGrpcService extends JobServiceGrpc.JobServiceImplBase {
  /** A job file larger than this is refused: it goes into every server's log. */
  static final int MAX_JOB_FILE = 256 * 1024;

  private final Jobs jobs;
  private volatile SecretClient secrets;

  public JobGrpcService(Jobs jobs) {
    this.jobs = jobs;
  }

  /** How a job's registry credentials are sealed; without it a submit with credentials is refused. */
  public JobGrpcService credentials(SecretClient s) {
    this.secrets = s;
    return this;
  }

  private SecretClient requireSecrets() {
    SecretClient s = secrets;
    if (s == null) {
      throw BerthException.failedPrecondition("this agent keeps no registry credentials for jobs");
    }
    return s;
  }

  @Override
  public void submit(SubmitJobRequest req, StreamObserver<dev.berth.proto.v1.SubmitJobResponse> out) {
    requireText(req.getSource(), req.getText());
    for (RegistryCredential c : req.getCredentialsList()) {
      if (c.getRegistry().isBlank() || c.getUsername().isBlank()) {
        throw BerthException.invalid("a registry credential needs a registry and a username");
      }
    }
    // Sealed before anything is stored: the replicated state, which every agent reads, never holds a
    // password. Sealed for the job the file names, so they open for that job alone.
    List<StoredCredential> creds = req.getCredentialsCount() == 0 ? List.of() : requireSecrets().seal(
        req.getCredentialsList().stream()
            .map(c -> new SecretClient.Given(c.getRegistry(), c.getUsername(), c.getPassword())).toList(),
        CredentialVault.Scope.job(jobName(req.getSource(), req.getText())));
    Jobs.Submitted s = jobs.submit(req.getSource(), req.getText(), creds);
    out.onNext(SubmitJobResponse.newBuilder().setJob(s.job()).setVersion(s.version())
        .setEvaluationId(s.evaluationId()).setChanged(s.changed()).build());
    out.onCompleted();
  }

  @Override
  public void plan(PlanJobRequest req, StreamObserver<PlanJobResponse> out) {
    requireText(req.getSource(), req.getText());
    Jobs.DryRun run = jobs.plan(req.getSource(), req.getText());
    Map<String, String> addresses = run.read().addresses();
    PlanJobResponse.Builder b = PlanJobResponse.newBuilder().setJob(run.job().name());
    for (Plan.GroupPlan g : run.plan().groups()) {
      GroupPlan.Builder gb = GroupPlan.newBuilder().setGroup(g.taskGroup()).setSummary(g.unplaced().summary())
          .setNodesChecked(g.nodesChecked()).addAllUnplaced(g.unplaced().indices());
      for (Allocation a : g.placements()) {
        PlannedAllocation.Builder pb = PlannedAllocation.newBuilder().setGroup(a.taskGroup()).setIndex(a.index())
            .setNode(a.node()).setGeneration(a.generation());
        for (PortMapping p : a.ports()) {
          pb.addPorts(port(p.label(), addresses.getOrDefault(a.node(), ""), p.host(), p.to()));
        }
        gb.addPlacements(pb);
      }
      for (Plan.Stop s : g.stops()) {
        gb.addStops(PlannedStop.newBuilder().setAllocationId(s.allocation().id()).setGroup(s.allocation().taskGroup())
            .setIndex(s.allocation().index()).setNode(s.allocation().node()).setReason(s.reason()));
      }
      for (Plan.NodeExplanation e : g.explanations()) {
        gb.addNodes(NodeVerdict.newBuilder().setNode(e.nodeName()).setFeasible(e.feasible())
            .setFilter(e.filter() == null ? "" : e.filter()).setReason(e.reason() == null ? "" : e.reason()));
      }
      b.addGroups(gb);
    }
    out.onNext(b.build());
    out.onCompleted();
  }

  @Override
  public void status(JobRef req, StreamObserver<JobStatus> out) {
    out.onNext(status(jobs.status(requireName(req.getName()))));
    out.onCompleted();
  }

  @Override
  public void list(ListJobsRequest req, StreamObserver<ListJobsResponse> out) {
    ListJobsResponse.Builder b = ListJobsResponse.newBuilder();
    for (Jobs.Status s : jobs.list()) {
      JobStatus st = status(s);
      b.addJobs(JobSummary.newBuilder().setName(st.getName()).setType(st.getType()).setPriority(st.getPriority())
          .setStatus(st.getStatus()).setVersion(st.getVersion()).setSubmittedAtUnixMillis(st.getSubmittedAtUnixMillis())
          .setDesired(st.getGroupsList().stream().mapToInt(GroupStatus::getDesired).sum())
          .setRunning(st.getGroupsList().stream().mapToInt(GroupStatus::getRunning).sum()));
    }
    out.onNext(b.build());
    out.onCompleted();
  }

  @Override
  public void stop(StopJobRequest req, StreamObserver<JobStatus> out) {
    out.onNext(status(jobs.stop(requireName(req.getName()), req.getPurge())));
    out.onCompleted();
  }

  @Override
  public void scale(ScaleJobRequest req, StreamObserver<JobStatus> out) {
    out.onNext(status(jobs.scale(requireName(req.getName()), req.getGroup(), req.getCount())));
    out.onCompleted();
  }

  @Override
  public void history(JobRef req, StreamObserver<JobHistory> out) {
    String name = requireName(req.getName());
    JobHistory.Builder b = JobHistory.newBuilder().setName(name);
    for (Jobs.Version v : jobs.history(name)) {
      StoredJobVersion s = v.version();
      if (v.current()) {
        b.setVersion(s.getVersion());
      }
      b.addVersions(JobVersionInfo.newBuilder().setVersion(s.getVersion())
          .setSubmittedAtUnixMillis(s.getSubmittedAtMillis()).setStable(s.getStable()).setDeployment(s.getDeployment())
          .setDeploymentMessage(s.getDeploymentMessage()).setSource(s.getSource()).setText(s.getText())
          .putAllCounts(s.getCountsMap()).setStopped(s.getStopped()).setChanges(v.changes()).setCurrent(v.current()));
    }
    out.onNext(b.build());
    out.onCompleted();
  }

  @Override
  public void rollback(RollbackJobRequest req, StreamObserver<RollbackJobResponse> out) {
    if (req.getVersion() < 0) {
      throw BerthException.invalid("a job version is at least 1, not " + req.getVersion());
    }
    Jobs.RolledBack r = jobs.rollback(requireName(req.getName()), req.getVersion());
    out.onNext(RollbackJobResponse.newBuilder().setJob(r.job()).setVersion(r.version()).setRolledBackTo(r.to())
        .setEvaluationId(r.evaluationId()).build());
    out.onCompleted();
  }

  /**
   * A job's status: per group the latest generation of each replica counted by state (older
   * generations are history, except that a replica whose new copy starts beside its running old
   * one, start-first, counts as running), and every allocation, newest generation first.
   */
  static JobStatus status(Jobs.Status s) {
    JobStatus.Builder b = JobStatus.newBuilder()
        .setName(s.job().getName()).setType(s.model().type().wireName()).setPriority(s.model().priority())
        .setVersion(s.job().getVersion()).setStopped(s.job().getStopped())
        .setSubmittedAtUnixMillis(s.job().getSubmittedAtMillis()).setSource(s.job().getText())
        .setDeployment(s.job().getDeployment()).setDeploymentMessage(s.job().getDeploymentMessage())
        .setStableVersion(s.job().hasStable() ? s.job().getStable().getVersion() : 0);
    String reason = s.evaluation().map(e -> e.evaluation().getSummary()).orElse("");
    int live = 0;
    int desiredTotal = 0;
    boolean allComplete = true;
    for (TaskGroup g : s.model().groups()) {
      Map<Integer, StoredAllocation> latest = new HashMap<>();
      for (StoredAllocation a : s.allocations()) {
        if (a.getGroup().equals(g.name())) {
          latest.merge(a.getIndex(), a, (x, y) -> y.getGeneration() > x.getGeneration() ? y : x);
        }
      }
      // A start-first update runs an older copy of a replica until its new one is healthy: that
      // replica is served, and counts as running, while the new one starts.
      Map<Integer, Boolean> olderRuns = new HashMap<>();
      for (StoredAllocation a : s.allocations()) {
        if (a.getGroup().equals(g.name()) && latest.get(a.getIndex()) != a && !a.getDesiredStop()
            && a.getState() == AllocationState.ALLOCATION_RUNNING_VALUE) {
          olderRuns.put(a.getIndex(), true);
        }
      }
      int[] by = new int[AllocationState.values().length];
      for (StoredAllocation a : latest.values()) {
        // One being stopped (scaled down, replaced) is on its way out: not counted.
        if (!a.getDesiredStop() || JobCodec.terminal(a)) {
          int state = Math.max(0, Math.min(a.getState(), AllocationState.ALLOCATION_STOPPED_VALUE));
          if (state != AllocationState.ALLOCATION_RUNNING_VALUE && olderRuns.containsKey(a.getIndex())
              && !JobCodec.terminal(a)) {
            state = AllocationState.ALLOCATION_RUNNING_VALUE;
          }
          by[state]++;
        }
      }
      int running = by[AllocationState.ALLOCATION_RUNNING_VALUE];
      int pending = by[AllocationState.ALLOCATION_PENDING_VALUE] + by[AllocationState.ALLOCATION_STATE_UNSPECIFIED_VALUE];
      int complete = by[AllocationState.ALLOCATION_COMPLETE_VALUE];
      int desired = s.job().getStopped() ? 0
          : s.model().type() == JobType.SYSTEM ? (int) latest.values().stream().filter(a -> !a.getDesiredStop()).count()
          : g.count();
      int done = s.model().type() == JobType.BATCH ? running + pending + complete : running + pending;
      int unplaced = Math.max(0, desired - done);
      live += running + pending;
      desiredTotal += desired;
      allComplete &= s.model().type() == JobType.BATCH && complete >= desired;
      b.addGroups(GroupStatus.newBuilder().setName(g.name()).setDesired(desired).setPending(pending + unplaced)
          .setRunning(running).setComplete(complete).setFailed(by[AllocationState.ALLOCATION_FAILED_VALUE])
          .setLost(by[AllocationState.ALLOCATION_LOST_VALUE])
          .setPendingReason(unplaced > 0 ? reason : ""));
    }
    int running = b.getGroupsList().stream().mapToInt(GroupStatus::getRunning).sum();
    String status = s.job().getStopped() ? (live == 0 ? "dead" : "stopping")
        : allComplete && desiredTotal > 0 ? "complete"
        : running >= desiredTotal ? "running" : "pending";
    b.setStatus(status);
    for (StoredAllocation a : s.allocations()) {
      b.addAllocations(allocation(a, s.nodeAddresses().getOrDefault(a.getNode(), "")));
    }
    return b.build();
  }

  static AllocationInfo allocation(StoredAllocation a, String hostIp) {
    AllocationInfo.Builder b = AllocationInfo.newBuilder().setId(a.getId()).setGroup(a.getGroup())
        .setIndex(a.getIndex()).setNode(a.getNode())
        .setState(AllocationState.forNumber(a.getState()) == null ? AllocationState.ALLOCATION_PENDING
            : AllocationState.forNumber(a.getState()))
        .setDesiredRunning(!a.getDesiredStop()).setContainerId(a.getContainerId()).setGeneration(a.getGeneration())
        .setMessage(a.getDesiredStop() && a.getMessage().isEmpty() ? a.getDesiredReason() : a.getMessage())
        .setUpdatedAtUnixMillis(a.getUpdatedAtMillis()).setJobVersion(a.getJobVersion())
        .setHealthy(a.getHealthy()).setPreviousNode(a.getPreviousNode())
        .setReschedules(a.getRescheduleTimesMillisCount());
    for (StoredPort p : a.getPortsList()) {
      b.addPorts(port(p.getLabel(), hostIp, p.getHost(), p.getTo()));
    }
    return b.build();
  }

  private static AllocationPort port(String label, String hostIp, int host, int to) {
    return AllocationPort.newBuilder().setLabel(label).setHostIp(hostIp).setHostPort(host).setContainerPort(to).build();
  }

  private static void requireText(String source, String text) {
    if (text.isBlank()) {
      throw BerthException.invalid((source.isBlank() ? "the job file" : source) + " is empty");
    }
    if (text.length() > MAX_JOB_FILE) {
      throw BerthException.invalid((source.isBlank() ? "the job file" : source) + " is larger than "
          + MAX_JOB_FILE / 1024 + " KiB");
    }
  }

  /**
   * The name of the job in a job file, read as {@link Jobs#submit} reads it (and refused, when it
   * cannot be, with the same error).
   */
  private static String jobName(String source, String text) {
    try {
      return JobFileParser.parse(source.isBlank() ? "job" : source, text).job().name();
    } catch (JobFileException e) {
      throw BerthException.invalid(e.getMessage());
    }
  }

  private static String requireName(String name) {
    if (name.isBlank()) {
      throw BerthException.invalid("a job name is required");
    }
    return name;
  }
}
