package dev.berth.scheduler.model;

import java.util.Locale;

/** What the scheduler keeps true for a job. */
public enum JobType {
  /** Keep {@code count} replicas running; replace any that end. */
  SERVICE,
  /** Run {@code count} replicas to completion; a completed one is not replaced. */
  BATCH,
  /** One replica on every eligible node that satisfies the constraints, joiners included. */
  SYSTEM;

  public String wireName() {
    return name().toLowerCase(Locale.ROOT);
  }
}
