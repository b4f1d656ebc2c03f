package dev.berth.scheduler;

/**
 * Finds the candidate nodes for one placement: up to {@code limit} feasible nodes, the power of
 * d choices of Sparrow and Nomad, so a placement's cost does not grow with the cluster.
 *
 * <p>Nodes are walked in the evaluation's seeded random order from a cursor that keeps rotating
 * across placements, so consecutive replicas see different nodes and a replay sees the same ones.
 * A node found infeasible is swapped out of the walk for the rest of the task group (verdicts only
 * get worse within an evaluation, see {@link FeasibilityFilter}); so when the sample would hold no
 * fitting node the walk simply goes on over every node still in it, which is the full-scan
 * fallback, and each node is rejected at most once. A replica is left pending only when every
 * node has been rejected. Cost per task group: O(nodes) rejections at most, plus O(limit) checks
 * per placement.
 *
 * <p>With a spread, the nodes are walked per value of the spread's property (its strongest spread
 * when it has several), and candidates come from the value furthest below its share that still has
 * a feasible node: scoring can only choose among the nodes it is shown, and a sample without the
 * short value would let the spread drift. Properties with more than {@link #MAX_STEERED_VALUES}
 * values (say, one per node) are left to the scorer, since choosing the value would then cost
 * more than the placement.
 *
 * <p>Confined to one evaluation, like the {@link GroupContext} it reads.
 */
final class CandidateSampler {

  /** Beyond this many values a spread steers no sampling: see the class comment. */
  static final int MAX_STEERED_VALUES = 64;

  private final Pipeline.Bound pipeline;
  private final int limit;
  private final SpreadTally steer;
  /** The walks: one per spread value and a last one for nodes lacking it; or one of all nodes. */
  private final int[][] walks;
  private final int[] live;
  private final int[] cursor;
  /** Per node, the placement it was last sampled for, so no node is a candidate twice. */
  private final int[] seen;
  private int stamp;
  long visits;

  CandidateSampler(GroupContext group, Pipeline.Bound pipeline, int[] order, int limit) {
    this.pipeline = pipeline;
    this.limit = limit;
    SpreadTally strongest = null;
    for (SpreadTally t : group.spreadTallies()) {
      if (strongest == null || t.spread().weight() > strongest.spread().weight()) {
        strongest = t;
      }
    }
    int n = order.length;
    if (strongest != null && strongest.valueCount() > 0
        && strongest.valueCount() <= MAX_STEERED_VALUES) {
      steer = strongest;
      int k = steer.valueCount();
      int[] sizes = new int[k + 1];
      for (int node : order) {
        int v = steer.valueOf(node);
        sizes[v < 0 ? k : v]++;
      }
      walks = new int[k + 1][];
      for (int v = 0; v <= k; v++) {
        walks[v] = new int[sizes[v]];
      }
      int[] fill = new int[k + 1];
      for (int node : order) {
        int v = steer.valueOf(node);
        int w = v < 0 ? k : v;
        walks[w][fill[w]++] = node;
      }
    } else {
      steer = null;
      walks = new int[][] {order.clone()};
    }
    live = new int[walks.length];
    cursor = new int[walks.length];
    for (int w = 0; w < walks.length; w++) {
      live[w] = walks[w].length;
    }
    seen = new int[n];
  }

  /**
   * Fills {@code out} (at least {@code limit} long) with feasible candidates and returns how many;
   * 0 only when no node at all can take the replica.
   */
  int sample(int[] out) {
    stamp++;
    if (steer == null) {
      return collect(0, out);
    }
    int k = steer.valueCount();
    while (true) {
      int best = -1;
      double bestDeficit = Double.NEGATIVE_INFINITY;
      for (int v = 0; v < k; v++) {
        if (live[v] > 0) {
          double deficit = steer.desired(v) - steer.count(v);
          if (deficit > bestDeficit) {
            bestDeficit = deficit;
            best = v;
          }
        }
      }
      if (best < 0) {
        return collect(k, out); // only nodes lacking the property are left
      }
      int found = collect(best, out);
      if (found > 0) {
        return found;
      }
      // that value has no feasible node left: live[best] is 0 now; try the next
    }
  }

  private int collect(int w, int[] out) {
    int[] walk = walks[w];
    int found = 0;
    int visited = 0;
    while (live[w] > 0 && found < limit && visited < live[w]) {
      if (cursor[w] >= live[w]) {
        cursor[w] = 0;
      }
      int node = walk[cursor[w]];
      visits++;
      if (pipeline.feasible(node)) {
        visited++;
        cursor[w]++;
        if (seen[node] != stamp) {
          seen[node] = stamp;
          out[found++] = node;
        }
      } else {
        // Out of the walk for good: the last live node takes its place.
        int last = --live[w];
        walk[cursor[w]] = walk[last];
        walk[last] = node;
      }
    }
    return found;
  }
}
