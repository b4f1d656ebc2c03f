package dev.berth.scheduler.model;

/** Where an allocation is in its life, as the scheduler needs to know it. */
public enum AllocationStatus {
  /** Placed, not yet running on its node. Holds its resources. */
  PENDING,
  /** Running on its node. Holds its resources. */
  RUNNING,
  /** Ran to completion (exit 0). A batch job's completed replica is not replaced. */
  COMPLETE,
  /** Ended in failure and its node gave up restarting it. */
  FAILED,
  /** Its node was declared down; the caller wants it placed elsewhere. */
  LOST,
  /** Stopped by a plan (scale down, job stopped, replaced). */
  STOPPED;

  /** Whether it still holds resources and ports on its node. */
  public boolean holdsResources() {
    return this == PENDING || this == RUNNING;
  }
}
