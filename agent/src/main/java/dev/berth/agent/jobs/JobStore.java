package dev.berth.agent.jobs;

import dev.berth.agent.BerthException;
import dev.berth.agent.cluster.ClusterStore;
import dev.berth.proto.v1.StoredAllocation;
import dev.berth.proto.v1.StoredEvaluation;
import dev.berth.proto.v1.StoredJob;
import dev.berth.proto.v1.StoredNodeAllocations;
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
 * writes. Thread-safe; blocks as the store does and throws what it throws.
 */
public final class JobStore {
  public static final String JOBS = "jobs";
  public static final String ALLOCATIONS = "allocations";
  public static final String EVALUATIONS = "evaluations";
  /** Enough for honest contention on one key; more means something is wrong, better reported. */
  private static final int CAS_ATTEMPTS = 32;

  private final ClusterStore store;

  public JobStore(ClusterStore store) {
    this.store = store;
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
   * Applies {@code change} to the job (given {@code null} when there is none; returning
   * {@code null} removes it). Returns the job as stored afterwards (empty if removed).
   */
  public Optional<StoredJob> updateJob(String name, UnaryOperator<StoredJob> change) {
    for (int i = 0; i < CAS_ATTEMPTS; i++) {
      Optional<ClusterStore.Entry> cur = store.get(JOBS, name);
      StoredJob before = cur.map(e -> parse(e.value(), StoredJob.parser(), JOBS, name)).orElse(null);
      StoredJob after = change.apply(before);
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
