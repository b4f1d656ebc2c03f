package dev.berth.agent.jobs;

import dev.berth.agent.BerthException;
import dev.berth.agent.cluster.ClusterStore;
import dev.berth.agent.cluster.CredentialVault;
import dev.berth.proto.v1.StoredAllocation;
import dev.berth.proto.v1.StoredEvaluation;
import dev.berth.proto.v1.StoredJob;
import dev.berth.proto.v1.StoredJobVersion;
import dev.berth.proto.v1.StoredNodeAllocations;
import dev.berth.scheduler.model.Job;
import com.google.protobuf.InvalidProtocolBufferException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.function.UnaryOperator;

/**
 * Jobs, allocations and evaluations in the replicated {@link ClusterStore} (layout: see the
 * package). Every change is a compare-and-set retried on contention, so the leading server, the
 * nodes reporting their allocations' states and the users changing jobs never lose each other's
 * writes. New allocations are {@linkplain #tagged tagged} as the leading server places them
 * ({@link AllocationTags}). Thread-safe; blocks as the store does and throws what it throws.
 */
public final class JobStore {
  public static final String JOBS = "jobs";
  public static final String ALLOCATIONS = "allocations";
  public static final String EVALUATIONS = "evaluations";
  /** Enough for honest contention on one key; more means something is wrong, better reported. */
  private static final int CAS_ATTEMPTS = 32;

  private final ClusterStore store;
  private final AllocationTags tags;

  /** The store of an agent that holds no seal key: the allocations it places carry no tag. */
  public JobStore(ClusterStore store) {
    this(store, new AllocationTags(new CredentialVault(store, null)));
  }

  /** @param tags what tags the allocations this agent places (the scheduler's, on a server) */
  public JobStore(ClusterStore store, AllocationTags tags) {
    this.store = store;
    this.tags = tags;
  }

  /** One node's allocations as stored, with the version a compare-and-set must name. */
  public record NodeAllocations(String node, List<StoredAllocation> allocations, long version) {
    public NodeAllocations {
      allocations = List.copyOf(allocations);
    }
  }

  /** A job's latest evaluation, with its store version. */
  public record EvaluationEntry(StoredEvaluation evaluation, long version) {}

  // ---- jobs

  public Optional<StoredJob> job(String name) {
    return store.get(JOBS, name).map(e -> parse(e.value(), StoredJob.parser(), JOBS, name));
  }

  public List<StoredJob> jobs() {
    return store.list(JOBS).stream().map(e -> parse(e.value(), StoredJob.parser(), JOBS, e.key())).toList();
  }

  /**
   * How many versions of a job are kept for {@code job history} and {@code job rollback}, the
   * current one included: Nomad's six. Older ones are dropped as new ones come, so a job's record
   * stays bounded however often it is submitted.
   */
  public static final int HISTORY = 6;

  /**
   * Applies {@code change} to the job (given {@code null} when there is none; returning
   * {@code null} removes it). Returns the job as stored afterwards (empty if removed).
   *
   * <p>The job's {@linkplain StoredJob#getHistoryList history} is this method's to keep: a new
   * version is added (the oldest dropped beyond {@link #HISTORY}; one still rolling out is marked
   * superseded), and the current version's entry follows the job's rollout state. A {@code change}
   * that builds the job anew (no history) gets the history read; one that keeps it may amend
   * older entries.
   */
  public Optional<StoredJob> updateJob(String name, UnaryOperator<StoredJob> change) {
    for (int i = 0; i < CAS_ATTEMPTS; i++) {
      Optional<ClusterStore.Entry> cur = store.get(JOBS, name);
      StoredJob before = cur.map(e -> parse(e.value(), StoredJob.parser(), JOBS, name)).orElse(null);
      StoredJob after = change.apply(before);
      if (after != null) {
        after = withHistory(before, after);
      }
      if (after == null) {
        if (cur.isEmpty() || store.remove(JOBS, name, cur.get().version())) {
          return Optional.empty();
        }
        continue;
      }
      if (after.equals(before)) {
        return Optional.of(after);
      }
      long expected = cur.map(ClusterStore.Entry::version).orElse(ClusterStore.ABSENT);
      if (store.compareAndSet(JOBS, name, expected, after.toByteArray()).isPresent()) {
        return Optional.of(after);
      }
    }
    throw contention("job " + name);
  }

  /** {@code after} with the history of {@code before} carried on and its own version recorded. */
  static StoredJob withHistory(StoredJob before, StoredJob after) {
    // A change that kept the history may have amended older entries; one that built the job anew
    // gets the history read.
    List<StoredJobVersion> history = new ArrayList<>(after.getHistoryCount() > 0 || before == null
        ? after.getHistoryList() : before.getHistoryList());
    long stable = after.hasStable() ? after.getStable().getVersion() : 0;
    int at = -1;
    for (int i = 0; i < history.size(); i++) {
      if (history.get(i).getVersion() == after.getVersion()) {
        at = i;
      }
    }
    StoredJobVersion.Builder entry = at >= 0 ? history.get(at).toBuilder()
        : StoredJobVersion.newBuilder().setVersion(after.getVersion()).setSource(after.getSource())
            .setText(after.getText()).putAllCounts(after.getCountsMap())
            .setSubmittedAtMillis(after.getSubmittedAtMillis()).setStopped(after.getStopped());
    entry.setDeployment(after.getDeployment()).setDeploymentMessage(after.getDeploymentMessage());
    if (at >= 0) {
      history.set(at, entry.build());
    } else {
      // The version it replaces no longer rolls out.
      for (int i = 0; i < history.size(); i++) {
        if (history.get(i).getDeployment().equals(Deployments.RUNNING)) {
          history.set(i, history.get(i).toBuilder().setDeployment(Deployments.SUPERSEDED)
              .setDeploymentMessage("superseded by version " + after.getVersion()).build());
        }
      }
      history.add(entry.build());
    }
    for (int i = 0; i < history.size(); i++) {
      if (history.get(i).getVersion() == stable && !history.get(i).getStable()) {
        history.set(i, history.get(i).toBuilder().setStable(true).build());
      }
    }
    if (history.size() > HISTORY) {
      history = history.subList(history.size() - HISTORY, history.size());
    }
    if (history.equals(after.getHistoryList())) {
      return after;
    }
    return after.toBuilder().clearHistory().addAllHistory(history).build();
  }

  // ---- allocations

  public NodeAllocations nodeAllocations(String node) {
    return store.get(ALLOCATIONS, node)
        .map(e -> new NodeAllocations(node,
            parse(e.value(), StoredNodeAllocations.parser(), ALLOCATIONS, node).getAllocationsList(), e.version()))
        .orElseGet(() -> new NodeAllocations(node, List.of(), ClusterStore.ABSENT));
  }

  /** Every node's allocations, by node name in key order. */
  public Map<String, NodeAllocations> allAllocations() {
    Map<String, NodeAllocations> out = new LinkedHashMap<>();
    for (ClusterStore.Entry e : store.list(ALLOCATIONS)) {
      out.put(e.key(), new NodeAllocations(e.key(),
          parse(e.value(), StoredNodeAllocations.parser(), ALLOCATIONS, e.key()).getAllocationsList(), e.version()));
    }
    return out;
  }

  /**
   * {@code placed}, a new allocation of {@code job}, as the scheduler stores it: with its tag, so
   * that the servers hand it its registry credential (untagged where this agent holds no seal key).
   */
  public StoredAllocation tagged(StoredAllocation placed, Job job) {
    return tags.attach(placed, job);
  }

  /** Writes a node's allocations if nothing changed them since {@code read}; false if something did. */
  public boolean replace(NodeAllocations read, List<StoredAllocation> allocations) {
    if (allocations.isEmpty()) {
      return read.version() == ClusterStore.ABSENT || store.remove(ALLOCATIONS, read.node(), read.version());
    }
    byte[] value = StoredNodeAllocations.newBuilder().setNode(read.node()).addAllAllocations(allocations).build()
        .toByteArray();
    return store.compareAndSet(ALLOCATIONS, read.node(), read.version(), value).isPresent();
  }

  /**
   * Applies {@code change} to a node's allocations, re-read and re-applied on contention; the
   * change sees the current list and returns the new one (the same list: nothing is written).
   */
  public List<StoredAllocation> updateNode(String node, UnaryOperator<List<StoredAllocation>> change) {
    for (int i = 0; i < CAS_ATTEMPTS; i++) {
      NodeAllocations cur = nodeAllocations(node);
      List<StoredAllocation> next = change.apply(cur.allocations());
      if (next.equals(cur.allocations()) || replace(cur, next)) {
        return next;
      }
    }
    throw contention("the allocations of node " + node);
  }

  // ---- evaluations

  public Optional<EvaluationEntry> evaluation(String job) {
    return store.get(EVALUATIONS, job)
        .map(e -> new EvaluationEntry(parse(e.value(), StoredEvaluation.parser(), EVALUATIONS, job), e.version()));
  }

  public List<EvaluationEntry> evaluations() {
    List<EvaluationEntry> out = new ArrayList<>();
    for (ClusterStore.Entry e : store.list(EVALUATIONS)) {
      out.add(new EvaluationEntry(parse(e.value(), StoredEvaluation.parser(), EVALUATIONS, e.key()), e.version()));
    }
    return out;
  }

  /**
   * Asks for an evaluation of {@code job}: its entry becomes pending under a new id (triggers
   * that come while one is pending coalesce into it). Returns the evaluation's id.
   */
  public String trigger(String job, String trigger, int priority, long jobVersion, long nowMillis) {
    for (int i = 0; i < CAS_ATTEMPTS; i++) {
      Optional<EvaluationEntry> cur = evaluation(job);
      if (cur.isPresent() && cur.get().evaluation().getStatus().equals(Evaluations.PENDING)
          && cur.get().evaluation().getJobVersion() >= jobVersion) {
        return cur.get().evaluation().getId();
      }
      StoredEvaluation next = StoredEvaluation.newBuilder()
          .setId(UUID.randomUUID().toString())
          .setJob(job)
          .setTrigger(trigger)
          .setPriority(priority)
          .setCreatedAtMillis(nowMillis)
          .setStatus(Evaluations.PENDING)
          .setJobVersion(jobVersion)
          .setSummary(cur.map(e -> e.evaluation().getSummary()).orElse(""))
          .build();
      long expected = cur.map(EvaluationEntry::version).orElse(ClusterStore.ABSENT);
      if (store.compareAndSet(EVALUATIONS, job, expected, next.toByteArray()).isPresent()) {
        return next.getId();
      }
    }
    throw contention("the evaluation of job " + job);
  }

  /**
   * Records an evaluation's outcome if no trigger came since it was read (else it stays pending
   * and is run again). True if it was recorded.
   */
  public boolean finish(EvaluationEntry read, String status, String summary) {
    StoredEvaluation next = read.evaluation().toBuilder().setStatus(status).setSummary(summary).build();
    if (next.equals(read.evaluation())) {
      return true;
    }
    return store.compareAndSet(EVALUATIONS, read.evaluation().getJob(), read.version(), next.toByteArray()).isPresent();
  }

  /**
   * Records the outcome of an evaluation the scheduler ran on its own (a periodic one), unless a
   * trigger made the job's evaluation pending meanwhile: that one runs next and records its own.
   */
  public void note(String job, String status, String summary, long jobVersion, long nowMillis) {
    for (int i = 0; i < CAS_ATTEMPTS; i++) {
      Optional<EvaluationEntry> cur = evaluation(job);
      if (cur.isPresent()) {
        StoredEvaluation e = cur.get().evaluation();
        if (e.getStatus().equals(Evaluations.PENDING) || finish(cur.get(), status, summary)) {
          return;
        }
        continue;
      }
      StoredEvaluation next = StoredEvaluation.newBuilder().setId(UUID.randomUUID().toString()).setJob(job)
          .setTrigger("PENDING_RETRY").setCreatedAtMillis(nowMillis).setStatus(status).setSummary(summary)
          .setJobVersion(jobVersion).build();
      if (store.compareAndSet(EVALUATIONS, job, ClusterStore.ABSENT, next.toByteArray()).isPresent()) {
        return;
      }
    }
    throw contention("the evaluation of job " + job);
  }

  /** Forgets a purged job's evaluation. */
  public void forgetEvaluation(String job) {
    evaluation(job).ifPresent(e -> store.remove(EVALUATIONS, job, e.version()));
  }

  private static <T> T parse(byte[] value, com.google.protobuf.Parser<T> parser, String table, String key) {
    try {
      return parser.parseFrom(value);
    } catch (InvalidProtocolBufferException e) {
      throw BerthException.internal("the stored " + table + " entry " + key + " is not readable", e);
    }
  }

  private static BerthException contention(String what) {
    return new BerthException(BerthException.Kind.UNAVAILABLE,
        what + " changed " + CAS_ATTEMPTS + " times while this change was retried; try again");
  }
}
