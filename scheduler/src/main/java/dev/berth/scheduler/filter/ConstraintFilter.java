package dev.berth.scheduler.filter;

import dev.berth.scheduler.FeasibilityFilter;
import dev.berth.scheduler.GroupContext;
import dev.berth.scheduler.model.Constraint;
import java.util.List;
import java.util.function.Predicate;

/**
 * Every constraint of the job and the group holds on the node's labels and attributes
 * ({@code ==}, {@code !=}, {@code in}, {@code not_in}, {@code regexp}, {@code version},
 * {@code is_set}, {@code is_not_set}).
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
    @SuppressWarnings("unchecked")
    Predicate<String>[] matchers = constraints.stream().map(Constraint::matcher)
        .toArray(Predicate[]::new);
    return node -> {
      for (int i = 0; i < matchers.length; i++) {
        Constraint c = constraints.get(i);
        String actual = group.node(node).property(c.target());
        if (!matchers[i].test(actual)) {
          return c + " not met (node has " + (actual == null ? "none" : "\"" + actual + "\"")
              + ")";
        }
      }
      return null;
    };
  }
}
