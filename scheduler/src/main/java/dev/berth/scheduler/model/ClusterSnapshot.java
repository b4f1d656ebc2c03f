package dev.berth.scheduler.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An immutable view of the cluster, read once for an evaluation or a plan commit: nodes,
 * allocations, the allocations the caller wants re-placed, and the ended ones whose replica the
 * caller wants left unplaced for now.
 *
 * <p>A class rather than a record because it carries lookup tables built once at construction
 * (node positions, allocations by node and by job, resources and ports in use per node, the
 * {@link NodeTable}), which the scheduler and the applier share and which are no part of its
 * value. Snapshots derived with {@link #withDecisions} share all of them, and those derived with
 * {@link #withAllocations} the node positions and table, so the many evaluations of one
 * scheduling round lay the nodes out once. Immutable, so it may be shared across threads.
 *
 * <p>Down nodes, lost allocations, drain migrations: deciding which allocations must move is the
 * caller's business (the scheduling loop's). It says so by listing their ids in
 * {@link #replace()} or by giving them the status {@link AllocationStatus#LOST}; the scheduler
 * then stops them and places a new generation of the same replica elsewhere. Likewise when a
 * failed allocation's replica is placed again (a reschedule delay, attempts used up) is the
 * caller's call: it lists such allocations in {@link #held()}, and their replicas stay as they are
 * until a later snapshot no longer holds them.
 */
public final class ClusterSnapshot {

  private final long index;
  private final List<Node> nodes;
  private final List<Allocation> allocations;
  private final Set<String> replace;
  private final Set<String> held;

  private final NodeTable table;
  private final Map<String, Integer> nodePosition;
  private final List<List<Allocation>> byNode;
  private final Map<String, List<Allocation>> byJob;
  private final Map<String, Allocation> byId;
  private final long[] usedCpu;
  private final long[] usedMemory;
  private final long[] usedPids;
  /** Per node, the host ports its allocations holding resources hold; null for none. */
  private final int[][] ports;
  /** What {@link #resourceTable()} copies. */
  private final long[] resources;

  /**
   * @param index       the replicated store's index the view was read at (plans record it)
   * @param nodes       every known node, ids unique
   * @param allocations every allocation not yet garbage-collected, ids unique
   * @param replace     ids of allocations the caller wants re-placed
   * @param held        ids of ended allocations whose replica is not to be placed again now
   * @throws IllegalArgumentException on a repeated node or allocation id
   */
  public ClusterSnapshot(long index, List<Node> nodes, List<Allocation> allocations,
      Set<String> replace, Set<String> held) {
    this(index, List.copyOf(nodes), null, null, allocations, replace, held);
  }

  /** With {@code table} and {@code positions} of a snapshot with the same nodes, or nulls. */
  private ClusterSnapshot(long index, List<Node> nodes, NodeTable table,
      Map<String, Integer> positions, List<Allocation> allocations, Set<String> replace,
      Set<String> held) {
    this.index = index;
    this.nodes = nodes;
    this.allocations = List.copyOf(allocations);
    this.replace = Set.copyOf(replace == null ? Set.of() : replace);
    this.held = Set.copyOf(held == null ? Set.of() : held);
    int n = this.nodes.size();
    if (positions == null) {
      positions = new HashMap<>(n * 2);
      for (int i = 0; i < n; i++) {
        if (positions.put(this.nodes.get(i).id(), i) != null) {
          throw new IllegalArgumentException("node id " + this.nodes.get(i).id() + " repeated");
        }
      }
      table = new NodeTable(this.nodes);
    }
    this.nodePosition = positions;
    this.table = table;
    byNode = new ArrayList<>(n);
    usedCpu = new long[n];
    usedMemory = new long[n];
    usedPids = new long[n];
    ports = new int[n][];
    for (int i = 0; i < n; i++) {
      byNode.add(new ArrayList<>());
    }
    byJob = new HashMap<>();
    byId = new HashMap<>(this.allocations.size() * 2);
    for (Allocation a : this.allocations) {
      if (byId.put(a.id(), a) != null) {
        throw new IllegalArgumentException("allocation id " + a.id() + " repeated");
      }
      byJob.computeIfAbsent(a.job(), j -> new ArrayList<>()).add(a);
      Integer pos = nodePosition.get(a.node());
      if (pos != null) {
        byNode.get(pos).add(a);
        if (a.status().holdsResources()) {
          usedCpu[pos] += a.resources().cpuMillis();
          usedMemory[pos] += a.resources().memoryBytes();
          usedPids[pos] += a.resources().pids();
          if (!a.ports().isEmpty()) {
            int[] p = ports[pos] == null ? new int[0] : ports[pos];
            int at = p.length;
            p = Arrays.copyOf(p, at + a.ports().size());
            for (PortMapping m : a.ports()) {
              p[at++] = m.host();
            }
            ports[pos] = p;
          }
        }
      }
    }
    resources = new long[n * RESOURCE_STRIDE];
    for (int i = 0; i < n; i++) {
      int at = i * RESOURCE_STRIDE;
      resources[at] = table.capacityCpu(i) - usedCpu[i];
      resources[at + 1] = table.capacityMemory(i) - usedMemory[i];
      resources[at + 2] = table.capacityPids(i) - usedPids[i];
      resources[at + 3] = ports[i] == null ? 1 : 0;
      resources[at + 4] = table.capacityCpu(i);
      resources[at + 5] = table.capacityMemory(i);
    }
  }

  /** A copy that shares this one's derived tables; the allocations and decisions are the same. */
  private ClusterSnapshot(ClusterSnapshot s, Set<String> replace, Set<String> held) {
    this.index = s.index;
    this.nodes = s.nodes;
    this.allocations = s.allocations;
    this.replace = Set.copyOf(replace == null ? Set.of() : replace);
    this.held = Set.copyOf(held == null ? Set.of() : held);
    this.table = s.table;
    this.nodePosition = s.nodePosition;
    this.byNode = s.byNode;
    this.byJob = s.byJob;
    this.byId = s.byId;
    this.usedCpu = s.usedCpu;
    this.usedMemory = s.usedMemory;
    this.usedPids = s.usedPids;
    this.ports = s.ports;
    this.resources = s.resources;
  }

  public ClusterSnapshot(long index, List<Node> nodes, List<Allocation> allocations,
      Set<String> replace) {
    this(index, nodes, allocations, replace, Set.of());
  }

  public ClusterSnapshot(long index, List<Node> nodes, List<Allocation> allocations) {
    this(index, nodes, allocations, Set.of(), Set.of());
  }

  public long index() {
    return index;
  }

  public List<Node> nodes() {
    return nodes;
  }

  public List<Allocation> allocations() {
    return allocations;
  }

  public Set<String> replace() {
    return replace;
  }

  public Set<String> held() {
    return held;
  }

  /** The node's position in {@link #nodes()}, or −1 when there is no such node. */
  public int position(String nodeId) {
    Integer p = nodePosition.get(nodeId);
    return p == null ? -1 : p;
  }

  public Node node(String nodeId) {
    int p = position(nodeId);
    return p < 0 ? null : nodes.get(p);
  }

  public Allocation allocation(String id) {
    return byId.get(id);
  }

  /** Every allocation on the node at {@code position}, in any status. */
  public List<Allocation> allocationsOn(int position) {
    return Collections.unmodifiableList(byNode.get(position));
  }

  /** Every allocation of the job, in any status. */
  public List<Allocation> allocationsOf(String job) {
    return Collections.unmodifiableList(byJob.getOrDefault(job, List.of()));
  }

  /** What allocations holding resources use on the node at {@code position}. */
  public Resources used(int position) {
    return new Resources(usedCpu[position], usedMemory[position], usedPids[position]);
  }

  public long usedCpu(int position) {
    return usedCpu[position];
  }

  public long usedMemory(int position) {
    return usedMemory[position];
  }

  public long usedPids(int position) {
    return usedPids[position];
  }

  /** The nodes laid out for the scheduler; shared with snapshots derived with the same nodes. */
  public NodeTable nodeTable() {
    return table;
  }

  /**
   * What is free on every node, in one array, {@link #RESOURCE_STRIDE} longs per node: cpu,
   * memory and pids free (capacity minus what allocations holding resources use; negative on an
   * overcommitted node), then 1 when the node holds no host port, else 0 (how many of its ports
   * lie in a range is the caller's to count, see {@link #portsInUse(int, int, int)}), then cpu and
   * memory capacity. A fresh copy each call (of an array built with the snapshot, so a copy at
   * memory speed), for the scheduler to update as it places. What a node's first visit reads (the
   * resources filter: what is free; the fit score: that and the capacity) sits in 48 bytes, most
   * often one cache line, rather than in one line of each of several arrays as long as the
   * cluster: an evaluation on a large cluster touches thousands of nodes once each, and waits
   * for each line it touches.
   */
  public long[] resourceTable() {
    return resources.clone();
  }

  /** What {@link #portsInUse(int)} returns for a node without ports: empty, so never written. */
  private static final int[] NO_PORTS = new int[0];

  /** Longs per node in {@link #resourceTable()}. */
  public static final int RESOURCE_STRIDE = 6;

  /** Whether an allocation holding resources on the node at {@code position} holds that port. */
  public boolean portInUse(int position, int port) {
    int[] p = ports[position];
    if (p != null) {
      for (int x : p) {
        if (x == port) {
          return true;
        }
      }
    }
    return false;
  }

  /** How many distinct host ports in {@code [min, max]} the node at {@code position} holds. */
  public int portsInUse(int position, int min, int max) {
    int[] p = ports[position];
    if (p == null) {
      return 0;
    }
    int count = 0;
    for (int i = 0; i < p.length; i++) {
      if (p[i] >= min && p[i] <= max && firstAt(p, i)) {
        count++;
      }
    }
    return count;
  }

  private static boolean firstAt(int[] p, int i) {
    for (int j = 0; j < i; j++) {
      if (p[j] == p[i]) {
        return false;
      }
    }
    return true;
  }

  /**
   * The host ports allocations holding resources hold on the node at {@code position}, a port
   * held twice listed twice (a conflict the applier refused to create but a store may hold).
   */
  public int[] portsInUse(int position) {
    int[] p = ports[position];
    return p == null ? NO_PORTS : p.clone();
  }

  /** Whether the caller wants the allocation re-placed. */
  public boolean needsReplacement(Allocation a) {
    return a.status() == AllocationStatus.LOST || replace.contains(a.id());
  }

  /** Whether the caller wants the replica of this ended allocation left unplaced for now. */
  public boolean isHeld(Allocation a) {
    return held.contains(a.id()) && !a.status().holdsResources();
  }

  /** The same nodes and allocations, with other allocations to replace and to hold. */
  public ClusterSnapshot withDecisions(Set<String> replace, Set<String> held) {
    return new ClusterSnapshot(this, replace, held);
  }

  /** The same nodes with other allocations, at another index. */
  public ClusterSnapshot withAllocations(long index, List<Allocation> allocations) {
    return new ClusterSnapshot(index, nodes, table, nodePosition, allocations, replace, held);
  }

  /** The same allocations on other nodes, at another index. */
  public ClusterSnapshot withNodes(long index, List<Node> nodes) {
    return new ClusterSnapshot(index, nodes, allocations, replace, held);
  }
}
