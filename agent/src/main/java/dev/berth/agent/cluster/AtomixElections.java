package dev.berth.agent.cluster;

import dev.berth.agent.BerthException;
import io.atomix.core.Atomix;
import io.atomix.core.election.AsyncLeaderElection;
import io.atomix.core.election.Leader;
import io.atomix.core.election.LeaderElection;
import io.atomix.core.election.Leadership;
import io.atomix.core.election.LeadershipEventListener;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Pattern;

/** {@link LeaderElections} over Atomix's Raft-backed {@code LeaderElection<String>} (candidates are node names). */
final class AtomixElections implements LeaderElections {
  private static final Logger LOG = Logger.getLogger(AtomixElections.class.getName());
  private static final Pattern TOPIC = Pattern.compile("[a-z][a-z0-9-]{0,40}");

  private final Supplier<Atomix> atomix;
  private final String node;
  private final Duration timeout;

  AtomixElections(Supplier<Atomix> atomix, String node, Duration timeout) {
    this.atomix = atomix;
    this.node = node;
    this.timeout = timeout;
  }

  @Override
  public Candidacy run(String topic) {
    if (!TOPIC.matcher(topic).matches()) {
      throw BerthException.invalid("invalid election topic \"" + topic + "\"");
    }
    try {
      AsyncLeaderElection<String> e = atomix.get().<String>leaderElectionBuilder("berth-election-" + topic)
          .withProtocol(AtomixNode.raft())
          .buildAsync()
          .thenApply(LeaderElection::async)
          .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      AtomixCandidacy c = new AtomixCandidacy(e);
      e.addListener(c.listener).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      c.leadership = e.run(node).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      return c;
    } catch (BerthException e) {
      throw e;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BerthException(BerthException.Kind.UNAVAILABLE, "interrupted while joining election " + topic);
    } catch (Exception e) {
      throw new BerthException(BerthException.Kind.UNAVAILABLE, "cannot join election " + topic + ": no quorum of servers answered", e);
    }
  }

  private final class AtomixCandidacy implements Candidacy {
    private final AsyncLeaderElection<String> election;
    private final List<Consumer<Optional<String>>> listeners = new CopyOnWriteArrayList<>();
    final LeadershipEventListener<String> listener = event -> changed(event.newLeadership());
    volatile Leadership<String> leadership;

    AtomixCandidacy(AsyncLeaderElection<String> election) {
      this.election = election;
    }

    private void changed(Leadership<String> l) {
      Optional<String> before = leader();
      leadership = l;
      Optional<String> after = leader();
      if (!after.equals(before)) {
        for (Consumer<Optional<String>> c : listeners) {
          try {
            c.accept(after);
          } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "election listener failed", e);
          }
        }
      }
    }

    @Override
    public boolean isLeader() {
      return leader().filter(node::equals).isPresent();
    }

    @Override
    public Optional<String> leader() {
      Leadership<String> l = leadership;
      Leader<String> leader = l == null ? null : l.leader();
      return Optional.ofNullable(leader == null ? null : leader.id());
    }

    @Override
    public void onChange(Consumer<Optional<String>> listener) {
      listeners.add(listener);
    }

    @Override
    public void close() {
      try {
        election.removeListener(listener);
        election.withdraw(node).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      } catch (Exception e) {
        // The Raft session ends with the agent; the next candidate takes over then.
        LOG.log(Level.FINE, "withdrawing from an election", e);
      }
    }
  }
}
