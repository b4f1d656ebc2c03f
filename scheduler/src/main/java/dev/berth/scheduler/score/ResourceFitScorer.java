package dev.berth.scheduler.score;

import dev.berth.scheduler.GroupContext;
import dev.berth.scheduler.Scorer;
import dev.berth.scheduler.model.PlacementStrategy;
import dev.berth.scheduler.model.Resources;

/**
 * Bin-pack or spread by free capacity, as the job (or the cluster's default) asks: the node's
 * mean utilisation of cpu and memory after the placement, in [0, 1]. Bin-pack scores that
 * utilisation (fuller is better), spread its complement (emptier is better).
 */
public final class ResourceFitScorer implements Scorer {

  private final double weight;

  public ResourceFitScorer(double weight) {
    this.weight = weight;
  }

  @Override
  public String name() {
    return "fit";
  }

  @Override
  public boolean isNodeLocal() {
    return true;
  }

  @Override
  public double weight() {
    return weight;
  }

  @Override
  public NodeScore prepare(GroupContext group) {
    Resources r = group.group().resources();
    long cpu = r.cpuMillis();
    long mem = r.memoryBytes();
    boolean binpack = group.strategy() == PlacementStrategy.BINPACK;
    return node -> {
      double u = (ratio(group.usedCpu(node) + cpu, group.capacityCpu(node))
          + ratio(group.usedMemory(node) + mem, group.capacityMemory(node))) / 2;
      return binpack ? u : 1 - u;
    };
  }

  private static double ratio(long used, long capacity) {
    return capacity <= 0 ? 1 : Math.min(1.0, (double) used / capacity);
  }
}
