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
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
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
 * recovered (Atomix's {@code Recovery.RECOVER}) enters again, at the back of the queue.
 */
final class AtomixElections implements LeaderElections {
  private static final Logger LOG = Logger.getLogger(AtomixElections.class.getName());

  private final Supplier<Atomix> atomix;
  private final String node;
  private final Duration timeout;

  /**
   * @param atomix the started Atomix; throws {@code UNAVAILABLE} while the cluster is starting
   * @param timeout of each Raft operation
   */
  AtomixElections(Supplier<Atomix> atomix, String node, Duration timeout) {
    this.atomix = atomix;
    this.node = node;
    this.timeout = timeout;
  }

  @Override
  public Candidacy run(String topic) {
    LeaderElections.checkTopic(topic);
    Atomix a = atomix.get();
    AsyncLeaderElection<String> e = null;
    try {
      e = a.<String>leaderElectionBuilder("berth-election-" + topic)
          .withProtocol(AtomixNode.electionRaft())
          .buildAsync()
          .thenApply(LeaderElection::async)
          .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      AtomixCandidacy c = new AtomixCandidacy(topic, e);
      e.addListener(c.listener).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      long events = c.events;
      c.ran(e.run(node).get(timeout.toMillis(), TimeUnit.MILLISECONDS), events);
      e.addStateChangeListener(c::stateChanged);
      return c;
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
      close(e);
      throw new BerthException(BerthException.Kind.UNAVAILABLE, "interrupted while joining election " + topic);
    } catch (Exception ex) {
      // Its session would otherwise stay open, and with it a candidate the caller never got.
      close(e);
      throw new BerthException(BerthException.Kind.UNAVAILABLE, "cannot join election " + topic + ": no quorum of servers answered",
          ex);
    }
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
    private final List<Consumer<Optional<String>>> listeners = new CopyOnWriteArrayList<>();
    final LeadershipEventListener<String> listener = event -> changed(event.newLeadership());
    private volatile Leadership<String> leadership;
    /** Events applied so far: a run's answer counts only if no event came after it was asked. */
    volatile long events;
    private volatile boolean closed;
    private PrimitiveState state = PrimitiveState.CONNECTED;

    AtomixCandidacy(String topic, AsyncLeaderElection<String> election) {
      this.topic = topic;
      this.election = election;
    }

    /**
     * Events come in Raft order on the primitive's thread; a run's answer may be overtaken by a
     * later event on its way to the caller, so it is taken only if no event came meanwhile.
     */
    private synchronized void ran(Leadership<String> l, long eventsBefore) {
      if (events == eventsBefore) {
        update(l);
      }
    }

    private synchronized void changed(Leadership<String> l) {
      events++;
      update(l);
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
        LOG.info("election " + topic + ": session " + before.name().toLowerCase() + ", entering again as " + node);
        long eventsBefore = events;
        election.run(node).whenComplete((l, err) -> {
          if (err != null) {
            LOG.log(Level.WARNING, "election " + topic + ": entering again failed; this agent is no candidate now", err);
          } else {
            ran(l, eventsBefore);
          }
        });
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
    public void close() {
      synchronized (this) {
        if (closed) {
          return;
        }
        closed = true;
      }
      listeners.clear();
      try {
        election.removeListener(listener).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        election.withdraw(node).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      } catch (Exception e) {
        // Closing the session below withdraws too, or its expiry does once the servers notice.
        LOG.log(Level.FINE, "withdrawing from election " + topic, e);
      } finally {
        AtomixElections.this.close(election);
      }
    }
  }
}
