package dev.berth.scheduler.score;

import dev.berth.scheduler.GroupContext;
import dev.berth.scheduler.Scorer;
import dev.berth.scheduler.model.Affinity;
import java.util.Arrays;
import java.util.List;
import java.util.function.Predicate;

/**
 * The job's affinities, as Nomad's: the weights of the affinities a node satisfies, summed and
 * divided by the sum of all their magnitudes, in [−1, 1]. A node's score depends only on its
 * labels, so it is computed once per node and task group.
 */
public final class AffinityScorer implements Scorer {

  private final double weight;

  public AffinityScorer(double weight) {
    this.weight = weight;
  }

  @Override
  public String name() {
    return "affinity";
  }

  @Override
  public double weight() {
    return weight;
  }

  @Override
  public NodeScore prepare(GroupContext group) {
    List<Affinity> affinities = group.affinities();
    if (affinities.isEmpty()) {
      return null;
    }
    Affinity[] a = affinities.toArray(new Affinity[0]);
    @SuppressWarnings("unchecked")
    Predicate<String>[] m = affinities.stream().map(Affinity::matcher).toArray(Predicate[]::new);
    double magnitude = affinities.stream().mapToInt(x -> Math.abs(x.weight())).sum();
    double[] cache = new double[group.nodeCount()];
    Arrays.fill(cache, Double.NaN);
    return node -> {
      double c = cache[node];
      if (c == c) { // not NaN: known
        return c;
      }
      double sum = 0;
      for (int i = 0; i < a.length; i++) {
        if (m[i].test(group.node(node).property(a[i].target()))) {
          sum += a[i].weight();
        }
      }
      cache[node] = sum / magnitude;
      return cache[node];
    };
  }
}
