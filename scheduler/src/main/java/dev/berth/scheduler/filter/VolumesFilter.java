package dev.berth.scheduler.filter;

import dev.berth.scheduler.FeasibilityFilter;
import dev.berth.scheduler.GroupContext;
import dev.berth.scheduler.model.VolumeMount;
import java.util.List;

/**
 * A host-local named volume holds its data on one host, so a group that mounts one goes only to
 * nodes that hold a volume of that name: never to a node where it would get an empty new one.
 */
public final class VolumesFilter implements FeasibilityFilter {

  @Override
  public String name() {
    return "volumes";
  }

  @Override
  public boolean isStatic() {
    return true;
  }

  @Override
  public Check prepare(GroupContext group) {
    List<String> names = group.group().volumes().stream().map(VolumeMount::name).toList();
    if (names.isEmpty()) {
      return null;
    }
    return node -> {
      for (String v : names) {
        if (!group.node(node).volumes().contains(v)) {
          return "host-local volume \"" + v + "\" is not on this node";
        }
      }
      return null;
    };
  }
}
