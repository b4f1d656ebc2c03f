package dev.berth.scheduler;

import dev.berth.scheduler.model.Allocation;
import dev.berth.scheduler.model.NodeTable;
import java.util.AbstractList;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.RandomAccess;

/**
 * What an evaluation decided: for each task group, the allocations to create, those to stop, and
 * the replicas that could not be placed with why. Nothing of it has happened yet: a
 * {@link PlanApplier} commits it against the cluster as it is by then.
 *
 * @param evaluationId  the evaluation it answers
 * @param job           the job's name
 * @param snapshotIndex the index of the snapshot it was computed from
 * @param groups        one per task group of the job (and one per group the job no longer has
 *                      but still has allocations of)
 */
public record Plan(String evaluationId, String job, long snapshotIndex, List<GroupPlan> groups) {

  public Plan {
    groups = List.copyOf(groups);
  }

  /** Every new allocation, in placement order. */
  public List<Allocation> placements() {
    List<Allocation> out = new ArrayList<>();
    groups.forEach(g -> out.addAll(g.placements()));
    return out;
  }

  /** Every allocation to stop. */
  public List<Stop> stops() {
    List<Stop> out = new ArrayList<>();
    groups.forEach(g -> out.addAll(g.stops()));
    return out;
  }

  /** New allocations per node id, in placement order. */
  public Map<String, List<Allocation>> placementsByNode() {
    Map<String, List<Allocation>> out = new LinkedHashMap<>();
    for (Allocation a : placements()) {
      out.computeIfAbsent(a.node(), k -> new ArrayList<>()).add(a);
    }
    return out;
  }

  /** Whether every replica wanted was placed. */
  public boolean complete() {
    return groups.stream().allMatch(g -> g.unplaced().indices().isEmpty());
  }

  public GroupPlan group(String taskGroup) {
    return groups.stream().filter(g -> g.taskGroup().equals(taskGroup)).findFirst().orElse(null);
  }

  /**
   * One task group's part of a plan.
   *
   * @param taskGroup    the group's name
   * @param placements   allocations to create
   * @param stops        allocations to stop, highest index first
   * @param unplaced     replicas that could not be placed, and why
   * @param explanations one per node a filter rejected (every node, when the scheduler was told
   *                     to {@linkplain SchedulerConfig#explainAll explain all}), in node order
   * @param nodesChecked how many node checks the placements took (a cost measure)
   */
  public record GroupPlan(String taskGroup, List<Allocation> placements, List<Stop> stops,
      Unplaced unplaced, List<NodeExplanation> explanations, long nodesChecked) {
    public GroupPlan {
      placements = List.copyOf(placements);
      stops = List.copyOf(stops);
      explanations = explanations instanceof Rejections ? explanations
          : List.copyOf(explanations);
    }
  }

  /**
   * The explanations of the nodes a task group's filters rejected, kept as the scheduler recorded
   * them: per node its position, the rejecting filter and the rejection. An explanation is made
   * when read, and its reason put into words then, so a plan on a large cluster carries thousands
   * of rejections at the cost of the list of their positions. Immutable.
   */
  static final class Rejections extends AbstractList<NodeExplanation> implements RandomAccess {
    private final NodeTable table;
    private final int[] nodes;
    private final String[] filters;
    private final byte[] filterOf;
    private final int filterBase;
    private final FeasibilityFilter.Rejection[] rejections;

    /**
     * Shares the scheduler's per-node records rather than copying the rejected nodes' entries
     * out of them: the group's placing is over when its plan is made, so they no longer change.
     *
     * @param nodes      positions of the rejected nodes, in position order
     * @param filters    the filters' names
     * @param filterOf   per node position, {@code filterBase} plus the index of its rejecting
     *                   filter in {@code filters}
     * @param rejections per node position, its rejection
     */
    Rejections(NodeTable table, int[] nodes, String[] filters, byte[] filterOf, int filterBase,
        FeasibilityFilter.Rejection[] rejections) {
      this.table = table;
      this.nodes = nodes;
      this.filters = filters;
      this.filterOf = filterOf;
      this.filterBase = filterBase;
      this.rejections = rejections;
    }

    @Override
    public NodeExplanation get(int i) {
      int node = nodes[i];
      return new NodeExplanation(table.id(node), table.name(node),
          filters[filterOf[node] - filterBase], rejections[node]);
    }

    @Override
    public int size() {
      return nodes.length;
    }
  }

  /** An allocation to stop, and why ("scaled down", "replaced: node down"). */
  public record Stop(Allocation allocation, String reason) {
  }

  /**
   * Replicas of a group that no node could take, and why: per filter, how many nodes it rejected
   * and one of its reasons. Pending replicas are placed by a later evaluation when capacity
   * appears.
   *
   * @param indices the replicas' indices; empty when all were placed
   * @param byFilter the rejections, most frequent first
   */
  public record Unplaced(List<Integer> indices, List<FilterTally> byFilter) {

    public static final Unplaced NONE = new Unplaced(List.of(), List.of());

    public Unplaced {
      indices = List.copyOf(indices);
      byFilter = List.copyOf(byFilter);
    }

    /** "2 replicas pending: 3 nodes rejected by resources (n1: memory …), 1 by ports (…)". */
    public String summary() {
      if (indices.isEmpty()) {
        return "all replicas placed";
      }
      StringBuilder b = new StringBuilder().append(indices.size())
          .append(indices.size() == 1 ? " replica" : " replicas").append(" pending: ");
      if (byFilter.isEmpty()) {
        return b.append("no nodes in the cluster").toString();
      }
      for (int i = 0; i < byFilter.size(); i++) {
        FilterTally t = byFilter.get(i);
        b.append(i == 0 ? "" : ", ").append(t.nodes()).append(t.nodes() == 1 ? " node" : " nodes")
            .append(" rejected by ").append(t.filter()).append(" (").append(t.sampleNode())
            .append(": ").append(t.sampleReason()).append(")");
      }
      return b.toString();
    }
  }

  /** How many nodes one filter rejected, and one of them with its reason. */
  public record FilterTally(String filter, int nodes, String sampleNode, String sampleReason) {
  }

  /**
   * Why a node was or was not a candidate, for {@code berth job plan}. A value: two explanations
   * are equal when they say the same of the same node. The reason is kept as the filter saw it
   * and put into words when first read, since most plans' explanations are never read.
   */
  public static final class NodeExplanation {
    private final String nodeId;
    private final String nodeName;
    private final String filter;
    private final FeasibilityFilter.Rejection words;
    /** The reason once put into words; racing readers compute the same string. */
    private String reason;

    /**
     * @param filter the rejecting filter, or null when the node is feasible
     * @param reason the filter's reason, or for a feasible node what became of it
     */
    public NodeExplanation(String nodeId, String nodeName, String filter, String reason) {
      this(nodeId, nodeName, filter, () -> reason);
      this.reason = reason;
    }

    /** As the public constructor, with a reason put into words on first read. */
    NodeExplanation(String nodeId, String nodeName, String filter,
        FeasibilityFilter.Rejection reason) {
      this.nodeId = Objects.requireNonNull(nodeId, "nodeId");
      this.nodeName = Objects.requireNonNull(nodeName, "nodeName");
      this.filter = filter;
      this.words = Objects.requireNonNull(reason, "reason");
    }

    public String nodeId() {
      return nodeId;
    }

    public String nodeName() {
      return nodeName;
    }

    /** The rejecting filter, or null when the node is feasible. */
    public String filter() {
      return filter;
    }

    /** The filter's reason, or for a feasible node what became of it. */
    public String reason() {
      String r = reason;
      if (r == null) {
        r = words.reason();
        reason = r;
      }
      return r;
    }

    public boolean feasible() {
      return filter == null;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof NodeExplanation e && nodeId.equals(e.nodeId)
          && nodeName.equals(e.nodeName) && Objects.equals(filter, e.filter)
          && Objects.equals(reason(), e.reason());
    }

    @Override
    public int hashCode() {
      return Objects.hash(nodeId, nodeName, filter, reason());
    }

    @Override
    public String toString() {
      return feasible() ? "node " + nodeName + " feasible: " + reason()
          : "node " + nodeName + " rejected by " + filter + ": " + reason();
    }
  }
}
