package dev.berth.scheduler;

import dev.berth.scheduler.Plan.Stop;
import dev.berth.scheduler.model.Allocation;
import dev.berth.scheduler.model.ClusterSnapshot;
import dev.berth.scheduler.model.Node;
import dev.berth.scheduler.model.PortMapping;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The optimistic commit: checks a plan against the cluster as it is now, which may have moved on
 * since the plan's snapshot (another scheduler's plan, a node drained), and says what of it still
 * holds. As Nomad's plan applier, it re-checks node by node exactly what the plan relied on:
 * the node is there, ready, eligible and not draining; its capacity covers what is in use now
 * plus the plan's placements minus its stops; no host port is taken twice; and no replica the
 * plan places has been placed meanwhile. A node that fails refuses all the plan's placements on
 * it (the plan's choices on one node were made together); the refused replicas are for a new
 * evaluation, never forced.
 *
 * <p>Pure: it returns data; the caller commits the result in one replicated operation (and can
 * use {@link ApplyResult#commit} to get the next snapshot). Applying two plans computed from the
 * same snapshot one after the other, each against the result of the one before, never
 * overcommits a node.
 */
public final class PlanApplier {

  private PlanApplier() {
  }

  /** What of {@code plan} can be committed on {@code current}. */
  public static ApplyResult apply(ClusterSnapshot current, Plan plan) {
    List<Stop> stopped = new ArrayList<>();
    Set<String> stoppedIds = new HashSet<>();
    for (Stop s : plan.stops()) {
      Allocation now = current.allocation(s.allocation().id());
      if (now != null && now.status().holdsResources() && stoppedIds.add(now.id())) {
        stopped.add(new Stop(now, s.reason()));
      }
    }
    // Replicas that are live now and not stopped by this plan: a placement must not duplicate one.
    Map<String, Long> liveReplica = new LinkedHashMap<>();
    for (Allocation a : current.allocationsOf(plan.job())) {
      if (a.status().holdsResources() && !stoppedIds.contains(a.id())) {
        liveReplica.merge(a.taskGroup() + "\u0000" + a.index(), a.generation(), Math::max);
      }
    }
    Map<String, List<Allocation>> byNode = plan.placementsByNode();
    List<Allocation> placed = new ArrayList<>();
    List<ApplyResult.Refusal> refused = new ArrayList<>();
    for (Map.Entry<String, List<Allocation>> e : byNode.entrySet()) {
      String why = checkNode(current, e.getKey(), e.getValue(), stoppedIds, liveReplica);
      if (why == null) {
        placed.addAll(e.getValue());
      } else {
        for (Allocation a : e.getValue()) {
          refused.add(new ApplyResult.Refusal(a, why));
        }
      }
    }
    return new ApplyResult(plan, placed, stopped, refused);
  }

  private static String checkNode(ClusterSnapshot current, String nodeId,
      List<Allocation> placements, Set<String> stoppedIds, Map<String, Long> liveReplica) {
    int pos = current.position(nodeId);
    if (pos < 0) {
      return "node " + nodeId + " is gone";
    }
    Node node = current.node(nodeId);
    if (!node.ready()) {
      return "node " + node.name() + " is not ready";
    }
    if (!node.eligible()) {
      return "node " + node.name() + " is ineligible";
    }
    if (node.draining()) {
      return "node " + node.name() + " is draining";
    }
    long cpu = current.usedCpu(pos);
    long mem = current.usedMemory(pos);
    long pids = current.usedPids(pos);
    Set<Integer> ports = new HashSet<>();
    for (Allocation a : current.allocationsOn(pos)) {
      if (!a.status().holdsResources()) {
        continue;
      }
      if (stoppedIds.contains(a.id())) {
        cpu -= a.resources().cpuMillis();
        mem -= a.resources().memoryBytes();
        pids -= a.resources().pids();
      } else {
        a.ports().forEach(p -> ports.add(p.host()));
      }
    }
    for (Allocation a : placements) {
      Long live = liveReplica.get(a.taskGroup() + "\u0000" + a.index());
      if (live != null && live >= a.generation()) {
        return "replica " + a.taskGroup() + "[" + a.index() + "] was placed meanwhile";
      }
      if (current.allocation(a.id()) != null) {
        return "allocation " + a.id() + " exists already";
      }
      cpu += a.resources().cpuMillis();
      mem += a.resources().memoryBytes();
      pids += a.resources().pids();
      for (PortMapping p : a.ports()) {
        if (!ports.add(p.host())) {
          return "host port " + p.host() + " on " + node.name() + " is taken";
        }
      }
    }
    var cap = node.capacity();
    if (cpu > cap.cpuMillis() || mem > cap.memoryBytes() || pids > cap.pids()) {
      return "node " + node.name() + " would be overcommitted";
    }
    return null;
  }
}
