package dev.berth.agent.cluster;

import dev.berth.agent.BerthException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * {@link LeaderElections} in memory, for unit tests of code that needs one (the scheduler loop):
 * one set of elections shared by one or more agents, each a view made by {@link #node}. It keeps
 * the Atomix implementation's rules, which {@code LeaderElectionsContract} holds both to: the
 * first candidate of a topic leads, the others queue in the order they entered; when the leader
 * withdraws or is evicted the next in line leads; an evicted node that is still running enters
 * again at the back; a node is a candidate once however often it runs.
 *
 * <p>What a test can do that a real cluster does by itself: {@link #handTo} gives a topic's
 * leadership to a candidate (as Atomix's {@code anoint}); {@link #stop} is this agent's node
 * stopping (its candidacies end, as when its Raft session ends); {@link #unavailable} makes
 * {@link #run} throw {@code UNAVAILABLE}, as while the cluster is starting.
 *
 * <p>Unlike Atomix, every view sees a change at once: the listeners run on the thread that made
 * the change, after it and outside the fake's lock, in the order the candidacies entered. An
 * eviction is two changes, as in Atomix: the node leaves the line (listeners told if the leader
 * changed), then its open candidacies put it back at the end (told again if that made it lead).
 * Unlike Atomix, the fake never evicts by itself: it knows no liveness. Thread-safe.
 */
public final class InMemoryLeaderElections implements LeaderElections {
  private final Shared shared;
  private final String node;
  private volatile String unavailable;
  private volatile boolean stopped;

  /** A fresh set of elections, seen by the agent {@code node}. */
  public InMemoryLeaderElections(String node) {
    this(new Shared(), node);
  }

  private InMemoryLeaderElections(Shared shared, String node) {
    this.shared = shared;
    this.node = node;
  }

  /** The same elections as seen by another agent, {@code other}. */
  public InMemoryLeaderElections node(String other) {
    return new InMemoryLeaderElections(shared, other);
  }

  /** This view's node. */
  public String name() {
    return node;
  }

  @Override
  public Candidacy run(String topic) {
    LeaderElections.checkTopic(topic);
    String why = stopped ? "the cluster layer is stopped" : unavailable;
    if (why != null) {
      throw new BerthException(BerthException.Kind.UNAVAILABLE, why);
    }
    FakeCandidacy c = new FakeCandidacy(topic);
    shared.change(topic, t -> {
      t.candidacies.add(c);
      if (!t.candidates.contains(node)) {
        t.candidates.add(node);
      }
    });
    return c;
  }

  /** From now on {@link #run} throws {@code UNAVAILABLE} with {@code reason}; null: available again. */
  public void unavailable(String reason) {
    this.unavailable = reason;
  }

  /** As while the cluster starts: {@link #run} throws {@code UNAVAILABLE} "the cluster is still starting". */
  public void starting() {
    unavailable("the cluster is still starting");
  }

  /**
   * This agent's node stops: it is no candidate of any topic any more (the next in line leads),
   * its candidacies hear nothing more, and {@link #run} throws {@code UNAVAILABLE}.
   */
  public void stop() {
    stopped = true;
    for (String topic : shared.topics()) {
      shared.change(topic, t -> {
        t.candidates.remove(node);
        t.candidacies.removeIf(c -> c.owner() == this);
      });
    }
  }

  /**
   * Gives {@code topic}'s leadership to {@code candidate}, which must be one of its candidates;
   * the former leader queues right behind it.
   */
  public void handTo(String topic, String candidate) {
    shared.change(topic, t -> {
      if (!t.candidates.remove(candidate)) {
        throw new IllegalArgumentException(candidate + " is no candidate of " + topic + "; the candidates are " + t.candidates);
      }
      t.candidates.add(0, candidate);
    });
  }

  /** Who leads {@code topic} now, seen from outside any agent. */
  public Optional<String> leaderOf(String topic) {
    return shared.leader(topic);
  }

  /** The candidates of {@code topic} in line, the leader first. */
  public List<String> candidates(String topic) {
    return shared.candidates(topic);
  }

  /** All agents' elections: the candidates of each topic and who listens. */
  private static final class Shared {
    private final Map<String, Topic> topics = new HashMap<>();

    synchronized List<String> topics() {
      return List.copyOf(topics.keySet());
    }

    synchronized Optional<String> leader(String topic) {
      Topic t = topics.get(topic);
      return t == null ? Optional.empty() : t.leader();
    }

    synchronized List<String> candidates(String topic) {
      Topic t = topics.get(topic);
      return t == null ? List.of() : List.copyOf(t.candidates);
    }

    /** Applies {@code change} to a topic, then tells its candidacies if the leader changed. */
    void change(String topic, Consumer<Topic> change) {
      Optional<String> after;
      List<FakeCandidacy> tell;
      synchronized (this) {
        Topic t = topics.computeIfAbsent(topic, k -> new Topic());
        Optional<String> before = t.leader();
        change.accept(t);
        after = t.leader();
        tell = after.equals(before) ? List.of() : List.copyOf(t.candidacies);
      }
      for (FakeCandidacy c : tell) {
        c.changed(after);
      }
    }
  }

  private static final class Topic {
    final List<String> candidates = new ArrayList<>();
    /** Open candidacies in the order they entered; more than one of a node when it ran twice. */
    final List<FakeCandidacy> candidacies = new ArrayList<>();

    Optional<String> leader() {
      return candidates.isEmpty() ? Optional.empty() : Optional.of(candidates.get(0));
    }
  }

  private final class FakeCandidacy implements Candidacy {
    private final String topic;
    private final List<Consumer<Optional<String>>> listeners = new CopyOnWriteArrayList<>();
    private volatile boolean closed;

    FakeCandidacy(String topic) {
      this.topic = topic;
    }

    InMemoryLeaderElections owner() {
      return InMemoryLeaderElections.this;
    }

    void changed(Optional<String> leader) {
      for (Consumer<Optional<String>> l : listeners) {
        if (!closed) {
          l.accept(leader);
        }
      }
    }

    @Override
    public boolean isLeader() {
      return !closed && !stopped && leader().filter(node::equals).isPresent();
    }

    @Override
    public Optional<String> leader() {
      return shared.leader(topic);
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
      boolean[] removed = new boolean[1];
      shared.change(topic, t -> removed[0] = t.candidates.remove(other));
      // As Atomix's candidacies do once they hear of it: a node still running enters again, at the back.
      shared.change(topic, t -> {
        boolean open = t.candidacies.stream().anyMatch(c -> c.owner().node.equals(other) && !c.owner().stopped);
        if (removed[0] && open && !t.candidates.contains(other)) {
          t.candidates.add(other);
        }
      });
    }

    @Override
    public void close() {
      if (closed) {
        return;
      }
      closed = true;
      listeners.clear();
      // As in Atomix: the node withdraws, whichever of its candidacies closes.
      shared.change(topic, t -> {
        t.candidacies.remove(this);
        t.candidates.remove(node);
      });
    }
  }

  /** For readable failures. */
  @Override
  public String toString() {
    Map<String, List<String>> all = new LinkedHashMap<>();
    shared.topics().forEach(t -> all.put(t, candidates(t)));
    return "InMemoryLeaderElections[" + node + ", " + all + "]";
  }
}
