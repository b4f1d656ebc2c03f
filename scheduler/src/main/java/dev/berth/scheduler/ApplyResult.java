package dev.berth.scheduler;

import dev.berth.scheduler.Plan.Stop;
import dev.berth.scheduler.model.Allocation;
import dev.berth.scheduler.model.AllocationStatus;
import dev.berth.scheduler.model.ClusterSnapshot;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * What {@link PlanApplier} found still holds of a plan.
 *
 * @param plan    the plan checked
 * @param placed  placements to commit
 * @param stopped stops to commit (those whose allocation still holds resources)
 * @param refused placements that no longer fit, with why; the job needs a new evaluation
 */
public record ApplyResult(Plan plan, List<Allocation> placed, List<Stop> stopped,
    List<Refusal> refused) {

  public ApplyResult {
    placed = List.copyOf(placed);
    stopped = List.copyOf(stopped);
    refused = List.copyOf(refused);
  }

  /** A placement the applier refused, and why. */
  public record Refusal(Allocation placement, String reason) {
  }

  /** Whether some of the plan could not be committed, so the job must be evaluated again. */
  public boolean needsReevaluation() {
    return !refused.isEmpty() || !plan.complete();
  }

  /**
   * The snapshot after committing this result on {@code current} (the one it was checked
   * against): stopped allocations marked {@link AllocationStatus#STOPPED}, placed ones added,
   * the index one higher. What a store does in its one replicated operation, for tests and
   * simulations.
   */
  public ClusterSnapshot commit(ClusterSnapshot current) {
    Set<String> stop = new HashSet<>();
    stopped.forEach(s -> stop.add(s.allocation().id()));
    List<Allocation> next = new ArrayList<>(current.allocations().size() + placed.size());
    for (Allocation a : current.allocations()) {
      next.add(stop.contains(a.id()) ? a.withStatus(AllocationStatus.STOPPED) : a);
    }
    next.addAll(placed);
    return current.withAllocations(current.index() + 1, next);
  }
}
