package dev.berth.scheduler;

import dev.berth.scheduler.model.Allocation;
import dev.berth.scheduler.model.ClusterSnapshot;
import dev.berth.scheduler.model.NodeTable;
import dev.berth.scheduler.model.PortMapping;
import dev.berth.scheduler.model.PortRequest;
import dev.berth.scheduler.model.Resources;
import java.util.Arrays;
import java.util.List;
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

  /** Offsets in a node's slice of {@link #resources}. */
  static final int CPU_FREE = 0;
  static final int MEMORY_FREE = 1;
  static final int PIDS_FREE = 2;
  /**
   * How many of the node's host ports lie in the dynamic range, plus one; 0 until first asked
   * (the snapshot sets 1 for a node that holds no port). Kept beside the resources, so the ports
   * filter reads the cache line the resources filter has just read.
   */
  static final int DYNAMIC_PORTS = 3;
  /** Fixed per node: read by the fit score beside what is free. */
  static final int CPU_CAPACITY = 4;
  static final int MEMORY_CAPACITY = 5;

  final ClusterSnapshot snapshot;
  final SchedulerConfig config;
  final NodeTable table;
  /**
   * Per node, {@link ClusterSnapshot#RESOURCE_STRIDE} longs: cpu, memory, pids free, the dynamic
   * ports count, cpu and memory capacity (see {@link ClusterSnapshot#resourceTable()}).
   */
  final long[] resources;
  /**
   * Host ports in use per node, for a node whose ports this plan changed; null for the other
   * nodes (most), whose ports are the snapshot's. One array per node, read in one go: at
   * {@link #COUNT} how many ports it holds, at {@link #DYNAMIC} how many of them lie in the
   * dynamic range, then the ports, sorted. An array rather than a set of boxed ports: a placement
   * looks a few up.
   */
  private final int[][] ports;
  private static final int COUNT = 0;
  private static final int DYNAMIC = 1;
  private static final int FIRST = 2;
  /**
   * The seeded generator every random choice takes from: the order sampling walks the nodes in
   * and the dynamic ports chosen.
   */
  final RandomGenerator random;
  private final String evaluationId;
  private int nextId;

  PlacementContext(ClusterSnapshot snapshot, String evaluationId, long seed,
      SchedulerConfig config) {
    this.snapshot = snapshot;
    this.config = config;
    this.evaluationId = evaluationId;
    this.table = snapshot.nodeTable();
    int n = table.size();
    resources = snapshot.resourceTable();
    ports = new int[n][];
    random = new SplittableRandom(seed);
  }

  int nodeCount() {
    return table.size();
  }

  boolean portTaken(int node, int port) {
    int[] p = ports[node];
    return p != null ? Arrays.binarySearch(p, FIRST, FIRST + p[COUNT], port) >= 0
        : snapshot.portInUse(node, port);
  }

  int dynamicPortsFree(int node) {
    return config.dynamicPortMax() - config.dynamicPortMin() + 1 - dynamicPortsUsed(node);
  }

  private int dynamicPortsUsed(int node) {
    int at = node * ClusterSnapshot.RESOURCE_STRIDE + DYNAMIC_PORTS;
    long known = resources[at];
    if (known == 0) {
      int[] p = ports[node];
      known = 1 + (p != null ? p[DYNAMIC]
          : snapshot.portsInUse(node, config.dynamicPortMin(), config.dynamicPortMax()));
      resources[at] = known;
    }
    return (int) known - 1;
  }

  /** The node's ports as this plan's own, so they can change. */
  private int[] ownPorts(int node) {
    int[] p = ports[node];
    if (p != null) {
      return p;
    }
    int[] held = snapshot.portsInUse(node);
    if (held.length > 1) {
      Arrays.sort(held);
    }
    p = new int[FIRST + Math.max(2, held.length)];
    for (int i = 0; i < held.length; i++) {
      if (i == 0 || held[i] != held[i - 1]) {
        p[FIRST + p[COUNT]++] = held[i];
        if (inDynamicRange(held[i])) {
          p[DYNAMIC]++;
        }
      }
    }
    ports[node] = p;
    return p;
  }

  private void takePort(int node, int port) {
    int[] p = ownPorts(node);
    int n = p[COUNT];
    int at = Arrays.binarySearch(p, FIRST, FIRST + n, port);
    if (at >= 0) {
      return;
    }
    at = -at - 1;
    if (FIRST + n == p.length) {
      p = Arrays.copyOf(p, FIRST + n * 2);
      ports[node] = p;
    }
    System.arraycopy(p, at, p, at + 1, FIRST + n - at);
    p[at] = port;
    p[COUNT] = n + 1;
    if (inDynamicRange(port)) {
      p[DYNAMIC]++;
      resources[node * ClusterSnapshot.RESOURCE_STRIDE + DYNAMIC_PORTS] = 1 + p[DYNAMIC];
    }
  }

  private void freePort(int node, int port) {
    int[] p = ownPorts(node);
    int n = p[COUNT];
    int at = Arrays.binarySearch(p, FIRST, FIRST + n, port);
    if (at < 0) {
      return;
    }
    System.arraycopy(p, at + 1, p, at, FIRST + n - at - 1);
    p[COUNT] = n - 1;
    if (inDynamicRange(port)) {
      p[DYNAMIC]--;
      resources[node * ClusterSnapshot.RESOURCE_STRIDE + DYNAMIC_PORTS] = 1 + p[DYNAMIC];
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
    int at = node * ClusterSnapshot.RESOURCE_STRIDE;
    resources[at + CPU_FREE] += a.resources().cpuMillis();
    resources[at + MEMORY_FREE] += a.resources().memoryBytes();
    resources[at + PIDS_FREE] += a.resources().pids();
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
    int at = node * ClusterSnapshot.RESOURCE_STRIDE;
    resources[at + CPU_FREE] -= r.cpuMillis();
    resources[at + MEMORY_FREE] -= r.memoryBytes();
    resources[at + PIDS_FREE] -= r.pids();
    if (requests.isEmpty()) {
      return List.of();
    }
    ownPorts(node); // the node's ports are about to change: look them up in one place
    PortMapping[] out = new PortMapping[requests.size()];
    int taken = 0;
    for (PortRequest p : requests) {
      if (!p.dynamic()) {
        takePort(node, p.fixed());
        out[taken++] = new PortMapping(p.label(), p.fixed(), p.to(), false);
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
        out[taken++] = new PortMapping(p.label(), port, p.to() == 0 ? port : p.to(), true);
      }
    }
    return List.of(out); // immutable, so the allocation keeps it without a copy
  }

  /** A new allocation id: the evaluation's id and a counter, so a replay gives the same ids. */
  String newAllocationId() {
    return evaluationId + "-" + (nextId++);
  }
}
