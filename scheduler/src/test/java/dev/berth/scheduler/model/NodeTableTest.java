package dev.berth.scheduler.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The per-snapshot layout of the nodes, and which derived snapshots share it. */
class NodeTableTest {

  private static Node node(String id, Map<String, String> labels, boolean ready, boolean eligible,
      boolean draining, Set<String> images, Set<String> volumes) {
    return new Node(id, "host-" + id, labels, Map.of("os", "linux"),
        new Resources(2000, 4L << 30, 100), ready, eligible, draining, images, volumes);
  }

  private final List<Node> nodes = List.of(
      node("a", Map.of("zone", "b"), true, true, false, Set.of("web:1"), Set.of("data")),
      node("b", Map.of(), false, true, true, Set.of("sha256:abc"), Set.of()),
      node("c", Map.of("zone", "a"), true, false, false, Set.of(), Set.of()),
      node("d", Map.of("zone", "b"), true, true, true, Set.of("web:2"), Set.of("data")));

  @Test
  void columnsNumberValuesInNameOrderAndListTheirNodes() {
    NodeTable t = new ClusterSnapshot(1, nodes, List.of()).nodeTable();
    NodeTable.Column zone = t.column("label.zone");
    assertEquals(2, zone.valueCount());
    assertEquals("a", zone.value(0));
    assertEquals("b", zone.value(1));
    assertArrayEquals(new int[] {1, -1, 0, 1},
        new int[] {zone.valueOf(0), zone.valueOf(1), zone.valueOf(2), zone.valueOf(3)});
    assertEquals(1, zone.id("b"));
    assertEquals(-1, zone.id("c"));
    int[] withB = new int[zone.size(1)];
    zone.copyNodes(1, withB, 0);
    assertArrayEquals(new int[] {0, 3}, withB);
    int[] without = new int[zone.size(-1)];
    zone.copyNodes(-1, without, 0);
    assertArrayEquals(new int[] {1}, without);
    assertSame(zone, t.column("label.zone"), "built once");
    assertEquals("host-c", t.column("node.name").value(2));
  }

  @Test
  void aColumnWithManyValuesKeepsThemAll() {
    List<Node> many = new ArrayList<>();
    for (int i = 0; i < 700; i++) {
      many.add(node(String.format("n%04d", i), Map.of("rack", "r" + (i % 300)), true, true, false,
          Set.of(), Set.of()));
    }
    NodeTable t = new ClusterSnapshot(1, many, List.of()).nodeTable();
    NodeTable.Column id = t.column("node.id");
    assertEquals(700, id.valueCount());
    for (int i = 0; i < 700; i++) {
      assertEquals(i, id.valueOf(i));
      assertEquals(many.get(i).id(), id.value(id.valueOf(i)));
    }
    NodeTable.Column rack = t.column("label.rack");
    assertEquals(300, rack.valueCount());
    assertEquals("r299", rack.value(rack.valueOf(299)));
  }

  @Test
  void statusNamesTheFirstReasonANodeTakesNoWork() {
    NodeTable t = new ClusterSnapshot(1, nodes, List.of()).nodeTable();
    assertEquals(NodeTable.SCHEDULABLE, t.status(0));
    assertEquals(NodeTable.NOT_READY, t.status(1));
    assertEquals(NodeTable.INELIGIBLE, t.status(2));
    assertEquals(NodeTable.DRAINING, t.status(3));
    assertEquals(2000, t.capacityCpu(3));
    assertEquals(4L << 30, t.capacityMemory(3));
    assertEquals(100, t.capacityPids(3));
  }

  @Test
  void holdingsAnswerByReferenceOrDigest() {
    NodeTable t = new ClusterSnapshot(1, nodes, List.of()).nodeTable();
    NodeTable.Holding web = t.image("web:1", null);
    assertTrue(web.test(0));
    assertFalse(web.test(1));
    assertFalse(web.test(3));
    assertTrue(web.test(0), "asked twice, same answer");
    NodeTable.Holding pinned = t.image("web@sha256:abc", "sha256:abc");
    assertTrue(pinned.test(1));
    assertFalse(pinned.test(0));
    NodeTable.Holding data = t.volume("data");
    assertTrue(data.test(0));
    assertFalse(data.test(2));
    assertTrue(data.test(3));
    assertSame(data, t.volume("data"));
  }

  @Test
  void derivedSnapshotsWithTheSameNodesShareTheTable() {
    Allocation a = new Allocation("x", "j", "g", 0, "a", new Resources(100, 1 << 20, 1),
        List.of(new PortMapping("http", 8080, 80, false), new PortMapping("m", 20001, 9, true)),
        0, AllocationStatus.RUNNING);
    ClusterSnapshot s = new ClusterSnapshot(1, nodes, List.of(a));
    ClusterSnapshot decided = s.withDecisions(Set.of("x"), Set.of());
    assertSame(s.nodeTable(), decided.nodeTable());
    assertTrue(decided.needsReplacement(a));
    assertFalse(s.needsReplacement(a));
    assertEquals(100, decided.usedCpu(0));
    ClusterSnapshot moved = s.withAllocations(2, List.of());
    assertSame(s.nodeTable(), moved.nodeTable());
    assertEquals(0, moved.usedCpu(0));
    assertFalse(moved.portInUse(0, 8080));
    assertNotSame(s.nodeTable(), s.withNodes(3, nodes).nodeTable());
    assertNotSame(s.nodeTable(), new ClusterSnapshot(1, nodes, List.of(a)).nodeTable());
  }

  @Test
  void portsAndResourcesInUseComeFromAllocationsHoldingResources() {
    List<PortMapping> ports =
        List.of(new PortMapping("http", 8080, 80, false), new PortMapping("m", 20001, 9, true));
    Allocation running = new Allocation("x", "j", "g", 0, "a", new Resources(100, 1 << 20, 1),
        ports, 0, AllocationStatus.RUNNING);
    Allocation done = new Allocation("y", "j", "g", 1, "a", new Resources(100, 1 << 20, 1),
        List.of(new PortMapping("http", 9090, 80, false)), 0, AllocationStatus.COMPLETE);
    ClusterSnapshot s = new ClusterSnapshot(1, nodes, List.of(running, done));
    assertTrue(s.portInUse(0, 8080));
    assertTrue(s.portInUse(0, 20001));
    assertFalse(s.portInUse(0, 9090), "a completed allocation holds no port");
    assertFalse(s.portInUse(1, 8080));
    int[] held = s.portsInUse(0);
    Arrays.sort(held);
    assertArrayEquals(new int[] {8080, 20001}, held);
    assertEquals(1, s.portsInUse(0, 20000, 32000));
    assertEquals(0, s.portsInUse(1, 20000, 32000));
    long[] r = s.resourceTable();
    int at = 0 * ClusterSnapshot.RESOURCE_STRIDE;
    assertArrayEquals(new long[] {2000 - 100, (4L << 30) - (1 << 20), 100 - 1, 0, 2000, 4L << 30},
        Arrays.copyOfRange(r, at, at + ClusterSnapshot.RESOURCE_STRIDE),
        "free cpu, memory, pids; its ports in the dynamic range not counted yet; capacity");
    int other = 1 * ClusterSnapshot.RESOURCE_STRIDE;
    assertEquals(1, r[other + 3], "a node without ports has none in any range");
    r[at] = 0;
    assertEquals(1900, s.resourceTable()[at], "each call a fresh copy");
  }
}
