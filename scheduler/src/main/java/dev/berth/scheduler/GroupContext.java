package dev.berth.scheduler;

import dev.berth.scheduler.model.Affinity;
import dev.berth.scheduler.model.ClusterSnapshot;
import dev.berth.scheduler.model.Constraint;
import dev.berth.scheduler.model.Job;
import dev.berth.scheduler.model.Node;
import dev.berth.scheduler.model.NodeTable;
import dev.berth.scheduler.model.PlacementStrategy;
import dev.berth.scheduler.model.Spread;
import dev.berth.scheduler.model.TaskGroup;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What filters and scorers see while one task group is placed: the group (with its job's
 * constraints, spreads and affinities merged in), the nodes, what each node has in use right now
 * (this plan's stops and placements so far included), and where the group's replicas are.
 *
 * <p>Read-only to filters and scorers; the scheduler updates it after each placement. Confined to
 * one {@link Scheduler#schedule} call.
 */
public final class GroupContext {

  private final PlacementContext cluster;
  private final Job job;
  private final TaskGroup group;
  private final List<Constraint> constraints;
  private final List<Spread> spreads;
  private final List<Affinity> affinities;
  private final PlacementStrategy strategy;
  private final int replicaTotal;
  private final int[] replicasOn;
  private final List<SpreadTally> tallies;
  /** Per replica index: positions of the nodes its earlier allocations failed on. */
  private Map<Integer, int[]> failedOn = Map.of();
  private static final int[] NONE = new int[0];
  /** The nodes the replica being placed now failed on; empty between placements. */
  private int[] placingFailedOn = NONE;

  GroupContext(PlacementContext cluster, Job job, TaskGroup group, int replicaTotal) {
    this.cluster = cluster;
    this.job = job;
    this.group = group;
    this.constraints = concat(job.constraints(), group.constraints());
    this.spreads = concat(job.spreads(), group.spreads());
    this.affinities = concat(job.affinities(), group.affinities());
    this.strategy = job.strategy() != null ? job.strategy() : cluster.config.defaultStrategy();
    this.replicaTotal = replicaTotal;
    this.replicasOn = new int[cluster.nodeCount()];
    List<SpreadTally> t = new ArrayList<>(spreads.size());
    for (Spread s : spreads) {
      t.add(new SpreadTally(s, cluster.table.column(s.target()), replicaTotal));
    }
    this.tallies = List.copyOf(t);
  }

  private static <T> List<T> concat(List<T> a, List<T> b) {
    if (a.isEmpty()) {
      return b;
    }
    List<T> out = new ArrayList<>(a);
    out.addAll(b);
    return List.copyOf(out);
  }

  public Job job() {
    return job;
  }

  public TaskGroup group() {
    return group;
  }

  /** The job's and the group's constraints. */
  public List<Constraint> constraints() {
    return constraints;
  }

  /** The job's and the group's spreads. */
  public List<Spread> spreads() {
    return spreads;
  }

  /** The job's and the group's affinities. */
  public List<Affinity> affinities() {
    return affinities;
  }

  /** The job's strategy, or the cluster's default. */
  public PlacementStrategy strategy() {
    return strategy;
  }

  public SchedulerConfig config() {
    return cluster.config;
  }

  public int nodeCount() {
    return cluster.nodeCount();
  }

  public Node node(int node) {
    return cluster.table.node(node);
  }

  /**
   * The nodes laid out for filters and scorers: readiness, property columns, image and volume
   * holdings, each computed once per snapshot rather than per task group.
   */
  public NodeTable table() {
    return cluster.table;
  }

  private long free(int node, int offset) {
    return cluster.resources[node * ClusterSnapshot.RESOURCE_STRIDE + offset];
  }

  public long capacityCpu(int node) {
    return free(node, PlacementContext.CPU_CAPACITY);
  }

  public long capacityMemory(int node) {
    return free(node, PlacementContext.MEMORY_CAPACITY);
  }

  public long capacityPids(int node) {
    return cluster.table.capacityPids(node);
  }

  /** Cpu free on the node now: capacity minus use; negative when it is overcommitted. */
  public long freeCpu(int node) {
    return free(node, PlacementContext.CPU_FREE);
  }

  /** Memory free on the node now, as {@link #freeCpu}. */
  public long freeMemory(int node) {
    return free(node, PlacementContext.MEMORY_FREE);
  }

  /** Pids free on the node now, as {@link #freeCpu}. */
  public long freePids(int node) {
    return free(node, PlacementContext.PIDS_FREE);
  }

  public long usedCpu(int node) {
    return capacityCpu(node) - freeCpu(node);
  }

  public long usedMemory(int node) {
    return capacityMemory(node) - freeMemory(node);
  }

  public long usedPids(int node) {
    return capacityPids(node) - freePids(node);
  }

  public boolean portTaken(int node, int port) {
    return cluster.portTaken(node, port);
  }

  /** How many ports of the dynamic range are still free on the node. */
  public int dynamicPortsFree(int node) {
    return cluster.dynamicPortsFree(node);
  }

  /** How many of this group's replicas the node holds (kept ones and this plan's). */
  public int replicasOn(int node) {
    return replicasOn[node];
  }

  /** How many replicas the group should have in all (spread shares are of this). */
  public int replicaTotal() {
    return replicaTotal;
  }

  /** One tally per spread, in {@link #spreads()} order. */
  public List<SpreadTally> spreadTallies() {
    return tallies;
  }

  /** Whether some replica of this group failed on a node before (set before scorers bind). */
  public boolean hasFailures() {
    return !failedOn.isEmpty();
  }

  /**
   * Whether the replica being placed now failed on this node before: a reschedule should go
   * elsewhere when it can.
   */
  public boolean failedBefore(int node) {
    for (int n : placingFailedOn) {
      if (n == node) {
        return true;
      }
    }
    return false;
  }

  void failures(Map<Integer, int[]> byIndex) {
    this.failedOn = Map.copyOf(byIndex);
  }

  /** The replica with this index is placed next. */
  void placing(int index) {
    placingFailedOn = failedOn.isEmpty() ? NONE : failedOn.getOrDefault(index, NONE);
  }

  void countReplica(int node, int delta) {
    replicasOn[node] += delta;
    for (SpreadTally t : tallies) {
      t.add(node, delta);
    }
  }
}
