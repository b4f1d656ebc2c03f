package dev.berth.scheduler.filter;

import dev.berth.scheduler.FeasibilityFilter;
import dev.berth.scheduler.GroupContext;
import dev.berth.scheduler.model.Constraint;
import dev.berth.scheduler.model.NodeTable;
import java.util.List;
import java.util.function.Predicate;

/**
 * Every constraint of the job and the group holds on the node's labels and attributes
 * ({@code ==}, {@code !=}, {@code in}, {@code not_in}, {@code regexp}, {@code version},
 * {@code is_set}, {@code is_not_set}). Reads the property from the snapshot's column for it and
 * tests each distinct value once per task group.
 */
public final class ConstraintFilter implements FeasibilityFilter {

  @Override
  public String name() {
    return "constraints";
  }

  @Override
  public boolean isStatic() {
    return true;
  }

  @Override
  public Check prepare(GroupContext group) {
    List<Constraint> constraints = group.constraints();
    if (constraints.isEmpty()) {
      return null;
    }
    int k = constraints.size();
    Constraint[] c = constraints.toArray(new Constraint[0]);
    NodeTable.Column[] columns = new NodeTable.Column[k];
    ValueVerdicts[] verdicts = new ValueVerdicts[k];
    for (int i = 0; i < k; i++) {
      columns[i] = group.table().column(c[i].target());
      verdicts[i] = new ValueVerdicts(c[i].matcher(), columns[i]);
    }
    return node -> {
      for (int i = 0; i < k; i++) {
        int v = columns[i].valueOf(node);
        if (!verdicts[i].holds(v)) {
          Constraint failed = c[i];
          String actual = v < 0 ? null : columns[i].value(v);
          return () -> failed + " not met (node has "
              + (actual == null ? "none" : "\"" + actual + "\"") + ")";
        }
      }
      return null;
    };
  }

  /**
   * A constraint's verdict per value of its property, tested the first time a node with that
   * value is checked: nodes share few values (a kernel version, a zone), so a regular expression
   * or a version parse runs once per value, not once per node.
   */
  private static final class ValueVerdicts {
    private final Predicate<String> matcher;
    private final NodeTable.Column column;
    /** Per value id + 1 (0: lacking the property): 0 not tested yet, 1 holds, 2 does not. */
    private final byte[] known;

    ValueVerdicts(Predicate<String> matcher, NodeTable.Column column) {
      this.matcher = matcher;
      this.column = column;
      this.known = new byte[column.valueCount() + 1];
    }

    boolean holds(int v) {
      byte k = known[v + 1];
      if (k == 0) {
        k = matcher.test(v < 0 ? null : column.value(v)) ? (byte) 1 : (byte) 2;
        known[v + 1] = k;
      }
      return k == 1;
    }
  }
}
