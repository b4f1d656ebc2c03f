package dev.berth.agent.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The contract against the fake, and what only the fake does: hand leadership over, stop a node, be unavailable. */
class InMemoryLeaderElectionsTest extends LeaderElectionsContract {
  private final InMemoryLeaderElections a = new InMemoryLeaderElections("a");
  private final InMemoryLeaderElections b = a.node("b");
  private final InMemoryLeaderElections c = a.node("c");

  @Override
  List<LeaderElections> agents() {
    return List.of(a, b, c);
  }

  @Override
  List<String> names() {
    return List.of("a", "b", "c");
  }

  @Test
  void handToGivesLeadershipToACandidateAndTellsEveryone() {
    LeaderElections.Candidacy ca = a.run("sched");
    LeaderElections.Candidacy cb = b.run("sched");
    LeaderElections.Candidacy cc = c.run("sched");
    List<String> heard = new ArrayList<>();
    ca.onChange(l -> heard.add("a:" + l.orElse("none")));
    cc.onChange(l -> heard.add("c:" + l.orElse("none")));

    a.handTo("sched", "c");
    assertTrue(cc.isLeader());
    assertFalse(ca.isLeader());
    assertEquals(Optional.of("c"), cb.leader());
    assertEquals(List.of("c", "a", "b"), a.candidates("sched"), "the former leader queues right behind");
    assertEquals(List.of("a:c", "c:c"), heard, "told at once, on this thread, in the order they entered");

    heard.clear();
    a.handTo("sched", "c");
    assertEquals(List.of(), heard, "no change, nothing told");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> a.handTo("sched", "z"));
    assertEquals("z is no candidate of sched; the candidates are [c, a, b]", e.getMessage());
  }

  @Test
  void aStoppedNodeLeavesEveryElectionAndCannotRun() {
    LeaderElections.Candidacy ca = a.run("sched");
    LeaderElections.Candidacy cb = b.run("sched");
    LeaderElections.Candidacy other = a.run("gc");
    List<Optional<String>> heardByB = new ArrayList<>();
    cb.onChange(heardByB::add);

    a.stop();
    assertEquals(List.of(Optional.of("b")), heardByB);
    assertTrue(cb.isLeader());
    assertFalse(ca.isLeader());
    assertFalse(other.isLeader());
    assertEquals(Optional.empty(), b.leaderOf("gc"));
    BerthException e = assertThrows(BerthException.class, () -> a.run("sched"));
    assertEquals(BerthException.Kind.UNAVAILABLE, e.kind());
    assertEquals(Optional.of("b"), c.run("sched").leader(), "the other agents go on");
  }

  @Test
  void whileStartingRunIsUnavailable() {
    a.starting();
    BerthException e = assertThrows(BerthException.class, () -> a.run("sched"));
    assertEquals(BerthException.Kind.UNAVAILABLE, e.kind());
    assertEquals("the cluster is still starting", e.getMessage());
    assertTrue(b.run("sched").isLeader(), "only that agent is starting");
    a.unavailable(null);
    assertFalse(a.run("sched").isLeader());
  }
}
