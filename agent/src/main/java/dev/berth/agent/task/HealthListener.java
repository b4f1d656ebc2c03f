package dev.berth.agent.task;

/**
 * Told when a container's health status changes (a new run starting, a check passing or
 * failing enough): for whoever replaces unhealthy allocations. Called on a supervisor thread,
 * outside its locks; must not block for long.
 */
@FunctionalInterface
public interface HealthListener {
  /** {@code previous} is null for the first state of a container the supervisor did not know. */
  void healthChanged(String containerId, HealthState previous, HealthState current);
}
