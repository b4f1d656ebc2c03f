package dev.berth.scheduler.filter;

import dev.berth.scheduler.FeasibilityFilter;
import dev.berth.scheduler.GroupContext;
import dev.berth.scheduler.model.NodeTable;
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
    NodeTable.Holding[] held = new NodeTable.Holding[names.size()];
    Rejection[] missing = new Rejection[names.size()];
    for (int i = 0; i < held.length; i++) {
      String v = names.get(i);
      held[i] = group.table().volume(v);
      missing[i] = () -> "host-local volume \"" + v + "\" is not on this node";
    }
    return node -> {
      for (int i = 0; i < held.length; i++) {
        if (!held[i].test(node)) {
          return missing[i];
        }
      }
      return null;
    };
  }
}
