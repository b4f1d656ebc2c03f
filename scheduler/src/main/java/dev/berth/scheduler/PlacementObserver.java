package dev.berth.scheduler;

import dev.berth.scheduler.model.Allocation;

/**
 * Told of each placement as the scheduler makes it, on the scheduler's thread. For benchmarks
 * and tracing; it must not change anything the scheduler reads.
 */
@FunctionalInterface
public interface PlacementObserver {

  PlacementObserver NONE = a -> { };

  void placed(Allocation allocation);
}
