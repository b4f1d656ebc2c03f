package dev.berth.scheduler.score;

import dev.berth.scheduler.GroupContext;
import dev.berth.scheduler.Scorer;
import dev.berth.scheduler.model.Affinity;
import dev.berth.scheduler.model.NodeTable;
import java.util.List;
import java.util.function.Predicate;

/**
 * The job's affinities, as Nomad's: the weights of the affinities a node satisfies, summed and
 * divided by the sum of all their magnitudes, in [−1, 1]. A node's score depends only on its
 * properties, read from the snapshot's columns, and each affinity is tested once per distinct
 * value of its property and task group.
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
  public boolean isNodeLocal() {
    return true;
  }

  @Override
  public double weight() {
    return weight;
  }

  @Override
  @SuppressWarnings("unchecked")
  public NodeScore prepare(GroupContext group) {
    List<Affinity> affinities = group.affinities();
    if (affinities.isEmpty()) {
      return null;
    }
    Affinity[] a = affinities.toArray(new Affinity[0]);
    double magnitude = affinities.stream().mapToInt(x -> Math.abs(x.weight())).sum();
    NodeTable.Column[] columns = new NodeTable.Column[a.length];
    Predicate<String>[] matchers = new Predicate[a.length];
    byte[][] known = new byte[a.length][];
    for (int i = 0; i < a.length; i++) {
      columns[i] = group.table().column(a[i].target());
      matchers[i] = a[i].matcher();
      known[i] = new byte[columns[i].valueCount() + 1];
    }
    return node -> {
      double sum = 0;
      for (int i = 0; i < a.length; i++) {
        // Per value of the property (+1: 0 is "lacking it"): 0 not tested yet, 1 met, 2 not.
        int v = columns[i].valueOf(node);
        byte k = known[i][v + 1];
        if (k == 0) {
          k = matchers[i].test(v < 0 ? null : columns[i].value(v)) ? (byte) 1 : (byte) 2;
          known[i][v + 1] = k;
        }
        if (k == 1) {
          sum += a[i].weight();
        }
      }
      return sum / magnitude;
    };
  }
}
