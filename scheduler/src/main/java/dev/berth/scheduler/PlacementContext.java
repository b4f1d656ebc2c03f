package dev.berth.scheduler;

import dev.berth.scheduler.model.Allocation;
import dev.berth.scheduler.model.ClusterSnapshot;
import dev.berth.scheduler.model.Node;
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
 * usage, minus this plan's stops, plus its placements so far), the host ports taken, the seeded
 * generator, and the node order sampling walks.
 *
 * <p>Created by one {@link Scheduler#schedule} call and confined to it: mutable, not thread-safe,
 * never shared. Usage is kept in flat arrays updated per placement, so no placement rescans the
 * cluster's allocations.
 */
final class PlacementContext {

  final ClusterSnapshot snapshot;
  final SchedulerConfig config;
  final Node[] nodes;
  final long[] capCpu;
  final long[] capMemory;
  final long[] capPids;
  final long[] usedCpu;
  final long[] usedMemory;
  final long[] usedPids;
  /** Host ports in use per node; null for a node with none (most, for most jobs). */
  private final Set<Integer>[] ports;
  /** How many of each node's ports lie in the dynamic range. */
  private final int[] dynamicInUse;
  final RandomGenerator random;
  /** Node positions in a seeded random order: where sampling starts and how it walks. */
  final int[] order;
  private final String evaluationId;
  private int nextId;

  @SuppressWarnings("unchecked")
  PlacementContext(ClusterSnapshot snapshot, String evaluationId, long seed,
      SchedulerConfig config) {
    this.snapshot = snapshot;
    this.config = config;
    this.evaluationId = evaluationId;
    int n = snapshot.nodes().size();
    nodes = snapshot.nodes().toArray(new Node[0]);
    capCpu = new long[n];
    capMemory = new long[n];
    capPids = new long[n];
    usedCpu = new long[n];
    usedMemory = new long[n];
    usedPids = new long[n];
    ports = new Set[n];
    dynamicInUse = new int[n];
    for (int i = 0; i < n; i++) {
      Resources cap = nodes[i].capacity();
      capCpu[i] = cap.cpuMillis();
      capMemory[i] = cap.memoryBytes();
      capPids[i] = cap.pids();
      usedCpu[i] = snapshot.usedCpu(i);
      usedMemory[i] = snapshot.usedMemory(i);
      usedPids[i] = snapshot.usedPids(i);
      for (Allocation a : snapshot.allocationsOn(i)) {
        if (a.status().holdsResources()) {
          for (PortMapping p : a.ports()) {
            takePort(i, p.host());
          }
        }
      }
    }
    random = new SplittableRandom(seed);
    order = new int[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
    }
    for (int i = n - 1; i > 0; i--) {
      int j = random.nextInt(i + 1);
      int t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
  }

  int nodeCount() {
    return nodes.length;
  }

  boolean portTaken(int node, int port) {
    Set<Integer> s = ports[node];
    return s != null && s.contains(port);
  }

  int dynamicPortsFree(int node) {
    return config.dynamicPortMax() - config.dynamicPortMin() + 1 - dynamicInUse[node];
  }

  private void takePort(int node, int port) {
    if (ports[node] == null) {
      ports[node] = new HashSet<>();
    }
    if (ports[node].add(port) && inDynamicRange(port)) {
      dynamicInUse[node]++;
    }
  }

  private void freePort(int node, int port) {
    if (ports[node] != null && ports[node].remove(port) && inDynamicRange(port)) {
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
          throw new IllegalStateException("no dynamic port free on " + nodes[node].id());
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
