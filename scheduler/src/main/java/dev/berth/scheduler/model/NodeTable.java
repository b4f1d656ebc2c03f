package dev.berth.scheduler.model;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;

/**
 * What the scheduler reads of the nodes, laid out once per node list rather than once per
 * evaluation: capacities and readiness in flat arrays, each property a constraint, spread or
 * affinity names as a column of value ids, and per image or volume which nodes hold it.
 *
 * <p>A {@link ClusterSnapshot} builds one for its nodes and hands the same one to the snapshots
 * derived from it with the same nodes ({@link ClusterSnapshot#withDecisions},
 * {@link ClusterSnapshot#withAllocations}), so a scheduling round that evaluates many jobs on one
 * read of the cluster pays for it once. Columns and holdings are filled on first use: a column
 * for the whole table at once (a spread needs every value to know its shares), a holding one node
 * at a time (image locality asks about the few nodes a placement samples).
 *
 * <p>Immutable in what it answers, and safe to share across threads: columns are published
 * through a concurrent map; a holding is a byte per node written with the same value by whichever
 * thread computes it first (a byte is written whole, so a reader sees either "not yet known" and
 * computes it too, or the answer).
 */
public final class NodeTable {

  /** The node is ready, eligible and not draining. */
  public static final byte SCHEDULABLE = 0;
  public static final byte NOT_READY = 1;
  public static final byte INELIGIBLE = 2;
  public static final byte DRAINING = 3;

  private static final byte UNKNOWN = 0;
  private static final byte NO = 1;
  private static final byte YES = 2;

  private final Node[] nodes;
  private final String[] ids;
  private final String[] names;
  /**
   * Cpu, memory and pids capacity, three longs per node: the fit score reads cpu and memory
   * together, from one cache line rather than one in each of two arrays.
   */
  private final long[] capacity;
  private final byte[] status;
  private final Map<String, Column> columns = new ConcurrentHashMap<>();
  private final Map<String, Holding> images = new ConcurrentHashMap<>();
  private final Map<String, Holding> volumes = new ConcurrentHashMap<>();

  NodeTable(List<Node> nodes) {
    this.nodes = nodes.toArray(new Node[0]);
    int n = this.nodes.length;
    ids = new String[n];
    names = new String[n];
    capacity = new long[n * 3];
    status = new byte[n];
    for (int i = 0; i < n; i++) {
      Node node = this.nodes[i];
      ids[i] = node.id();
      names[i] = node.name();
      capacity[i * 3] = node.capacity().cpuMillis();
      capacity[i * 3 + 1] = node.capacity().memoryBytes();
      capacity[i * 3 + 2] = node.capacity().pids();
      status[i] = !node.ready() ? NOT_READY : !node.eligible() ? INELIGIBLE
          : node.draining() ? DRAINING : SCHEDULABLE;
    }
  }

  public int size() {
    return nodes.length;
  }

  public Node node(int position) {
    return nodes[position];
  }

  /** The node's id, without reaching into the node: explanations name thousands of nodes. */
  public String id(int position) {
    return ids[position];
  }

  /** The node's name, as {@link #id}. */
  public String name(int position) {
    return names[position];
  }

  public long capacityCpu(int position) {
    return capacity[position * 3];
  }

  public long capacityMemory(int position) {
    return capacity[position * 3 + 1];
  }

  public long capacityPids(int position) {
    return capacity[position * 3 + 2];
  }

  /**
   * {@link #SCHEDULABLE}, or the first that holds of {@link #NOT_READY}, {@link #INELIGIBLE} and
   * {@link #DRAINING}.
   */
  public byte status(int position) {
    return status[position];
  }

  /**
   * The property {@code target} names ({@code label.KEY}, {@code attr.KEY}, {@code node.id},
   * {@code node.name}: see {@link Node#property}) across every node, built on first use.
   */
  public Column column(String target) {
    Column c = columns.get(target);
    return c != null ? c : columns.computeIfAbsent(target, t -> new Column(nodes, t));
  }

  /** Which nodes hold {@code image} by reference, or by {@code digest} when not null. */
  public Holding image(String image, String digest) {
    String key = digest == null ? image : image + "@" + digest;
    return images.computeIfAbsent(key, k -> new Holding(nodes,
        node -> node.images().contains(image)
            || (digest != null && node.images().contains(digest))));
  }

  /** Which nodes hold a host-local volume of that name. */
  public Holding volume(String name) {
    return volumes.computeIfAbsent(name,
        k -> new Holding(nodes, node -> node.volumes().contains(name)));
  }

  /**
   * Whether each node holds one thing (an image, a volume), asked of the node the first time it is
   * needed and remembered for the table's life.
   */
  public static final class Holding {
    private final Node[] nodes;
    private final Predicate<Node> test;
    private final byte[] known;

    Holding(Node[] nodes, Predicate<Node> test) {
      this.nodes = nodes;
      this.test = test;
      this.known = new byte[nodes.length];
    }

    public boolean test(int position) {
      byte k = known[position];
      if (k == UNKNOWN) {
        k = test.test(nodes[position]) ? YES : NO;
        known[position] = k;
      }
      return k == YES;
    }
  }

  /**
   * One property across the nodes: its distinct values numbered in name order, each node's value
   * id (−1 when it lacks the property), and the nodes per value in position order.
   */
  public static final class Column {
    private final String[] values;
    /** Each node's value id + 1 (0: lacking it), in bytes while the ids fit, else in ints. */
    private final byte[] smallIds;
    private final int[] ids;
    private final int[][] nodesWith;
    private final int[] nodesWithout;

    Column(Node[] nodes, String target) {
      int n = nodes.length;
      String[] raw = new String[n];
      TreeMap<String, Integer> byName = new TreeMap<>();
      for (int i = 0; i < n; i++) {
        raw[i] = nodes[i].property(target);
        if (raw[i] != null) {
          byName.put(raw[i], 0);
        }
      }
      values = byName.keySet().toArray(new String[0]);
      for (int v = 0; v < values.length; v++) {
        byName.put(values[v], v);
      }
      int[] valueOf = new int[n];
      int[] sizes = new int[values.length + 1];
      for (int i = 0; i < n; i++) {
        valueOf[i] = raw[i] == null ? -1 : byName.get(raw[i]);
        sizes[valueOf[i] + 1]++;
      }
      // A byte per node keeps a column a quarter the size in the caches a placement reads
      // through; most properties a job names (zones, racks, versions) take few values.
      if (values.length < 255) {
        smallIds = new byte[n];
        for (int i = 0; i < n; i++) {
          smallIds[i] = (byte) (valueOf[i] + 1);
        }
        this.ids = null;
      } else {
        smallIds = null;
        this.ids = valueOf;
      }
      int[][] buckets = new int[values.length + 1][];
      for (int b = 0; b < buckets.length; b++) {
        buckets[b] = new int[sizes[b]];
      }
      Arrays.fill(sizes, 0);
      for (int i = 0; i < n; i++) {
        int b = valueOf[i] + 1;
        buckets[b][sizes[b]++] = i;
      }
      nodesWithout = buckets[0];
      nodesWith = Arrays.copyOfRange(buckets, 1, buckets.length);
    }

    public int valueCount() {
      return values.length;
    }

    public String value(int v) {
      return values[v];
    }

    /** The id of the node's value, or −1 when the node lacks the property. */
    public int valueOf(int position) {
      return smallIds != null ? (smallIds[position] & 0xff) - 1 : ids[position];
    }

    /** The id of a value, or −1 when no node has it. */
    public int id(String value) {
      int v = Arrays.binarySearch(values, value);
      return v >= 0 ? v : -1;
    }

    /** How many nodes have the value. */
    public int size(int v) {
      return v < 0 ? nodesWithout.length : nodesWith[v].length;
    }

    /** Copies the positions of the nodes with value {@code v} (−1: lacking it) into {@code out}. */
    public void copyNodes(int v, int[] out, int at) {
      int[] src = v < 0 ? nodesWithout : nodesWith[v];
      System.arraycopy(src, 0, out, at, src.length);
    }
  }
}
