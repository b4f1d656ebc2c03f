package dev.berth.scheduler.filter;

import dev.berth.scheduler.FeasibilityFilter;
import dev.berth.scheduler.GroupContext;
import dev.berth.scheduler.model.PortRequest;

/**
 * A fixed host port can be held by one allocation per node, so a node where it is taken cannot
 * take the replica. Dynamic ports come from the cluster's range and fit while the range has as
 * many free ports as the group asks for.
 */
public final class PortsFilter implements FeasibilityFilter {

  @Override
  public String name() {
    return "ports";
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
    if (group.group().ports().isEmpty()) {
      return null;
    }
    int[] fixed = group.group().ports().stream().filter(p -> !p.dynamic())
        .mapToInt(PortRequest::fixed).toArray();
    int dynamic = (int) group.group().ports().stream().filter(PortRequest::dynamic).count();
    return node -> {
      for (int port : fixed) {
        if (group.portTaken(node, port)) {
          return () -> "host port " + port + " already in use";
        }
      }
      if (dynamic > 0) {
        int free = group.dynamicPortsFree(node);
        if (free < dynamic) {
          return () -> dynamic + " dynamic ports needed, " + free + " free";
        }
      }
      return null;
    };
  }
}
