package dev.berth.agent.jobs;

import dev.berth.agent.BerthException;
import dev.berth.agent.cluster.CredentialVault;
import dev.berth.proto.v1.StoredAllocation;
import dev.berth.proto.v1.StoredCredential;
import dev.berth.proto.v1.StoredJob;
import dev.berth.proto.v1.StoredJobVersion;
import dev.berth.scheduler.Plan;
import dev.berth.scheduler.Scheduler;
import dev.berth.scheduler.jobfile.JobFile;
import dev.berth.scheduler.jobfile.JobFileException;
import dev.berth.scheduler.jobfile.JobFileParser;
import dev.berth.scheduler.model.Evaluation;
import dev.berth.scheduler.model.Job;
import dev.berth.scheduler.model.JobType;
import dev.berth.scheduler.model.TaskGroup;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * What {@code berth job} does, over the replicated store: submit, plan (a dry run), status, list,
 * stop, scale, history and rollback. Every change bumps the job's version and leaves a pending evaluation for the
 * scheduler, which {@code onChange} is told of (the local loop, if it leads, starts at once).
 *
 * <p>Thread-safe; blocks as the store does; {@code INVALID_ARGUMENT} for a job file that does not
 * parse or asks the impossible ("file:line:column: reason"), {@code NOT_FOUND} for an unknown job,
 * {@code UNAVAILABLE} while the cluster is starting.
 */
public final class Jobs {
  private final JobStore store;
  private final ClusterView view;
  private final Scheduler scheduler;
  private final Clock clock;
  private final Runnable onChange;

  public Jobs(JobStore store, ClusterView view, Scheduler scheduler, Clock clock, Runnable onChange) {
    this.store = store;
    this.view = view;
    this.scheduler = scheduler;
    this.clock = clock;
    this.onChange = onChange;
  }

  /** What a submit did. */
  public record Submitted(String job, long version, String evaluationId, boolean changed) {}

  /** A job and its allocations and latest evaluation, as {@code job status} shows them. */
  public record Status(StoredJob job, Job model, List<StoredAllocation> allocations,
      Optional<JobStore.EvaluationEntry> evaluation, java.util.Map<String, String> nodeAddresses) {}

  /** A dry run: the plan the scheduler would make now, and the cluster it was made against. */
  public record DryRun(Job job, Plan plan, ClusterView.Read read) {}

  /**
   * Registers the job in {@code text} (a new version if one of that name exists and the file or
   * credentials changed). Parsed and checked against the cluster's nodes before anything is stored.
   * The credentials come sealed, each with its fingerprint, which is what tells them changed.
   */
  public Submitted submit(String source, String text, List<StoredCredential> credentials) {
    JobFile file = parse(source, text);
    try {
      file.validateAgainst(view.read().snapshot());
    } catch (JobFileException e) {
      throw BerthException.invalid(e.getMessage());
    }
    Job job = file.job();
    long now = clock.millis();
    boolean[] changed = new boolean[1];
    StoredJob stored = store.updateJob(job.name(), cur -> {
      changed[0] = false;
      if (cur != null && cur.getText().equals(text) && !cur.getStopped() && cur.getCountsMap().isEmpty()
          && CredentialVault.same(cur.getCredentialsList(), credentials)) {
        return cur;
      }
      changed[0] = true;
      StoredJob.Builder b = StoredJob.newBuilder()
          .setName(job.name()).setSource(source).setText(text)
          .setVersion(cur == null ? 1 : cur.getVersion() + 1)
          .setSubmittedAtMillis(now)
          .addAllCredentials(credentials)
          // A new version rolls out; the stable one stays what a failed rollout reverts to.
          .setDeployment(Deployments.RUNNING);
      if (cur != null && cur.hasStable()) {
        b.setStable(cur.getStable());
      }
      return b.build();
    }).orElseThrow();
    String eval = changed[0]
        ? store.trigger(job.name(), Evaluation.Trigger.JOB_REGISTER.name(), job.priority(), stored.getVersion(), now)
        : store.evaluation(job.name()).map(e -> e.evaluation().getId()).orElse("");
    if (changed[0]) {
      onChange.run();
    }
    return new Submitted(job.name(), stored.getVersion(), eval, changed[0]);
  }

  /** What the scheduler would do with the job now; nothing is stored. */
  public DryRun plan(String source, String text) {
    JobFile file = parse(source, text);
    ClusterView.Read read = view.read();
    try {
      file.validateAgainst(read.snapshot());
    } catch (JobFileException e) {
      throw BerthException.invalid(e.getMessage());
    }
    Job job = file.job();
    Plan plan = scheduler.schedule(read.snapshot(), Evaluation.of("plan-" + UUID.randomUUID(), job,
        Evaluation.Trigger.JOB_REGISTER));
    return new DryRun(job, plan, read);
  }

  public Status status(String name) {
    StoredJob job = store.job(name).orElseThrow(() -> BerthException.notFound("No such job: " + name));
    List<StoredAllocation> allocations = new ArrayList<>();
    ClusterView.Read read = view.read();
    read.allocations().values().forEach(n -> n.allocations().stream()
        .filter(a -> a.getJob().equals(name)).forEach(allocations::add));
    allocations.sort(Comparator.comparing(StoredAllocation::getGroup).thenComparingInt(StoredAllocation::getIndex)
        .thenComparing(Comparator.comparingLong(StoredAllocation::getGeneration).reversed()));
    return new Status(job, JobCodec.job(job), allocations, store.evaluation(name), read.addresses());
  }

  /** Every job with its allocations, sorted by name. */
  public List<Status> list() {
    ClusterView.Read read = view.read();
    List<Status> out = new ArrayList<>();
    for (StoredJob job : store.jobs()) {
      List<StoredAllocation> allocations = new ArrayList<>();
      read.allocations().values().forEach(n -> n.allocations().stream()
          .filter(a -> a.getJob().equals(job.getName())).forEach(allocations::add));
      out.add(new Status(job, JobCodec.job(job), allocations, Optional.empty(), read.addresses()));
    }
    out.sort(Comparator.comparing(s -> s.job().getName()));
    return out;
  }

  /** Stops every allocation of the job; with {@code purge} the job is forgotten once they have. */
  public Status stop(String name, boolean purge) {
    StoredJob after = store.updateJob(name, cur -> {
      if (cur == null) {
        throw BerthException.notFound("No such job: " + name);
      }
      if (cur.getStopped() && cur.getPurge() == (purge || cur.getPurge())) {
        return cur;
      }
      return cur.toBuilder().setStopped(true).setPurge(purge || cur.getPurge()).setVersion(cur.getVersion() + 1).build();
    }).orElseThrow();
    store.trigger(name, Evaluation.Trigger.JOB_DEREGISTER.name(), JobCodec.job(after).priority(), after.getVersion(),
        clock.millis());
    onChange.run();
    return status(name);
  }

  /** Sets a task group's count ({@code group} may be empty when the job has one group). */
  public Status scale(String name, String group, int count) {
    if (count < 0) {
      throw BerthException.invalid("a count cannot be negative: " + count);
    }
    StoredJob after = store.updateJob(name, cur -> {
      if (cur == null) {
        throw BerthException.notFound("No such job: " + name);
      }
      Job job = JobCodec.job(cur);
      if (job.type() == JobType.SYSTEM) {
        throw BerthException.invalid("job " + name + " is a system job: it runs one replica on every eligible node"
            + " and cannot be scaled");
      }
      String g = groupOf(job, group);
      TaskGroup current = job.groups().stream().filter(x -> x.name().equals(g)).findFirst().orElseThrow();
      if (current.count() == count && !cur.getStopped()) {
        return cur;
      }
      return cur.toBuilder().putCounts(g, count).setStopped(false).setPurge(false).setVersion(cur.getVersion() + 1)
          .setDeployment(Deployments.RUNNING).setDeploymentMessage("").build();
    }).orElseThrow();
    store.trigger(name, Evaluation.Trigger.JOB_SCALE.name(), JobCodec.job(after).priority(), after.getVersion(),
        clock.millis());
    onChange.run();
    return status(name);
  }

  /**
   * A kept version of a job, with what changed from the version kept before it.
   *
   * @param changes a short summary ("image web: busybox → busybox:1.36; count web: 2 → 3"), or
   *     "first kept version" for the oldest
   */
  public record Version(StoredJobVersion version, boolean current, String changes) {}

  /** The job's kept versions, newest first. */
  public List<Version> history(String name) {
    StoredJob job = store.job(name).orElseThrow(() -> BerthException.notFound("No such job: " + name));
    List<StoredJobVersion> kept = job.getHistoryList();
    List<Version> out = new ArrayList<>();
    for (int i = kept.size() - 1; i >= 0; i--) {
      StoredJobVersion v = kept.get(i);
      out.add(new Version(v, v.getVersion() == job.getVersion(), i == 0 ? "first kept version" : changes(kept.get(i - 1), v)));
    }
    return out;
  }

  /**
   * Submits a kept version's job file again as a new version, as Nomad's {@code job revert}: the
   * given one, or with {@code version} 0 the latest stable version older than the current one.
   *
   * @throws BerthException NOT_FOUND for an unknown job or a version not kept; FAILED_PRECONDITION
   *     when no stable version older than the current one is kept, or the version is the current one
   */
  public RolledBack rollback(String name, long version) {
    long now = clock.millis();
    StoredJobVersion[] target = new StoredJobVersion[1];
    StoredJob after = store.updateJob(name, cur -> {
      if (cur == null) {
        throw BerthException.notFound("No such job: " + name);
      }
      target[0] = rollbackTarget(cur, version);
      StoredJobVersion t = target[0];
      return cur.toBuilder().setText(t.getText()).setSource(t.getSource()).clearCounts().putAllCounts(t.getCountsMap())
          .setVersion(cur.getVersion() + 1).setSubmittedAtMillis(now).setStopped(false).setPurge(false)
          .setDeployment(Deployments.RUNNING).setDeploymentMessage("rolled back to version " + t.getVersion())
          .build();
    }).orElseThrow();
    Job job = JobCodec.job(after);
    String eval = store.trigger(name, Evaluation.Trigger.JOB_REGISTER.name(), job.priority(), after.getVersion(), now);
    onChange.run();
    return new RolledBack(name, after.getVersion(), target[0].getVersion(), eval);
  }

  /** What a rollback did: the new version, and the kept one whose job file it has. */
  public record RolledBack(String job, long version, long to, String evaluationId) {}

  private static StoredJobVersion rollbackTarget(StoredJob cur, long version) {
    List<StoredJobVersion> kept = cur.getHistoryList();
    String keptText = kept.isEmpty() ? "none" : kept.get(0).getVersion() == kept.get(kept.size() - 1).getVersion()
        ? Long.toString(kept.get(0).getVersion())
        : kept.get(0).getVersion() + ".." + kept.get(kept.size() - 1).getVersion();
    if (version == 0) {
      for (int i = kept.size() - 1; i >= 0; i--) {
        StoredJobVersion v = kept.get(i);
        if (v.getStable() && v.getVersion() < cur.getVersion()) {
          return v;
        }
      }
      throw BerthException.failedPrecondition("job " + cur.getName() + " has no stable version older than its current"
          + " version " + cur.getVersion() + " to roll back to (versions kept: " + keptText + "); name one with --version");
    }
    if (version == cur.getVersion()) {
      throw BerthException.failedPrecondition("job " + cur.getName() + ": version " + version
          + " is the current version; nothing to roll back to");
    }
    return kept.stream().filter(v -> v.getVersion() == version).findFirst()
        .orElseThrow(() -> BerthException.notFound("job " + cur.getName() + " has no version " + version
            + " kept (versions kept: " + keptText + ")"));
  }

  /** What differs between two versions: images, counts, other container changes, groups, the stop. */
  static String changes(StoredJobVersion before, StoredJobVersion after) {
    if (before.getText().equals(after.getText()) && before.getCountsMap().equals(after.getCountsMap())) {
      return before.getStopped() == after.getStopped() ? "no change" : after.getStopped() ? "stopped" : "started";
    }
    Job a;
    Job b;
    try {
      a = JobCodec.job(job(before));
      b = JobCodec.job(job(after));
    } catch (RuntimeException e) {
      return "job file changed";
    }
    List<String> out = new ArrayList<>();
    for (TaskGroup g : b.groups()) {
      TaskGroup old = a.groups().stream().filter(x -> x.name().equals(g.name())).findFirst().orElse(null);
      if (old == null) {
        out.add("group " + g.name() + " added");
        continue;
      }
      boolean other = !JobCodec.spec(old).equals(JobCodec.spec(g));
      if (!old.image().equals(g.image())) {
        out.add("image " + g.name() + ": " + old.image() + " \u2192 " + g.image());
        other = !JobCodec.spec(old.withImage(g.image())).equals(JobCodec.spec(g));
      }
      if (old.count() != g.count()) {
        out.add("count " + g.name() + ": " + old.count() + " \u2192 " + g.count());
      }
      if (other) {
        out.add("containers of " + g.name() + " changed");
      }
    }
    a.groups().stream().filter(g -> b.groups().stream().noneMatch(x -> x.name().equals(g.name())))
        .forEach(g -> out.add("group " + g.name() + " removed"));
    if (before.getStopped() != after.getStopped()) {
      out.add(after.getStopped() ? "stopped" : "started");
    }
    return out.isEmpty() ? "job file changed (placement or policies)" : String.join("; ", out);
  }

  private static StoredJob job(StoredJobVersion v) {
    return StoredJob.newBuilder().setSource(v.getSource()).setText(v.getText()).putAllCounts(v.getCountsMap()).build();
  }

  private static String groupOf(Job job, String group) {
    if (group == null || group.isEmpty()) {
      if (job.groups().size() != 1) {
        throw BerthException.invalid("job " + job.name() + " has " + job.groups().size() + " task groups ("
            + String.join(", ", job.groups().stream().map(TaskGroup::name).toList()) + "): name the one to scale");
      }
      return job.groups().get(0).name();
    }
    if (job.groups().stream().noneMatch(g -> g.name().equals(group))) {
      throw BerthException.notFound("job " + job.name() + " has no task group " + group);
    }
    return group;
  }

  private static JobFile parse(String source, String text) {
    try {
      return JobFileParser.parse(source == null || source.isBlank() ? "job" : source, text);
    } catch (JobFileException e) {
      throw BerthException.invalid(e.getMessage());
    }
  }
}
