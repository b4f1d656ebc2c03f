package dev.berth.agent.task;

import dev.berth.agent.runtime.ContainerView;
import java.util.Optional;

/** The read-only side of the {@link Supervisor}: what it knows of each container. Thread-safe. */
public interface Supervision {
  /** Knows nothing: no health checks run, nothing restarts. */
  Supervision NONE = new Supervision() {
    @Override
    public Optional<HealthState> health(String containerId) {
      return Optional.empty();
    }

    @Override
    public boolean restarting(String containerId) {
      return false;
    }

    @Override
    public boolean restartPending(ContainerView v) {
      return false;
    }

    @Override
    public void addHealthListener(HealthListener l) {}
  };

  /** The health of its current (or last) run; empty when it has no health check. */
  Optional<HealthState> health(String containerId);

  /** True while a restart by its policy is pending (Docker's "Restarting"). */
  boolean restarting(String containerId);

  /**
   * True while a restart by its policy is pending, or when {@code v} shows an exit that has not
   * reached the supervisor yet and that its policy restarts after: the runtime records an exit a
   * moment before it tells the supervisor, and one who looks in between must not take a
   * crash-looping container for one that ended for good.
   */
  boolean restartPending(ContainerView v);

  void addHealthListener(HealthListener l);
}
