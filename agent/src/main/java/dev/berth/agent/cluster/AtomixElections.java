package dev.berth.agent.cluster;

import dev.berth.agent.BerthException;
import io.atomix.core.Atomix;
import io.atomix.core.election.AsyncLeaderElection;
import io.atomix.core.election.Leader;
import io.atomix.core.election.LeaderElection;
import io.atomix.core.election.Leadership;
import io.atomix.core.election.LeadershipEventListener;
import io.atomix.primitive.PrimitiveState;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * {@link LeaderElections} over Atomix's Raft-backed {@code LeaderElection<String>} (candidates are
 * node names), one primitive named {@code berth-election-TOPIC} per topic.
 *
 * <p>Each candidacy has a Raft session of its own (its own primitive proxy), and Atomix ties a
 * candidate to the session that entered it: when the session ends — the candidacy is closed,
 * the agent stops, or the servers stop hearing from it until the session expires — the
 * candidate is removed and the next one leads. A candidacy whose session expired and was
 * recovered (Atomix's {@code Recovery.RECOVER}) enters again, at the back of the queue; so does
 * one whose node was evicted while alive.
 *
 * <p>A session outlives a killed agent by {@link AtomixNode#ELECTION_SESSION_TIMEOUT}, counted by
 * the Raft leader, which after the death of the Raft leader itself is a new one that counts from
 * its own election: a dead leader held a topic for up to 10 s. The servers know sooner: their
 * heartbeats judge a dead node down after the grace period (2 s). So every candidacy watches the
 * {@link Membership}, and when the servers judge its topic's leader down, and this agent's view
 * holds a majority of the servers alive (a view cut off from them, or stale right after a
 * partition heals, judges nobody), it evicts that leader: the next in line leads once the
 * eviction is committed, as soon as Raft has a leader again. Every surviving candidate does so;
 * an eviction of a node that is no candidate any more changes nothing.
 */
final class AtomixElections implements LeaderElections {
  private static final Logger LOG = Logger.getLogger(AtomixElections.class.getName());
  /**
   * How soon a failed eviction is tried again. While Raft elects a new leader (2.5-5 s after the
   * old one died) writes fail after Atomix's own retries; a tenth of a second after one fails
   * costs next to nothing and lets the next try land soon after the election.
   */
  static final Duration EVICT_RETRY = Duration.ofMillis(100);

  private final Supplier<Atomix> atomix;
  private final String node;
  private final Duration timeout;
  private final Membership membership;
  private final List<String> servers;
  /** Topics this agent withdrew from (a candidacy closed): its other candidacies of them must not enter again. */
  private final java.util.Set<String> withdrawn = java.util.concurrent.ConcurrentHashMap.newKeySet();

  /**
   * @param atomix the started Atomix; throws {@code UNAVAILABLE} while the cluster is starting
   * @param timeout of each Raft operation
   * @param membership the servers' verdicts on every node, by which a dead leader is evicted
   * @param servers the cluster's Raft servers: a verdict counts only while a majority of them is alive
   */
  AtomixElections(Supplier<Atomix> atomix, String node, Duration timeout, Membership membership, List<String> servers) {
    this.atomix = atomix;
    this.node = node;
    this.timeout = timeout;
    this.membership = membership;
    this.servers = List.copyOf(servers);
  }

  /**
   * Whether the servers judge {@code name} down, in a view that holds a majority of the servers
   * alive (else the view is one side of a partition, or stale, and judges nobody).
   */
  private boolean judgedDown(String name) {
    if (name.equals(node) || membership.member(name).map(m -> m.state() != MemberState.DOWN).orElse(true)) {
      return false;
    }
    long alive = servers.stream()
        .filter(s -> s.equals(node) || membership.member(s).map(m -> m.state() == MemberState.ALIVE).orElse(false))
        .count();
    return alive * 2 > servers.size();
  }

  @Override
  public Candidacy run(String topic) {
    LeaderElections.checkTopic(topic);
    Atomix a = atomix.get();
    withdrawn.remove(topic);
    AsyncLeaderElection<String> e = null;
    AsyncLeaderElection<String> evictor = null;
    try {
      e = session(a, topic);
      evictor = session(a, topic);
      AtomixCandidacy c = new AtomixCandidacy(topic, e, evictor);
      e.addListener(c.listener).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      long events = c.events;
      c.ran(e.run(node).get(timeout.toMillis(), TimeUnit.MILLISECONDS), events);
      e.addStateChangeListener(c::stateChanged);
      c.entered();
      return c;
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
      close(e);
      close(evictor);
      throw new BerthException(BerthException.Kind.UNAVAILABLE, "interrupted while joining election " + topic);
    } catch (Exception ex) {
      // Its session would otherwise stay open, and with it a candidate the caller never got.
      close(e);
      close(evictor);
      throw new BerthException(BerthException.Kind.UNAVAILABLE, "cannot join election " + topic + ": no quorum of servers answered",
          ex);
    }
  }

  /** The topic's election through a Raft session of its own. */
  private AsyncLeaderElection<String> session(Atomix a, String topic) throws Exception {
    return a.<String>leaderElectionBuilder("berth-election-" + topic)
        .withProtocol(AtomixNode.electionRaft())
        .buildAsync()
        .thenApply(LeaderElection::async)
        .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Closes a primitive's session without waiting; never throws. */
  private void close(AsyncLeaderElection<String> e) {
    if (e == null) {
      return;
    }
    try {
      e.close().orTimeout(timeout.toMillis(), TimeUnit.MILLISECONDS).exceptionally(ex -> null);
    } catch (RuntimeException stopped) {
      // Once Atomix has stopped its thread pools refuse the close itself; the session ended with it.
      LOG.log(Level.FINE, "closing an election's session", stopped);
    }
  }

  private final class AtomixCandidacy implements Candidacy {
    private final String topic;
    private final AsyncLeaderElection<String> election;
    /**
     * The same election through a second session, for evictions. Atomix holds a session's events
     * back until the answers to its commands sent before them have come (its sequencer), and an
     * eviction sent while Raft elects a leader takes seconds to be answered: sent through the
     * candidacy's own session, it held back the news that another server's eviction had made this
     * one the leader (1.1 s in a trial of bench/failover.sh).
     */
    private final AsyncLeaderElection<String> evictor;
    private final List<Consumer<Optional<String>>> listeners = new CopyOnWriteArrayList<>();
    final LeadershipEventListener<String> listener = event -> changed(event.oldLeadership(), event.newLeadership());
    private volatile Leadership<String> leadership;
    /** Events applied so far: a run's answer counts only if no event came after it was asked. */
    volatile long events;
    private final java.util.function.Consumer<Member> judged = m -> {
      if (m.state() == MemberState.DOWN) {
        evictIfDown();
      }
    };
    private volatile boolean closed;
    /** Set once the first run returned: from then on, a leadership without this node means it was evicted. */
    private volatile boolean entered;
    /** Whether a run to enter again is under way; its lock guards {@link #enterAgain} too. */
    private final boolean[] entering = new boolean[1];
    /** Why to enter again once the run under way is answered; null: no need. */
    private String enterAgain;
    private final AtomicBoolean evicting = new AtomicBoolean();
    private PrimitiveState state = PrimitiveState.CONNECTED;

    AtomixCandidacy(String topic, AsyncLeaderElection<String> election, AsyncLeaderElection<String> evictor) {
      this.topic = topic;
      this.election = election;
      this.evictor = evictor;
    }

    /** The first run returned: watch for eviction of this node, and for the leader's node judged down. */
    void entered() {
      entered = true;
      membership.addListener(judged);
      evictIfDown();
    }

    /**
     * Events come in Raft order on the primitive's thread; a run's answer may be overtaken by a
     * later event on its way to the caller, so it is taken only if no event came meanwhile.
     */
    private void ran(Leadership<String> l, long eventsBefore) {
      synchronized (this) {
        if (events == eventsBefore) {
          update(l);
        }
      }
      evictIfDown();
    }

    private void changed(Leadership<String> before, Leadership<String> after) {
      synchronized (this) {
        events++;
        update(after);
      }
      if (closed || !entered) {
        return;
      }
      // Out of the line, yet no candidacy of this agent withdrew: evicted (or its session expired,
      // which stateChanged handles too; entering twice is harmless).
      if (before != null && before.candidates().contains(node) && (after == null || !after.candidates().contains(node))
          && !withdrawn.contains(topic)) {
        enterAgain("evicted from the line");
      }
      evictIfDown();
    }

    /**
     * Runs again (at the back of the line), never after close. One attempt at a time: a reason
     * that comes up during one (a session recovered while an eviction's re-entry is under way)
     * has another run after it, as the first may have been answered by the old session.
     */
    private void enterAgain(String why) {
      if (closed || withdrawn.contains(topic)) {
        return;
      }
      synchronized (entering) {
        if (entering[0]) {
          enterAgain = why;
          return;
        }
        entering[0] = true;
      }
      LOG.info("election " + topic + ": " + why + ", entering again as " + node);
      long eventsBefore = events;
      election.run(node).whenComplete((l, err) -> {
        if (err != null) {
          LOG.log(Level.WARNING, "election " + topic + ": entering again failed; this agent is no candidate now", err);
        } else {
          ran(l, eventsBefore);
        }
        String next;
        synchronized (entering) {
          entering[0] = false;
          next = enterAgain;
          enterAgain = null;
        }
        if (next != null) {
          enterAgain(next);
        }
      });
    }

    /**
     * Evicts the leader as last heard if the servers judge its node down; asynchronous (this runs
     * on Atomix's and the heartbeats' threads), one eviction at a time, tried again every
     * {@link #EVICT_RETRY} while it fails and the judgement holds.
     */
    private void evictIfDown() {
      Optional<String> l = leader();
      if (closed || !entered || l.isEmpty() || !judgedDown(l.get()) || !evicting.compareAndSet(false, true)) {
        return;
      }
      String dead = l.get();
      long t0 = System.nanoTime();
      LOG.info("election " + topic + ": the servers judge its leader " + dead + " down; evicting it");
      CompletableFuture<Void> f;
      try {
        f = evictor.evict(dead);
      } catch (RuntimeException e) {
        evicting.set(false);
        LOG.log(Level.FINE, "election " + topic + ": evicting " + dead, e);
        return;
      }
      f.orTimeout(timeout.toMillis(), TimeUnit.MILLISECONDS).whenComplete((v, err) -> {
        evicting.set(false);
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        if (err == null) {
          LOG.info("election " + topic + ": evicted " + dead + " in " + ms + " ms");
        } else {
          LOG.log(Level.FINE, "election " + topic + ": evicting " + dead + " failed after " + ms + " ms; will retry", err);
          CompletableFuture.delayedExecutor(EVICT_RETRY.toMillis(), TimeUnit.MILLISECONDS).execute(this::evictIfDown);
        }
      });
    }

    private void update(Leadership<String> l) {
      Optional<String> before = leader();
      leadership = l;
      Optional<String> after = leader();
      if (!after.equals(before) && !closed) {
        for (Consumer<Optional<String>> c : listeners) {
          try {
            c.accept(after);
          } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "election listener failed", e);
          }
        }
      }
    }

    /**
     * After its session expired, Atomix removed this candidate; once a new session is
     * connected, enter again (idempotent if the candidate is still there).
     */
    private synchronized void stateChanged(PrimitiveState next) {
      PrimitiveState before = state;
      state = next;
      if (next == PrimitiveState.CONNECTED && before != PrimitiveState.CONNECTED && !closed) {
        enterAgain("session " + before.name().toLowerCase());
      }
    }

    @Override
    public boolean isLeader() {
      return !closed && leader().filter(node::equals).isPresent();
    }

    @Override
    public Optional<String> leader() {
      Leadership<String> l = leadership;
      Leader<String> leader = l == null ? null : l.leader();
      return Optional.ofNullable(leader == null ? null : leader.id());
    }

    @Override
    public void onChange(Consumer<Optional<String>> listener) {
      if (!closed) {
        listeners.add(listener);
      }
    }

    @Override
    public void evict(String other) {
      if (closed) {
        throw BerthException.failedPrecondition("the candidacy for " + topic + " is closed");
      }
      try {
        evictor.evict(other).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new BerthException(BerthException.Kind.UNAVAILABLE, "interrupted while evicting " + other + " from " + topic);
      } catch (Exception e) {
        throw new BerthException(BerthException.Kind.UNAVAILABLE, "cannot evict " + other + " from election " + topic
            + ": no quorum of servers answered", e);
      }
    }

    @Override
    public void close() {
      synchronized (this) {
        if (closed) {
          return;
        }
        closed = true;
      }
      withdrawn.add(topic);
      membership.removeListener(judged);
      listeners.clear();
      try {
        election.removeListener(listener).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        election.withdraw(node).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      } catch (Exception e) {
        // Closing the session below withdraws too, or its expiry does once the servers notice.
        LOG.log(Level.FINE, "withdrawing from election " + topic, e);
      } finally {
        AtomixElections.this.close(election);
        AtomixElections.this.close(evictor);
      }
    }
  }
}
