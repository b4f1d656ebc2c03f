package dev.berth.agent.task;

import dev.berth.agent.BerthException;
import dev.berth.agent.DaemonThreads;
import dev.berth.agent.jobs.JobCodec;
import dev.berth.agent.jobs.JobStore;
import dev.berth.agent.runtime.ContainerRuntime;
import dev.berth.agent.runtime.ContainerState;
import dev.berth.agent.runtime.ContainerView;
import dev.berth.agent.runtime.CreateRequest;
import dev.berth.agent.runtime.MountSpec;
import dev.berth.agent.runtime.net.PortMapping;
import dev.berth.proto.v1.AllocationState;
import dev.berth.proto.v1.StoredAllocation;
import dev.berth.proto.v1.StoredCredential;
import dev.berth.proto.v1.StoredJob;
import dev.berth.proto.v1.StoredPort;
import dev.berth.scheduler.model.Job;
import dev.berth.scheduler.model.JobType;
import dev.berth.scheduler.model.TaskGroup;
import dev.berth.scheduler.model.VolumeMount;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * This node's side of the scheduler: it watches the node's allocations in the replicated store,
 * runs a container for each one that should run (pulling its image first, with the job's
 * credentials), stops and removes those the scheduler asked to stop or that no longer belong to
 * it (a newer generation replaced them, the job is gone), and reports their states back in one
 * write per round — the batched status the store is meant for.
 *
 * <p>An allocation's container is labelled with its allocation ({@value #LABEL_ALLOC}), job,
 * group and index, so a restarted agent finds them again. Services run with restart policy
 * {@code always} (kept running on the node, with backoff), batch replicas {@code on-failure} up
 * to {@value #BATCH_RETRIES} times; an allocation whose container ended for good is reported
 * complete (batch, exit 0) or failed, and the scheduler decides what comes next.
 *
 * <p>One thread polls every {@code interval}; starts and stops run on a small pool so a slow pull
 * does not hold the others back.
 */
public final class AllocationRunner implements AutoCloseable {
  public static final String LABEL_ALLOC = "berth.alloc";
  public static final String LABEL_JOB = "berth.job";
  public static final String LABEL_GROUP = "berth.group";
  public static final String LABEL_INDEX = "berth.index";
  public static final String LABEL_GENERATION = "berth.generation";
  static final int BATCH_RETRIES = 3;
  private static final int WORKERS = 4;
  private static final int STOP_TIMEOUT_SECONDS = 10;
  private static final Logger LOG = Logger.getLogger(AllocationRunner.class.getName());

  /** Makes an image present on this node. */
  public interface Images {
    /**
     * Pulls {@code reference} unless it is present.
     *
     * @param credentials the job's registry credentials (may be empty)
     */
    void ensure(String reference, List<StoredCredential> credentials);
  }

  private final String node;
  private final JobStore jobs;
  private final ContainerRuntime runtime;
  private final Supervisor supervisor;
  private final Images images;
  private final BooleanSupplier ready;
  private final Clock clock;
  private final Duration interval;
  private final ExecutorService workers;
  /** Allocations with a start or stop under way. */
  private final Set<String> busy = ConcurrentHashMap.newKeySet();
  /** Allocations whose start failed, with why: reported failed, never retried here. */
  private final Map<String, String> failed = new ConcurrentHashMap<>();
  private final Map<String, Job> jobCache = new ConcurrentHashMap<>();
  private final Object signal = new Object();
  private volatile boolean closed;
  private Thread thread;

  public AllocationRunner(String node, JobStore jobs, ContainerRuntime runtime, Supervisor supervisor, Images images,
      BooleanSupplier ready, Clock clock, Duration interval) {
    this.node = node;
    this.jobs = jobs;
    this.runtime = runtime;
    this.supervisor = supervisor;
    this.images = images;
    this.ready = ready;
    this.clock = clock;
    this.interval = interval;
    this.workers = Executors.newFixedThreadPool(WORKERS, DaemonThreads.numbered("berth-alloc"));
  }

  public synchronized void start() {
    thread = new Thread(this::run, "berth-alloc-runner");
    thread.setDaemon(true);
    thread.start();
  }

  private void run() {
    while (!closed) {
      if (ready.getAsBoolean()) {
        try {
          sync();
        } catch (BerthException e) {
          LOG.log(Level.FINE, "reading this node's allocations: " + e.getMessage(), e);
        } catch (RuntimeException e) {
          LOG.log(Level.WARNING, "running this node's allocations", e);
        }
      }
      synchronized (signal) {
        if (!closed) {
          try {
            signal.wait(interval.toMillis());
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
          }
        }
      }
    }
  }

  /** A new state for an allocation, as this node sees it. */
  private record Report(AllocationState state, String containerId, String message) {}

  /** One round: act on every allocation of this node, then report what changed. Package-private for tests. */
  void sync() {
    JobStore.NodeAllocations mine = jobs.nodeAllocations(node);
    Map<String, ContainerView> byAlloc = new HashMap<>();
    for (ContainerView c : runtime.list(true)) {
      String alloc = c.config().labels().get(LABEL_ALLOC);
      if (alloc != null) {
        byAlloc.put(alloc, c);
      }
    }
    Map<String, Report> reports = new HashMap<>();
    Set<String> known = new java.util.HashSet<>();
    for (StoredAllocation a : mine.allocations()) {
      known.add(a.getId());
      ContainerView c = byAlloc.get(a.getId());
      if (a.getDesiredStop() || JobCodec.terminal(a)) {
        if (c != null) {
          stopAndRemove(a.getId(), c);
        } else if (!JobCodec.terminal(a) && !busy.contains(a.getId())) {
          reports.put(a.getId(), new Report(AllocationState.ALLOCATION_STOPPED, a.getContainerId(),
              "stopped: " + (a.getDesiredReason().isEmpty() ? "asked to" : a.getDesiredReason())));
        }
        continue;
      }
      if (busy.contains(a.getId())) {
        continue;
      }
      String why = failed.get(a.getId());
      if (why != null) {
        reports.put(a.getId(), new Report(AllocationState.ALLOCATION_FAILED, a.getContainerId(), why));
        continue;
      }
      if (c == null) {
        if (a.getState() == AllocationState.ALLOCATION_RUNNING_VALUE && !a.getContainerId().isEmpty()) {
          reports.put(a.getId(), new Report(AllocationState.ALLOCATION_FAILED, a.getContainerId(),
              "its container " + a.getContainerId().substring(0, Math.min(12, a.getContainerId().length()))
                  + " was removed"));
        } else {
          start(a);
        }
        continue;
      }
      reports.put(a.getId(), observe(a, c));
    }
    // Containers of allocations this node no longer holds: replaced, or their job is gone.
    for (Map.Entry<String, ContainerView> e : byAlloc.entrySet()) {
      if (!known.contains(e.getKey())) {
        stopAndRemove(e.getKey(), e.getValue());
      }
    }
    report(mine, reports);
  }

  private Report observe(StoredAllocation a, ContainerView c) {
    ContainerState s = c.state();
    return switch (s.status()) {
      case RUNNING -> new Report(AllocationState.ALLOCATION_RUNNING, c.id(), "");
      case CREATED -> new Report(AllocationState.ALLOCATION_PENDING, c.id(), "created");
      case REMOVING -> new Report(AllocationState.ALLOCATION_STOPPED, c.id(), "removed");
      case EXITED -> {
        if (supervisor.restarting(c.id())) {
          yield new Report(AllocationState.ALLOCATION_RUNNING, c.id(),
              "restarting after exit code " + s.exitCode() + " (" + s.restartCount() + " restarts)");
        }
        String how = s.exitUnknown() ? "its launcher died: exit status unknown"
            : s.oomKilled() ? "killed: out of memory" : "exited with code " + s.exitCode();
        boolean batch = job(a).map(j -> j.type() == JobType.BATCH).orElse(false);
        yield new Report(batch && s.exitCode() == 0 && !s.exitUnknown() && !s.oomKilled()
            ? AllocationState.ALLOCATION_COMPLETE : AllocationState.ALLOCATION_FAILED, c.id(), how);
      }
    };
  }

  /** Writes the reports that change something, in one compare-and-set (retried on contention). */
  private void report(JobStore.NodeAllocations read, Map<String, Report> reports) {
    boolean any = false;
    for (StoredAllocation a : read.allocations()) {
      Report r = reports.get(a.getId());
      if (r != null && differs(a, r)) {
        any = true;
        break;
      }
    }
    if (!any) {
      return;
    }
    long now = clock.millis();
    jobs.updateNode(node, list -> {
      List<StoredAllocation> out = new ArrayList<>(list.size());
      for (StoredAllocation a : list) {
        Report r = reports.get(a.getId());
        // The scheduler may have asked for a stop meanwhile: a run report does not undo that.
        boolean stale = r != null && a.getDesiredStop() && r.state() != AllocationState.ALLOCATION_STOPPED
            && JobCodec.terminal(a);
        out.add(r == null || stale || !differs(a, r) ? a
            : a.toBuilder().setState(r.state().getNumber()).setContainerId(r.containerId()).setMessage(r.message())
                .setUpdatedAtMillis(now).build());
      }
      return out;
    });
  }

  private static boolean differs(StoredAllocation a, Report r) {
    return a.getState() != r.state().getNumber() || !a.getContainerId().equals(r.containerId())
        || !a.getMessage().equals(r.message());
  }

  private void start(StoredAllocation a) {
    busy.add(a.getId());
    workers.execute(() -> {
      try {
        Optional<StoredJob> stored = jobs.job(a.getJob());
        Job job = job(a).orElseThrow(() -> BerthException.notFound("job " + a.getJob() + " is gone"));
        TaskGroup g = job.groups().stream().filter(x -> x.name().equals(a.getGroup())).findFirst()
            .orElseThrow(() -> BerthException.notFound("job " + a.getJob() + " has no task group " + a.getGroup()));
        images.ensure(g.image(), stored.map(StoredJob::getCredentialsList).orElse(List.of()));
        ContainerView c = runtime.create(request(a, job, g));
        try {
          runtime.start(c.id());
        } catch (RuntimeException e) {
          removeQuietly(c.id());
          throw e;
        }
        LOG.info("allocation " + a.getJob() + "." + a.getGroup() + "[" + a.getIndex() + "] (" + shortId(a.getId())
            + ") running as " + c.config().name());
      } catch (RuntimeException e) {
        String why = e.getMessage() == null ? e.toString() : e.getMessage();
        LOG.warning("allocation " + a.getJob() + "." + a.getGroup() + "[" + a.getIndex() + "] failed to start: " + why);
        failed.put(a.getId(), "failed to start: " + why);
      } finally {
        busy.remove(a.getId());
        wake();
      }
    });
  }

  private void stopAndRemove(String alloc, ContainerView c) {
    if (!busy.add(alloc)) {
      return;
    }
    workers.execute(() -> {
      try {
        if (c.state().running()) {
          runtime.stop(c.id(), STOP_TIMEOUT_SECONDS);
        }
        runtime.remove(c.id(), true, true);
        failed.remove(alloc);
        LOG.info("allocation " + shortId(alloc) + ": container " + c.config().name() + " stopped and removed");
      } catch (BerthException e) {
        if (e.kind() != BerthException.Kind.NOT_FOUND) {
          LOG.warning("stopping allocation " + shortId(alloc) + ": " + e.getMessage());
        }
      } finally {
        busy.remove(alloc);
        wake();
      }
    });
  }

  private void removeQuietly(String id) {
    try {
      runtime.remove(id, true, true);
    } catch (RuntimeException e) {
      LOG.log(Level.FINE, "removing the container of a failed start", e);
    }
  }

  /** The container an allocation runs: the group's spec, its resources, its ports, its labels. */
  CreateRequest request(StoredAllocation a, Job job, TaskGroup g) {
    Map<String, String> labels = new HashMap<>();
    labels.put(LABEL_ALLOC, a.getId());
    labels.put(LABEL_JOB, a.getJob());
    labels.put(LABEL_GROUP, a.getGroup());
    labels.put(LABEL_INDEX, Integer.toString(a.getIndex()));
    labels.put(LABEL_GENERATION, Long.toString(a.getGeneration()));
    List<String> env = new ArrayList<>();
    new java.util.TreeMap<>(g.env()).forEach((k, v) -> env.add(k + "=" + v));
    List<PortMapping> ports = new ArrayList<>();
    for (StoredPort p : a.getPortsList()) {
      ports.add(new PortMapping(PortMapping.Protocol.TCP, "", p.getHost(), p.getTo()));
    }
    List<MountSpec> mounts = new ArrayList<>();
    for (VolumeMount v : g.volumes()) {
      mounts.add(new MountSpec(MountSpec.Type.VOLUME, v.name(), v.path(), v.readOnly(), 0, 0, false, false));
    }
    String cpus = a.getCpuMillis() > 0 ? java.math.BigDecimal.valueOf(a.getCpuMillis(), 3).toPlainString() : "";
    String memory = a.getMemoryBytes() > 0 ? Long.toString(a.getMemoryBytes()) : "";
    boolean batch = job.type() == JobType.BATCH;
    return new CreateRequest(g.image(), containerName(a), List.of(), false, g.command(), env, "", "", "", memory, cpus,
        a.getPids(), false, false, false, List.of(), labels, "", 0, "", 0, mounts, "", ports, false, List.of(),
        batch ? "on-failure" : "always", batch ? BATCH_RETRIES : 0, null);
  }

  /** {@code web.web.0.3f2a9c1b}: as Swarm names tasks, unique per allocation. */
  static String containerName(StoredAllocation a) {
    String prefix = a.getGroup().equals(a.getJob()) ? a.getJob() : a.getJob() + "." + a.getGroup();
    return prefix + "." + a.getIndex() + "." + shortId(a.getId());
  }

  private Optional<Job> job(StoredAllocation a) {
    String key = a.getJob() + "@" + a.getJobVersion();
    Job cached = jobCache.get(key);
    if (cached != null) {
      return Optional.of(cached);
    }
    Optional<Job> j = jobs.job(a.getJob()).map(JobCodec::job);
    j.ifPresent(x -> {
      if (jobCache.size() > 256) {
        jobCache.clear();
      }
      jobCache.put(key, x);
    });
    return j;
  }

  /** Eight hex digits of the allocation id's digest: short, and safe in a container name. */
  static String shortId(String id) {
    try {
      byte[] d = java.security.MessageDigest.getInstance("SHA-256")
          .digest(id.getBytes(java.nio.charset.StandardCharsets.UTF_8));
      return java.util.HexFormat.of().formatHex(d, 0, 4);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every JDK", e);
    }
  }

  /** Runs a round soon (the node's allocations changed, a start or stop finished). */
  public void wake() {
    synchronized (signal) {
      signal.notifyAll();
    }
  }

  @Override
  public void close() {
    closed = true;
    wake();
    workers.shutdownNow();
    try {
      workers.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
