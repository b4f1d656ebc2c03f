package dev.berth.scheduler.filter;

import dev.berth.scheduler.FeasibilityFilter;
import dev.berth.scheduler.GroupContext;

/** With {@code distinct_hosts}, a node holds at most one replica of the task group. */
public final class DistinctHostsFilter implements FeasibilityFilter {

  @Override
  public String name() {
    return "distinct_hosts";
  }

  @Override
  public boolean isStatic() {
    return false;
  }

  @Override
  public boolean isNodeLocal() {
    return true;
  }

  @Override
  public Check prepare(GroupContext group) {
    if (!group.group().distinctHosts()) {
      return null;
    }
    String name = group.group().name();
    Rejection taken = () -> "already runs a replica of \"" + name + "\" (distinct_hosts)";
    return node -> group.replicasOn(node) == 0 ? null : taken;
  }
}
