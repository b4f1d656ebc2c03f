package dev.berth.agent.jobs;

/** The states of a job version's rollout as stored ({@code StoredJob.deployment}). */
public final class Deployments {
  /** Replicas of the version are being placed and waited for to become healthy. */
  public static final String RUNNING = "running";
  /** Every replica ran the version and was healthy: it is the job's stable version. */
  public static final String SUCCESSFUL = "successful";
  /** An allocation of the version failed or was not healthy in time: the rollout is halted. */
  public static final String FAILED = "failed";
  /** A newer version was registered while this one rolled out (kept versions only). */
  public static final String SUPERSEDED = "superseded";
  /** What listeners are told when a failed rollout went back to the stable version. */
  public static final String REVERTED = "reverted";

  private Deployments() {}
}
