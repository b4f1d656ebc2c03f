package dev.berth.scheduler;

import dev.berth.scheduler.model.Allocation;
import dev.berth.scheduler.model.AllocationStatus;
import dev.berth.scheduler.model.ClusterSnapshot;
import dev.berth.scheduler.model.Evaluation;
import dev.berth.scheduler.model.Job;
import dev.berth.scheduler.model.Node;
import dev.berth.scheduler.model.PortMapping;
import dev.berth.scheduler.model.Resources;
import dev.berth.scheduler.model.TaskGroup;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Small builders for nodes, snapshots and contexts, so tests read like their specs. */
final class Fixtures {

  static final long GIB = 1L << 30;
  static final long MIB = 1L << 20;

  private Fixtures() {
  }

  static Resources res(long cpuMillis, long memMib) {
    return new Resources(cpuMillis, memMib * MIB, 0);
  }

  static Node node(String id, long cpuMillis, long memMib) {
    return new Node(id, id, Map.of(), Map.of(), res(cpuMillis, memMib), true, true, false,
        Set.of(), Set.of());
  }

  static Node node(String id, Map<String, String> labels, Map<String, String> attrs) {
    return new Node(id, id, labels, attrs, res(4000, 8192), true, true, false, Set.of(),
        Set.of());
  }

  static Node withImages(Node n, String... images) {
    return new Node(n.id(), n.name(), n.labels(), n.attributes(), n.capacity(), n.ready(),
        n.eligible(), n.draining(), Set.of(images), n.volumes());
  }

  static Node withVolumes(Node n, String... volumes) {
    return new Node(n.id(), n.name(), n.labels(), n.attributes(), n.capacity(), n.ready(),
        n.eligible(), n.draining(), n.images(), Set.of(volumes));
  }

  static Node ineligible(Node n) {
    return new Node(n.id(), n.name(), n.labels(), n.attributes(), n.capacity(), n.ready(), false,
        n.draining(), n.images(), n.volumes());
  }

  static Allocation alloc(String id, String job, String group, int index, String node,
      Resources r, AllocationStatus status, PortMapping... ports) {
    return new Allocation(id, job, group, index, node, r, List.of(ports), 0, status);
  }

  static ClusterSnapshot snapshot(List<Node> nodes, Allocation... allocs) {
    return new ClusterSnapshot(1, nodes, List.of(allocs));
  }

  static Evaluation eval(Job job) {
    return new Evaluation("e1", job, Evaluation.Trigger.JOB_REGISTER, 42);
  }

  /** A group context on a snapshot, as the scheduler makes one, for filter and scorer tables. */
  static GroupContext context(ClusterSnapshot snapshot, Job job, TaskGroup group) {
    PlacementContext ctx = new PlacementContext(snapshot, "e1", 1, SchedulerConfig.DEFAULT);
    GroupContext g = new GroupContext(ctx, job, group, group.count());
    for (Allocation a : snapshot.allocationsOf(job.name())) {
      if (a.taskGroup().equals(group.name()) && a.status().holdsResources()) {
        g.countReplica(snapshot.position(a.node()), 1);
      }
    }
    return g;
  }
}
