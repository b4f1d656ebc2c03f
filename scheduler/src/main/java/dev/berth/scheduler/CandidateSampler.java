package dev.berth.scheduler;

import dev.berth.scheduler.model.NodeTable;
import java.util.random.RandomGenerator;

/**
 * Finds the candidate nodes for one placement: up to {@code limit} feasible nodes, the power of
 * d choices of Sparrow and Nomad, so a placement's cost does not grow with the cluster.
 *
 * <p>Nodes are walked in a seeded random order from a cursor that keeps rotating across
 * placements, so consecutive replicas see different nodes and a replay sees the same ones. The
 * order is drawn lazily, a Fisher–Yates shuffle one step per node reached: the walk holds the
 * nodes drawn so far in their random order, then the nodes not drawn yet; when the cursor reaches
 * the first of those, one of them is drawn at random from the generator. A placement therefore
 * costs random draws for the nodes it visits, never for the whole cluster.
 *
 * <p>A node found infeasible is taken out of the walk for the rest of the task group (verdicts
 * only get worse within an evaluation, see {@link FeasibilityFilter}); so when the sample would
 * hold no fitting node the walk simply goes on, drawing as it goes, over every node still in it,
 * which is the full-scan fallback, and each node is rejected at most once. A replica is left
 * pending only when every node has been rejected. Cost per task group: O(nodes) rejections at
 * most, plus O(limit) checks per placement, plus one copy of the node positions (an array copy).
 *
 * <p>With a spread, the nodes are walked per value of the spread's property (its strongest spread
 * when it has several), and candidates come from the value furthest below its share that still has
 * a feasible node: scoring can only choose among the nodes it is shown, and a sample without the
 * short value would let the spread drift. Properties with more than {@link #MAX_STEERED_VALUES}
 * values (say, one per node) are left to the scorer, since choosing the value would then cost
 * more than the placement. The nodes of each value come from the snapshot's column for the
 * property, laid out once per snapshot.
 *
 * <p>Confined to one evaluation, like the {@link GroupContext} it reads.
 */
final class CandidateSampler {

  /** Beyond this many values a spread steers no sampling: see the class comment. */
  static final int MAX_STEERED_VALUES = 64;

  private final Pipeline.Bound pipeline;
  private final RandomGenerator random;
  private final int limit;
  private final SpreadTally steer;
  /** The walks: one per spread value and a last one for nodes lacking it; or one of all nodes. */
  private final int[][] walks;
  /** Per walk: its nodes still in it are {@code [0, live)}; the removed ones follow. */
  private final int[] live;
  /** Per walk: {@code [0, drawn)} are in their drawn order, {@code [drawn, live)} not drawn yet. */
  private final int[] drawn;
  private final int[] cursor;
  long visits;

  CandidateSampler(GroupContext group, Pipeline.Bound pipeline, RandomGenerator random,
      int limit) {
    this.pipeline = pipeline;
    this.random = random;
    this.limit = limit;
    SpreadTally strongest = null;
    for (SpreadTally t : group.spreadTallies()) {
      if (strongest == null || t.spread().weight() > strongest.spread().weight()) {
        strongest = t;
      }
    }
    int n = group.nodeCount();
    if (strongest != null && strongest.valueCount() > 0
        && strongest.valueCount() <= MAX_STEERED_VALUES) {
      steer = strongest;
      int k = steer.valueCount();
      NodeTable.Column column = steer.column();
      walks = new int[k + 1][];
      for (int v = 0; v <= k; v++) {
        int c = v < k ? steer.columnId(v) : -1;
        if (v < k && c < 0) {
          walks[v] = new int[0];
        } else {
          walks[v] = new int[column.size(c)];
          column.copyNodes(c, walks[v], 0);
        }
      }
    } else {
      steer = null;
      int[] all = new int[n];
      for (int i = 0; i < n; i++) {
        all[i] = i;
      }
      walks = new int[][] {all};
    }
    live = new int[walks.length];
    drawn = new int[walks.length];
    cursor = new int[walks.length];
    for (int w = 0; w < walks.length; w++) {
      live[w] = walks[w].length;
    }
  }

  /**
   * Fills {@code out} (at least {@code limit} long) with feasible candidates and returns how many;
   * 0 only when no node at all can take the replica.
   */
  int sample(int[] out) {
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
      int at = cursor[w];
      if (at == drawn[w]) {
        // The walk reaches a node not drawn yet: draw it from those left.
        int j = at + random.nextInt(live[w] - at);
        int t = walk[j];
        walk[j] = walk[at];
        walk[at] = t;
        drawn[w]++;
      }
      int node = walk[at];
      visits++;
      if (pipeline.feasible(node)) {
        visited++;
        cursor[w]++;
        if (!contains(out, found, node)) { // a walk shorter than the limit comes round again
          out[found++] = node;
        }
      } else {
        // Out of the walk for good: the last drawn node takes its place (and is visited next),
        // the last undrawn one the last drawn's, and the node goes behind the live ones.
        int d = --drawn[w];
        walk[at] = walk[d];
        int last = --live[w];
        walk[d] = walk[last];
        walk[last] = node;
      }
    }
    return found;
  }

  /** A scan of the few candidates found so far: cheaper than a per-node array to mark them. */
  private static boolean contains(int[] a, int n, int x) {
    for (int i = 0; i < n; i++) {
      if (a[i] == x) {
        return true;
      }
    }
    return false;
  }
}
