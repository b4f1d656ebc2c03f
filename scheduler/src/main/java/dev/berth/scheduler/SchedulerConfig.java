package dev.berth.scheduler;

import dev.berth.scheduler.model.PlacementStrategy;
import java.util.Objects;

/**
 * Cluster-wide settings of the placement engine.
 *
 * @param defaultStrategy    bin-pack or spread, for jobs that name neither
 * @param minCandidates      the fewest feasible nodes sampled per placement
 * @param maxCandidates      the most feasible nodes sampled per placement; between the two the
 *                           sample is ⌈log2 n⌉ of n nodes, as Nomad's
 * @param dynamicPortMin     first port of the range dynamic ports come from
 * @param dynamicPortMax     last port of that range
 * @param fitWeight          weight of the bin-pack/spread score
 * @param spreadWeight       weight of the label spread score (each spread's own weight splits it)
 * @param antiAffinityWeight weight of keeping a job's replicas apart
 * @param imageWeight        weight of preferring nodes that hold the image
 * @param affinityWeight     weight of the job's affinities
 * @param explainAll         after placing, test every node not examined and explain it too (for
 *                           {@code berth job plan}; it costs a full scan per task group)
 * @param reschedulePenaltyWeight weight of keeping a failed replica off the nodes it failed on
 */
public record SchedulerConfig(PlacementStrategy defaultStrategy, int minCandidates,
    int maxCandidates, int dynamicPortMin, int dynamicPortMax, double fitWeight,
    double spreadWeight, double antiAffinityWeight, double imageWeight, double affinityWeight,
    boolean explainAll, double reschedulePenaltyWeight) {

  /**
   * Bin-pack by default (fewer, fuller hosts leave room for big jobs, as Nomad's default); 2 to 10
   * candidates: ⌈log2 n⌉ is what Nomad samples, and the cap is its value at 1,000 nodes, so that a
   * placement's cost stops growing with the cluster there (at 10,000 nodes ⌈log2 n⌉ would be 14,
   * 40% more checks and scores per placement for a best-of-14 instead of a best-of-10, whose
   * expected rank among the feasible nodes is already in their top 10%); dynamic ports 20000–32000
   * (Nomad's range, below Linux's ephemeral range 32768–60999 so they never collide with outgoing
   * connections); the fit and spread scores weigh as much as the others together, since capacity
   * and a user's spread are what a placement most visibly gets right or wrong; the reschedule
   * penalty weighs 2, more than fit, anti-affinity and image locality together (1.75), so that a
   * replica that failed on a node goes elsewhere whenever another node is feasible and no spread or
   * affinity of the user's says otherwise.
   */
  public static final SchedulerConfig DEFAULT = new SchedulerConfig(PlacementStrategy.BINPACK,
      2, 10, 20000, 32000, 1.0, 1.0, 0.5, 0.25, 0.5, false, 2.0);

  /** As the canonical constructor, with the default reschedule penalty weight. */
  public SchedulerConfig(PlacementStrategy defaultStrategy, int minCandidates, int maxCandidates,
      int dynamicPortMin, int dynamicPortMax, double fitWeight, double spreadWeight,
      double antiAffinityWeight, double imageWeight, double affinityWeight, boolean explainAll) {
    this(defaultStrategy, minCandidates, maxCandidates, dynamicPortMin, dynamicPortMax, fitWeight,
        spreadWeight, antiAffinityWeight, imageWeight, affinityWeight, explainAll, 2.0);
  }

  public SchedulerConfig {
    Objects.requireNonNull(defaultStrategy, "defaultStrategy");
    if (minCandidates < 1 || maxCandidates < minCandidates) {
      throw new IllegalArgumentException("candidates " + minCandidates + ".." + maxCandidates);
    }
    if (dynamicPortMin < 1 || dynamicPortMax > 65535 || dynamicPortMax < dynamicPortMin) {
      throw new IllegalArgumentException("dynamic ports " + dynamicPortMin + ".." + dynamicPortMax);
    }
  }

  /** How many feasible nodes to sample per placement on a cluster of {@code nodes}. */
  public int candidates(int nodes) {
    int log2 = nodes <= 1 ? 1 : 32 - Integer.numberOfLeadingZeros(nodes - 1);
    return Math.max(minCandidates, Math.min(maxCandidates, log2));
  }

  public SchedulerConfig withExplainAll(boolean explainAll) {
    return new SchedulerConfig(defaultStrategy, minCandidates, maxCandidates, dynamicPortMin,
        dynamicPortMax, fitWeight, spreadWeight, antiAffinityWeight, imageWeight, affinityWeight,
        explainAll, reschedulePenaltyWeight);
  }

  public SchedulerConfig withDefaultStrategy(PlacementStrategy strategy) {
    return new SchedulerConfig(strategy, minCandidates, maxCandidates, dynamicPortMin,
        dynamicPortMax, fitWeight, spreadWeight, antiAffinityWeight, imageWeight, affinityWeight,
        explainAll, reschedulePenaltyWeight);
  }

  public SchedulerConfig withCandidates(int min, int max) {
    return new SchedulerConfig(defaultStrategy, min, max, dynamicPortMin, dynamicPortMax,
        fitWeight, spreadWeight, antiAffinityWeight, imageWeight, affinityWeight, explainAll,
        reschedulePenaltyWeight);
  }
}
