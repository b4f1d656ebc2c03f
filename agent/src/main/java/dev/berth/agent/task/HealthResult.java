package dev.berth.agent.task;

import java.time.Instant;

/**
 * One run of a health check, as Docker's inspect lists it under State.Health.Log.
 *
 * @param exitCode 0: healthy; anything else a failure (Docker reserves 1 for unhealthy and
 *     treats the rest alike); -1 when it timed out or could not run
 * @param output the start of what it printed
 */
public record HealthResult(Instant start, Instant end, int exitCode, String output) {
  public HealthResult {
    output = output == null ? "" : output;
  }

  public boolean passed() {
    return exitCode == 0;
  }
}
