package dev.berth.scheduler;

import dev.berth.scheduler.model.Node;
import dev.berth.scheduler.model.Spread;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeSet;

/**
 * For one spread of one task group: the values the property takes across the nodes, which value
 * each node has, how many of the group's replicas each value should get and how many it has.
 * Values are numbered in name order so that everything keyed by them is a flat array.
 *
 * <p>Built once per task group and evaluation; the counts change as replicas are placed. A
 * scorer reads it; only the scheduler changes it.
 */
public final class SpreadTally {

  private final Spread spread;
  private final String[] values;
  private final int[] nodeValue;
  private final double[] desired;
  private final int[] counts;

  SpreadTally(Spread spread, Node[] nodes, int total) {
    this.spread = spread;
    TreeSet<String> seen = new TreeSet<>();
    String[] raw = new String[nodes.length];
    for (int i = 0; i < nodes.length; i++) {
      raw[i] = nodes[i].property(spread.target());
      if (raw[i] != null) {
        seen.add(raw[i]);
      }
    }
    Map<String, Integer> id = new HashMap<>();
    for (Spread.SpreadTarget t : spread.targets()) {
      seen.add(t.value()); // a named value with no node yet still has its share
    }
    values = seen.toArray(new String[0]);
    for (int v = 0; v < values.length; v++) {
      id.put(values[v], v);
    }
    nodeValue = new int[nodes.length];
    for (int i = 0; i < nodes.length; i++) {
      nodeValue[i] = raw[i] == null ? -1 : id.get(raw[i]);
    }
    desired = new double[values.length];
    counts = new int[values.length];
    if (spread.targets().isEmpty()) {
      Arrays.fill(desired, values.length == 0 ? 0 : (double) total / values.length);
    } else {
      int named = 0;
      for (Spread.SpreadTarget t : spread.targets()) {
        desired[id.get(t.value())] = total * t.percent() / 100.0;
        named += t.percent();
      }
      int unnamed = values.length - spread.targets().size();
      if (unnamed > 0) {
        double share = total * (100 - named) / 100.0 / unnamed;
        java.util.Set<String> namedValues = new java.util.HashSet<>();
        spread.targets().forEach(t -> namedValues.add(t.value()));
        for (int v = 0; v < values.length; v++) {
          if (!namedValues.contains(values[v])) {
            desired[v] = share;
          }
        }
      }
    }
  }

  public Spread spread() {
    return spread;
  }

  public int valueCount() {
    return values.length;
  }

  public String value(int v) {
    return values[v];
  }

  /** The value id of the node at {@code node}, or −1 when it lacks the property. */
  public int valueOf(int node) {
    return nodeValue[node];
  }

  /** How many of the group's replicas the value should hold (fractional). */
  public double desired(int v) {
    return desired[v];
  }

  /** How many it holds now. */
  public int count(int v) {
    return counts[v];
  }

  void add(int node, int delta) {
    int v = nodeValue[node];
    if (v >= 0) {
      counts[v] += delta;
    }
  }
}
