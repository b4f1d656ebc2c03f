package dev.berth.agent.jobs;

/** The states of a job's evaluation as stored ({@code StoredEvaluation.status}). */
public final class Evaluations {
  /** Waiting for the scheduler. */
  public static final String PENDING = "pending";
  /** Run; some replicas could not be placed and wait for capacity (the summary says why). */
  public static final String BLOCKED = "blocked";
  /** Run; everything wanted is placed. */
  public static final String COMPLETE = "complete";

  private Evaluations() {}
}
