package dev.berth.scheduler;

import dev.berth.scheduler.model.NodeTable;
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
  private final NodeTable.Column column;
  private final String[] values;
  /** Value ids by the column's ids, or null when they are the same (no target lacks a node). */
  private final int[] fromColumn;
  private final double[] desired;
  private final int[] counts;

  /**
   * Costs O(values), not O(nodes): which node has which value is the snapshot's column, built
   * once for every evaluation on it.
   */
  SpreadTally(Spread spread, NodeTable.Column column, int total) {
    this.spread = spread;
    this.column = column;
    TreeSet<String> extra = new TreeSet<>();
    for (Spread.SpreadTarget t : spread.targets()) {
      if (column.id(t.value()) < 0) {
        extra.add(t.value()); // a named value with no node yet still has its share
      }
    }
    if (extra.isEmpty()) {
      values = new String[column.valueCount()];
      for (int v = 0; v < values.length; v++) {
        values[v] = column.value(v);
      }
      fromColumn = null;
    } else {
      TreeSet<String> all = new TreeSet<>(extra);
      for (int v = 0; v < column.valueCount(); v++) {
        all.add(column.value(v));
      }
      values = all.toArray(new String[0]);
      fromColumn = new int[column.valueCount()];
      for (int v = 0; v < fromColumn.length; v++) {
        fromColumn[v] = Arrays.binarySearch(values, column.value(v));
      }
    }
    Map<String, Integer> id = new HashMap<>();
    for (int v = 0; v < values.length; v++) {
      id.put(values[v], v);
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

  /** The column of the snapshot this tally reads. */
  NodeTable.Column column() {
    return column;
  }

  /** The column's id for value {@code v}, or −1 when no node has it (a target's value). */
  int columnId(int v) {
    return fromColumn == null ? v : column.id(values[v]);
  }

  /** The value id of the node at {@code node}, or −1 when it lacks the property. */
  public int valueOf(int node) {
    int v = column.valueOf(node);
    return v < 0 || fromColumn == null ? v : fromColumn[v];
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
    int v = valueOf(node);
    if (v >= 0) {
      counts[v] += delta;
    }
  }
}
