package dev.berth.scheduler;

import dev.berth.scheduler.model.Allocation;
import dev.berth.scheduler.model.ClusterSnapshot;
import dev.berth.scheduler.model.NodeTable;
import dev.berth.scheduler.model.PortMapping;
import dev.berth.scheduler.model.PortRequest;
import dev.berth.scheduler.model.Resources;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.random.RandomGenerator;

/**
 * The state of one evaluation as it places and stops: what each node has in use (the snapshot's
 * usage, minus this plan's stops, plus its placements so far), the host ports taken, and the
 * seeded generator.
 *
 * <p>Created by one {@link Scheduler#schedule} call and confined to it: mutable, not thread-safe,
 * never shared. Usage is kept in flat arrays updated per placement, so no placement rescans the
 * cluster's allocations; capacities and everything else fixed per node are read from the
 * snapshot's {@link NodeTable}; host ports are the snapshot's until this plan changes a node's.
 */
final class PlacementContext {

  final ClusterSnapshot snapshot;
  final SchedulerConfig config;
  final NodeTable table;
  final long[] usedCpu;
  final long[] usedMemory;
  final long[] usedPids;
  /**
   * Host ports in use per node, for a node whose ports this plan changed; null for the others
   * (most), whose ports are the snapshot's.
   */
  private final Set<Integer>[] ports;
  /** For a node with a port set: how many of its ports lie in the dynamic range. */
  private final int[] dynamicInUse;
  /**
   * The seeded generator every random choice takes from: the order sampling walks the nodes in
   * and the dynamic ports chosen.
   */
  final RandomGenerator random;
  private final String evaluationId;
  private int nextId;

  @SuppressWarnings("unchecked")
  PlacementContext(ClusterSnapshot snapshot, String evaluationId, long seed,
      SchedulerConfig config) {
    this.snapshot = snapshot;
    this.config = config;
    this.evaluationId = evaluationId;
    this.table = snapshot.nodeTable();
    int n = table.size();
    usedCpu = new long[n];
    usedMemory = new long[n];
    usedPids = new long[n];
    for (int i = 0; i < n; i++) {
      usedCpu[i] = snapshot.usedCpu(i);
      usedMemory[i] = snapshot.usedMemory(i);
      usedPids[i] = snapshot.usedPids(i);
    }
    ports = new Set[n];
    dynamicInUse = new int[n];
    random = new SplittableRandom(seed);
  }

  int nodeCount() {
    return table.size();
  }

  boolean portTaken(int node, int port) {
    Set<Integer> s = ports[node];
    return s != null ? s.contains(port) : snapshot.portInUse(node, port);
  }

  int dynamicPortsFree(int node) {
    return config.dynamicPortMax() - config.dynamicPortMin() + 1 - portSet(node, false);
  }

  /**
   * How many of the node's ports lie in the dynamic range; with {@code copy}, first makes the
   * node's port set this plan's own, so it can change.
   */
  private int portSet(int node, boolean copy) {
    if (ports[node] != null) {
      return dynamicInUse[node];
    }
    int[] held = snapshot.portsInUse(node);
    Set<Integer> set = copy ? new HashSet<>() : null;
    int dynamic = 0;
    for (int i = 0; i < held.length; i++) {
      boolean first = set != null ? set.add(held[i]) : indexOf(held, held[i]) == i;
      if (first && inDynamicRange(held[i])) {
        dynamic++;
      }
    }
    if (copy) {
      ports[node] = set;
      dynamicInUse[node] = dynamic;
    }
    return dynamic;
  }

  private static int indexOf(int[] a, int x) {
    for (int i = 0; i < a.length; i++) {
      if (a[i] == x) {
        return i;
      }
    }
    return -1;
  }

  private void takePort(int node, int port) {
    portSet(node, true);
    if (ports[node].add(port) && inDynamicRange(port)) {
      dynamicInUse[node]++;
    }
  }

  private void freePort(int node, int port) {
    portSet(node, true);
    if (ports[node].remove(port) && inDynamicRange(port)) {
      dynamicInUse[node]--;
    }
  }

  private boolean inDynamicRange(int port) {
    return port >= config.dynamicPortMin() && port <= config.dynamicPortMax();
  }

  /** Gives back what an allocation this plan stops held. */
  void release(Allocation a) {
    int node = snapshot.position(a.node());
    if (node < 0 || !a.status().holdsResources()) {
      return;
    }
    usedCpu[node] -= a.resources().cpuMillis();
    usedMemory[node] -= a.resources().memoryBytes();
    usedPids[node] -= a.resources().pids();
    for (PortMapping p : a.ports()) {
      freePort(node, p.host());
    }
  }

  /**
   * Takes resources and ports on a node for a new allocation and returns the host ports chosen.
   * Dynamic ports are drawn at random from the range (a few tries, then a walk from a random
   * start), so replicas on one host do not all contend for the range's first ports.
   */
  List<PortMapping> reserve(int node, Resources r, List<PortRequest> requests) {
    usedCpu[node] += r.cpuMillis();
    usedMemory[node] += r.memoryBytes();
    usedPids[node] += r.pids();
    if (requests.isEmpty()) {
      return List.of();
    }
    List<PortMapping> out = new ArrayList<>(requests.size());
    for (PortRequest p : requests) {
      if (!p.dynamic()) {
        takePort(node, p.fixed());
        out.add(new PortMapping(p.label(), p.fixed(), p.to(), false));
      }
    }
    int min = config.dynamicPortMin();
    int max = config.dynamicPortMax();
    for (PortRequest p : requests) {
      if (p.dynamic()) {
        int port = -1;
        for (int attempt = 0; attempt < 8 && port < 0; attempt++) {
          int c = random.nextInt(min, max + 1);
          if (!portTaken(node, c)) {
            port = c;
          }
        }
        if (port < 0) {
          int start = random.nextInt(min, max + 1);
          for (int k = 0; k <= max - min && port < 0; k++) {
            int c = min + (start - min + k) % (max - min + 1);
            if (!portTaken(node, c)) {
              port = c;
            }
          }
        }
        if (port < 0) {
          // The ports filter counted free dynamic ports before this placement.
          throw new IllegalStateException("no dynamic port free on " + table.node(node).id());
        }
        takePort(node, port);
        out.add(new PortMapping(p.label(), port, p.to() == 0 ? port : p.to(), true));
      }
    }
    return out;
  }

  /** A new allocation id: the evaluation's id and a counter, so a replay gives the same ids. */
  String newAllocationId() {
    return evaluationId + "-" + (nextId++);
  }
}
