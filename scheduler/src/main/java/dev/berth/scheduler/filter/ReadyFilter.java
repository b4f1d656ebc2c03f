package dev.berth.scheduler.filter;

import dev.berth.scheduler.FeasibilityFilter;
import dev.berth.scheduler.GroupContext;
import dev.berth.scheduler.model.Node;

/** A node takes new work only when it is ready, eligible and not draining. */
public final class ReadyFilter implements FeasibilityFilter {

  @Override
  public String name() {
    return "ready";
  }

  @Override
  public boolean isStatic() {
    return true;
  }

  @Override
  public Check prepare(GroupContext group) {
    return node -> {
      Node n = group.node(node);
      if (!n.ready()) {
        return "node is not ready";
      }
      if (!n.eligible()) {
        return "node is ineligible for scheduling";
      }
      if (n.draining()) {
        return "node is draining";
      }
      return null;
    };
  }
}
