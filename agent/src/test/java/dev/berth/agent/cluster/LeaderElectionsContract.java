package dev.berth.agent.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What every {@link LeaderElections} does, run against the in-memory fake and the Atomix
 * implementation (three agents of one cluster), so that the fake cannot drift. Changes reach
 * the other agents asynchronously in Atomix, so every check of another agent's view waits for
 * it, within {@link #SETTLE}.
 */
abstract class LeaderElectionsContract {
  /** Generous: a change travels in milliseconds, but a loaded 2-core host may hold it up for seconds. */
  static final Duration SETTLE = Duration.ofSeconds(30);

  /** Three agents of one cluster, each seeing the same elections, in the order of {@link #names()}. */
  abstract List<LeaderElections> agents();

  /** The agents' node names. */
  abstract List<String> names();

  private final List<LeaderElections.Candidacy> opened = new ArrayList<>();
  /** Topics are never reused: the Atomix cluster lives for the whole class. */
  private final String run = UUID.randomUUID().toString().substring(0, 6);

  String topic(String base) {
    return base + "-" + run;
  }

  LeaderElections.Candidacy run(int agent, String topic) {
    LeaderElections.Candidacy c = agents().get(agent).run(topic);
    opened.add(c);
    return c;
  }

  @AfterEach
  void withdrawAll() {
    opened.forEach(LeaderElections.Candidacy::close);
  }

  static void await(String what, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + SETTLE.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not within " + SETTLE.toSeconds() + " s: " + what);
      }
      Thread.sleep(20);
    }
  }

  /** Waits until every candidacy names {@code leader}, and exactly the leader's own says it leads. */
  void awaitAgreement(String leader, List<LeaderElections.Candidacy> all, List<Integer> agents) throws InterruptedException {
    Supplier<String> views = () -> {
      List<String> out = new ArrayList<>();
      for (int i = 0; i < all.size(); i++) {
        out.add(names().get(agents.get(i)) + ": " + all.get(i).leader().orElse("none") + (all.get(i).isLeader() ? " (leads)" : ""));
      }
      return out.toString();
    };
    await(leader + " leads as every candidate sees it; views " + views.get(), () -> {
      int leaders = 0;
      for (int i = 0; i < all.size(); i++) {
        if (!all.get(i).leader().equals(Optional.of(leader))) {
          return false;
        }
        leaders += all.get(i).isLeader() ? 1 : 0;
        if (all.get(i).isLeader() != names().get(agents.get(i)).equals(leader)) {
          return false;
        }
      }
      return leaders == 1;
    });
  }

  static BlockingQueue<Optional<String>> heard(LeaderElections.Candidacy c) {
    BlockingQueue<Optional<String>> q = new LinkedBlockingQueue<>();
    c.onChange(q::add);
    return q;
  }

  static Optional<String> next(BlockingQueue<Optional<String>> q) throws InterruptedException {
    Optional<String> got = q.poll(SETTLE.toMillis(), TimeUnit.MILLISECONDS);
    if (got == null) {
      throw new AssertionError("no change heard within " + SETTLE.toSeconds() + " s");
    }
    return got;
  }

  @Test
  void theFirstCandidateLeadsAndEveryCandidateAgrees() throws Exception {
    String t = topic("first");
    LeaderElections.Candidacy a = run(0, t);
    assertTrue(a.isLeader(), "the only candidate leads as soon as run returns");
    LeaderElections.Candidacy b = run(1, t);
    LeaderElections.Candidacy c = run(2, t);
    awaitAgreement(names().get(0), List.of(a, b, c), List.of(0, 1, 2));
  }

  @Test
  void closingTheLeaderHandsOverToTheNextInLineAndTellsTheOthers() throws Exception {
    String t = topic("handover");
    LeaderElections.Candidacy a = run(0, t);
    LeaderElections.Candidacy b = run(1, t);
    LeaderElections.Candidacy c = run(2, t);
    awaitAgreement(names().get(0), List.of(a, b, c), List.of(0, 1, 2));
    BlockingQueue<Optional<String>> heardByA = heard(a);
    BlockingQueue<Optional<String>> heardByB = heard(b);
    BlockingQueue<Optional<String>> heardByC = heard(c);

    a.close();
    assertFalse(a.isLeader(), "a closed candidacy never leads");
    assertEquals(Optional.of(names().get(1)), next(heardByB));
    assertEquals(Optional.of(names().get(1)), next(heardByC));
    awaitAgreement(names().get(1), List.of(b, c), List.of(1, 2));
    assertTrue(heardByA.isEmpty(), "a closed candidacy hears nothing: " + heardByA);

    b.close();
    assertEquals(Optional.of(names().get(2)), next(heardByC));
    awaitAgreement(names().get(2), List.of(c), List.of(2));
  }

  @Test
  void aFollowerLeavingChangesNoLeaderAndTellsNobody() throws Exception {
    String t = topic("follower");
    LeaderElections.Candidacy a = run(0, t);
    LeaderElections.Candidacy b = run(1, t);
    LeaderElections.Candidacy c = run(2, t);
    awaitAgreement(names().get(0), List.of(a, b, c), List.of(0, 1, 2));
    BlockingQueue<Optional<String>> heardByA = heard(a);
    BlockingQueue<Optional<String>> heardByC = heard(c);

    b.close();
    // Then a change of leader: the first thing c hears must be that one, not b's leaving.
    a.close();
    assertEquals(Optional.of(names().get(2)), next(heardByC));
    awaitAgreement(names().get(2), List.of(c), List.of(2));
    assertTrue(heardByA.isEmpty(), "the leader heard of a follower leaving, or after its close: " + heardByA);
  }

  @Test
  void eachTopicHasALeaderOfItsOwn() throws Exception {
    String x = topic("x");
    String y = topic("y");
    LeaderElections.Candidacy bx = run(1, x);
    LeaderElections.Candidacy cy = run(2, y);
    LeaderElections.Candidacy ax = run(0, x);
    LeaderElections.Candidacy by = run(1, y);
    LeaderElections.Candidacy ay = run(0, y);
    awaitAgreement(names().get(1), List.of(bx, ax), List.of(1, 0));
    awaitAgreement(names().get(2), List.of(cy, by, ay), List.of(2, 1, 0));
  }

  @Test
  void aNodeRunningTwiceIsOneCandidateAndEitherCloseWithdrawsIt() throws Exception {
    String t = topic("twice");
    LeaderElections.Candidacy a1 = run(0, t);
    LeaderElections.Candidacy b = run(1, t);
    LeaderElections.Candidacy a2 = run(0, t);
    awaitAgreement(names().get(0), List.of(a1, b), List.of(0, 1));
    BlockingQueue<Optional<String>> heardByB = heard(b);
    a2.close();
    assertEquals(Optional.of(names().get(1)), next(heardByB));
    // a1 is still open, but its node withdrew: it follows, and never enters again by itself.
    awaitAgreement(names().get(1), List.of(b, a1), List.of(1, 0));
    b.close();
    await("no leader once b withdrew too", () -> a1.leader().isEmpty());
    assertFalse(a1.isLeader());
  }

  @Test
  void evictingTheLeaderHandsOverAtOnceAndTheEvictedNodeEntersAgainAtTheBack() throws Exception {
    String t = topic("evict-leader");
    LeaderElections.Candidacy a = run(0, t);
    LeaderElections.Candidacy b = run(1, t);
    LeaderElections.Candidacy c = run(2, t);
    awaitAgreement(names().get(0), List.of(a, b, c), List.of(0, 1, 2));
    BlockingQueue<Optional<String>> heardByA = heard(a);
    BlockingQueue<Optional<String>> heardByC = heard(c);

    // As when the servers judge a's node down, but a is alive: it must hear it and stop leading.
    b.evict(names().get(0));
    assertEquals(Optional.of(names().get(1)), next(heardByA), "the evicted leader hears who leads now");
    assertEquals(Optional.of(names().get(1)), next(heardByC));
    awaitAgreement(names().get(1), List.of(a, b, c), List.of(0, 1, 2));
    assertFalse(a.isLeader(), "an evicted leader no longer leads");

    // a entered again behind c: c leads next, then a.
    b.close();
    assertEquals(Optional.of(names().get(2)), next(heardByC));
    awaitAgreement(names().get(2), List.of(a, c), List.of(0, 2));
    c.close();
    awaitAgreement(names().get(0), List.of(a), List.of(0));
    assertTrue(a.isLeader(), "the evicted node stayed a candidate");
  }

  @Test
  void evictingAFollowerOrANonCandidateChangesNoLeader() throws Exception {
    String t = topic("evict-follower");
    LeaderElections.Candidacy a = run(0, t);
    LeaderElections.Candidacy b = run(1, t);
    LeaderElections.Candidacy c = run(2, t);
    awaitAgreement(names().get(0), List.of(a, b, c), List.of(0, 1, 2));
    BlockingQueue<Optional<String>> heardByA = heard(a);
    BlockingQueue<Optional<String>> heardByB = heard(b);

    a.evict(names().get(1));
    a.evict("no-such-node");
    c.evict(names().get(1));
    awaitAgreement(names().get(0), List.of(a, b, c), List.of(0, 1, 2));
    // b entered again at the back: after a, c leads, not b.
    a.close();
    assertEquals(Optional.of(names().get(2)), next(heardByB), "the first change b hears is a's leaving, not its eviction");
    awaitAgreement(names().get(2), List.of(b, c), List.of(1, 2));
    assertTrue(heardByA.isEmpty(), "the leader heard of a follower's eviction, or after its close: " + heardByA);
  }

  @Test
  void aClosedCandidacyCannotEvict() throws Exception {
    String t = topic("evict-closed");
    LeaderElections.Candidacy a = run(0, t);
    LeaderElections.Candidacy b = run(1, t);
    a.close();
    BerthException e = assertThrows(BerthException.class, () -> a.evict(names().get(1)));
    assertEquals(BerthException.Kind.FAILED_PRECONDITION, e.kind());
    awaitAgreement(names().get(1), List.of(b), List.of(1));
  }

  @Test
  void closeIsIdempotent() {
    LeaderElections.Candidacy a = run(0, topic("idem"));
    a.close();
    a.close();
    assertFalse(a.isLeader());
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "Upper", "with space", "1st", "under_score", "a-topic-name-of-forty-two-characters-longx"})
  void aTopicIsLowerCaseLettersDigitsAndDashes(String topic) {
    BerthException e = assertThrows(BerthException.class, () -> agents().get(0).run(topic));
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind());
    assertTrue(e.getMessage().contains("invalid election topic \"" + topic + "\""), e.getMessage());
  }
}
