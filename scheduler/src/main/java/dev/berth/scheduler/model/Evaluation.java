package dev.berth.scheduler.model;

import java.util.Objects;

/**
 * One request to reconcile a job with the cluster: the scheduler computes one plan for it.
 *
 * @param id      unique; new allocations' ids are derived from it, so it must never repeat
 * @param job     the job as it should be now
 * @param trigger why it was created (for status and logs; the plan does not depend on it)
 * @param seed    every random choice of the plan comes from a generator seeded with it, so the
 *                same snapshot and evaluation always give the same plan
 */
public record Evaluation(String id, Job job, Trigger trigger, long seed) {

  /** Why an evaluation was created. */
  public enum Trigger {
    JOB_REGISTER, JOB_DEREGISTER, JOB_SCALE, NODE_JOIN, NODE_UPDATE, NODE_DRAIN, NODE_DOWN,
    ALLOCATION_FAILED, PENDING_RETRY
  }

  public Evaluation {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(job, "job");
    Objects.requireNonNull(trigger, "trigger");
  }

  /** An evaluation seeded from its id, for callers with no generator of their own. */
  public static Evaluation of(String id, Job job, Trigger trigger) {
    long seed = 1125899906842597L;
    for (int i = 0; i < id.length(); i++) {
      seed = 31 * seed + id.charAt(i);
    }
    return new Evaluation(id, job, trigger, seed);
  }
}
