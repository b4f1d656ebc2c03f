package dev.berth.agent.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.cluster.ClusterStore;
import dev.berth.agent.cluster.InMemoryLeaderElections;
import dev.berth.agent.cluster.LeaderElections;
import dev.berth.agent.cluster.MemberState;
import dev.berth.proto.v1.AllocationState;
import dev.berth.proto.v1.StoredAllocation;
import dev.berth.scheduler.Scheduler;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The scheduling loop on its own thread under an election (the in-memory one, held to Atomix's
 * rules by its contract): a leader that hears, in the middle of a plan's node-by-node commit, that
 * another server leads now (it was evicted while alive) writes no further node, and the next
 * leader finishes the plan, every replica placed once; a node judged down is acted on at once.
 */
class SchedulingLoopLeadershipTest {
  private final FakeNodes nodes = new FakeNodes().node("a", 2, 4096).node("b", 2, 4096).node("c", 2, 4096);
  private final Clock clock = Clock.fixed(Instant.parse("2026-11-27T12:00:00Z"), ZoneOffset.UTC);
  private final InMemoryLeaderElections s1 = new InMemoryLeaderElections("s1");
  private final InMemoryLeaderElections s2 = s1.node("s2");
  private SchedulingLoop loop;
  private LeaderElections.Candidacy next;

  @AfterEach
  void close() {
    if (loop != null) {
      loop.close();
    }
    if (next != null) {
      next.close();
    }
  }

  /** The store as the first leader's loop writes it: after its first write of a node's allocations, s2 leads. */
  private final class HandOverAfterFirstNode implements ClusterStore {
    final CountDownLatch handed = new CountDownLatch(1);

    @Override
    public Optional<Entry> compareAndSet(String table, String key, long expectedVersion, byte[] value) {
      Optional<Entry> e = nodes.store.compareAndSet(table, key, expectedVersion, value);
      if (table.equals(JobStore.ALLOCATIONS) && e.isPresent() && handed.getCount() > 0) {
        s1.handTo(SchedulingLoop.TOPIC, "s2");
        handed.countDown();
      }
      return e;
    }

    @Override
    public Optional<Entry> get(String table, String key) {
      return nodes.store.get(table, key);
    }

    @Override
    public List<Entry> list(String table) {
      return nodes.store.list(table);
    }

    @Override
    public Entry put(String table, String key, byte[] value) {
      return nodes.store.put(table, key, value);
    }

    @Override
    public boolean remove(String table, String key, long expectedVersion) {
      return nodes.store.remove(table, key, expectedVersion);
    }
  }

  @Test
  void aLeaderThatHearsItWasReplacedMidCommitWritesNoFurtherNodeAndTheNextFinishes() throws Exception {
    HandOverAfterFirstNode store = new HandOverAfterFirstNode();
    JobStore first = new JobStore(store);
    loop = new SchedulingLoop(first, new ClusterView(nodes.registry, nodes, nodes, first), s1, new Scheduler(), clock,
        Duration.ofSeconds(1), SchedulingLoop.Listener.NONE);
    loop.start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!loop.isLeader()) {
      assertTrue(System.nanoTime() < deadline, "s1's loop leads, the only candidate");
      Thread.sleep(10);
    }
    next = s2.run(SchedulingLoop.TOPIC);

    // Spread over the three nodes: three writes, one per node.
    new Jobs(nodes.jobs, nodes.view(), new Scheduler(), clock, loop::wake).submit("web.yaml", """
        name: web
        type: service
        strategy: spread
        groups:
          - name: web
            count: 6
            image: busybox
            resources: {cpu: 100m, memory: 64m}
        """, List.of());
    assertTrue(store.handed.await(30, TimeUnit.SECONDS), "s1's loop wrote a node's allocations");
    while (loop.isLeader()) {
      assertTrue(System.nanoTime() < deadline, "s1's loop hears it no longer leads");
      Thread.sleep(10);
    }
    assertTrue(next.isLeader());
    Map<String, List<StoredAllocation>> byNode = allocations();
    assertEquals(1, byNode.size(), "the old leader stopped after the node it was writing: " + byNode.keySet());
    List<StoredAllocation> kept = byNode.values().iterator().next();
    assertEquals(2, kept.size());
    // The pending evaluation is the new leader's to finish: the old one recorded no outcome.
    assertEquals(Evaluations.PENDING, nodes.jobs.evaluation("web").orElseThrow().evaluation().getStatus());

    // s2's loop, driven here: it finishes the plan around what s1 stored.
    SchedulingLoop second = new SchedulingLoop(nodes.jobs, nodes.view(), null, new Scheduler(), clock, Duration.ofSeconds(1),
        SchedulingLoop.Listener.NONE);
    // One round: the ids the old leader's placements took are not asked for again.
    second.round(true);
    List<StoredAllocation> all = allocations().values().stream().flatMap(List::stream).toList();
    assertEquals(6, all.size(), () -> "every replica placed: " + all);
    assertEquals(Set.of(0, 1, 2, 3, 4, 5), all.stream().map(StoredAllocation::getIndex).collect(Collectors.toSet()));
    assertEquals(Set.of("a", "b", "c"), all.stream().map(StoredAllocation::getNode).collect(Collectors.toSet()));
    assertTrue(all.containsAll(kept), "what the old leader stored stays as it was");
    assertEquals(Evaluations.COMPLETE, nodes.jobs.evaluation("web").orElseThrow().evaluation().getStatus());
    assertFalse(loop.isLeader());
  }

  @Test
  void aNodeJudgedDownIsActedOnAtOnceNotAtTheNextReconcileTick() throws Exception {
    // An hour between full rounds: only the call for the node judged down can have the loop act.
    loop = new SchedulingLoop(nodes.jobs, nodes.view(), s1, new Scheduler(), clock, Duration.ofHours(1),
        SchedulingLoop.Listener.NONE);
    loop.start();
    new Jobs(nodes.jobs, nodes.view(), new Scheduler(), clock, loop::wake).submit("api.yaml", """
        name: api
        type: service
        groups:
          - name: api
            count: 2
            image: busybox
            resources: {cpu: 100m, memory: 64m}
        """, List.of());
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (allocations().values().stream().mapToLong(List::size).sum() < 2) {
      assertTrue(System.nanoTime() < deadline, "api placed");
      Thread.sleep(10);
    }
    String victim = allocations().keySet().iterator().next();

    nodes.state(victim, MemberState.DOWN);
    loop.nodeDown(victim);
    deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (true) {
      List<StoredAllocation> all = allocations().values().stream().flatMap(List::stream).toList();
      boolean lost = all.stream().filter(a -> a.getNode().equals(victim))
          .allMatch(a -> a.getState() == AllocationState.ALLOCATION_LOST_VALUE);
      long elsewhere = all.stream().filter(a -> !a.getNode().equals(victim) && !a.getDesiredStop()).count();
      if (lost && elsewhere == 2) {
        break;
      }
      assertTrue(System.nanoTime() < deadline, "api's replica on " + victim + " lost and placed elsewhere: " + all);
      Thread.sleep(10);
    }
  }

  private Map<String, List<StoredAllocation>> allocations() {
    return nodes.jobs.allAllocations().values().stream().filter(n -> !n.allocations().isEmpty())
        .collect(Collectors.toMap(JobStore.NodeAllocations::node, JobStore.NodeAllocations::allocations));
  }
}
