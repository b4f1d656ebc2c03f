package dev.berth.scheduler.filter;

import dev.berth.scheduler.FeasibilityFilter;
import dev.berth.scheduler.GroupContext;
import dev.berth.scheduler.model.NodeTable;

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

  private static final Rejection NOT_READY = () -> "node is not ready";
  private static final Rejection INELIGIBLE = () -> "node is ineligible for scheduling";
  private static final Rejection DRAINING = () -> "node is draining";

  @Override
  public Check prepare(GroupContext group) {
    NodeTable table = group.table();
    return node -> switch (table.status(node)) {
      case NodeTable.SCHEDULABLE -> null;
      case NodeTable.NOT_READY -> NOT_READY;
      case NodeTable.INELIGIBLE -> INELIGIBLE;
      default -> DRAINING;
    };
  }
}
