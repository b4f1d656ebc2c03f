package dev.berth.agent.cluster;

import dev.berth.agent.DaemonThreads;
import io.atomix.cluster.messaging.MessagingService;
import io.atomix.core.Atomix;
import io.atomix.primitive.partition.Partition;
import io.atomix.primitive.partition.PartitionGroup;
import io.atomix.utils.net.Address;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Liveness as the servers see it. Every agent sends a heartbeat to every server every
 * {@link #INTERVAL} over Atomix's TCP messaging (a direct message, never a Raft write: Raft
 * carries about 140 writes a second); each server keeps the time it last heard from each node
 * in memory ({@link Liveness}) and answers with its verdicts, sent in full only when they
 * changed since the version the sender already holds. An agent takes as authoritative the
 * verdicts of the Raft leader of the data group (the highest term among fresh answers), or its
 * own when it is that leader; without a fresh leader, its own (a server) or the freshest
 * server's (a member); without any fresh answer, none: {@link AtomixMembership} then falls
 * back to SWIM alone.
 *
 * <p>Threading: one daemon thread sends the heartbeats, judges (on servers), handles the
 * heartbeats that arrive (on servers) and calls {@code onChange}; nothing on it blocks.
 */
final class AtomixHeartbeats implements AutoCloseable {
  /** The message type of a heartbeat on Atomix's messaging. */
  static final String TYPE = "berth-heartbeat";
  /**
   * Four heartbeats a second: a dead node is then last heard at most 250 ms before it died, and
   * a server with a hundred nodes handles 400 small messages a second.
   */
  static final Duration INTERVAL = Duration.ofMillis(250);
  /** Four heartbeats missed: suspect. Shorter would flap on a busy 2-core host, and suspicion is only shown. */
  static final Duration SUSPECT_AFTER = Duration.ofSeconds(1);
  /** A server's answer older than this no longer counts (four heartbeats). */
  static final Duration FRESH = Duration.ofSeconds(1);

  private static final Logger LOG = Logger.getLogger(AtomixHeartbeats.class.getName());

  /** What a node sends: its name, and the version of the sending server's verdicts it holds. */
  record Beat(String node, long incarnation, long version) {}

  /**
   * What a server answers: its verdicts (null when the sender already holds this version),
   * whether it leads the data group's Raft and in which term.
   */
  record Answer(String server, long incarnation, long version, boolean leader, long term,
      Map<String, Liveness.Verdict> verdicts) {}

  /** The latest answer of one server, as held by this agent. */
  private record Heard(Answer answer, long receivedNanos) {}

  private final ClusterConfig config;
  private final Duration suspectAfter;
  /**
   * Made when this agent starts listening ({@link #attach}), not before: Atomix takes seconds to
   * start, and a server must not judge nodes down for silence it never listened to.
   */
  private volatile Liveness liveness;
  /** Tells this server's verdicts apart from those of its earlier runs. */
  private final long incarnation = ThreadLocalRandom.current().nextLong();
  private final Map<String, Heard> answers = new ConcurrentHashMap<>();
  private final Map<String, Address> serverAddresses = new ConcurrentHashMap<>();
  private final Runnable onChange;
  private final ScheduledExecutorService thread;
  private volatile Collection<String> registered = List.of();
  private volatile Atomix atomix;
  private volatile boolean leader;
  private volatile long term;
  private volatile Optional<Map<String, Liveness.Verdict>> chosen = Optional.empty();

  /** @param onChange called on the heartbeat thread when the authoritative verdicts change */
  AtomixHeartbeats(ClusterConfig config, Runnable onChange) {
    this.config = config;
    this.onChange = onChange;
    this.suspectAfter = SUSPECT_AFTER.compareTo(config.gracePeriod().dividedBy(2)) < 0 ? SUSPECT_AFTER
        : config.gracePeriod().dividedBy(2);
    this.thread = Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("berth-cluster-heartbeat"));
  }

  /** Starts beating (and, on a server, listening); called once Atomix has started. */
  void attach(Atomix a) {
    this.liveness = new Liveness(suspectAfter, config.gracePeriod(), System.nanoTime());
    this.atomix = a;
    if (config.server()) {
      a.getMessagingService().registerHandler(TYPE, this::onBeat, thread);
    }
    thread.scheduleAtFixedRate(this::tick, 0, INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** The nodes of the registry, judged by a server even if they never send a heartbeat. */
  void registered(Collection<String> names) {
    registered = List.copyOf(names);
  }

  /** The authoritative verdicts, or empty when no server has answered lately (then SWIM alone counts). */
  Optional<Map<String, Liveness.Verdict>> verdicts() {
    return chosen;
  }

  private void tick() {
    try {
      Atomix a = atomix;
      long now = System.nanoTime();
      Map<String, Boolean> swim = new HashMap<>();
      for (io.atomix.cluster.Member m : a.getMembershipService().getMembers()) {
        String name = m.id().id();
        swim.put(name, name.equals(config.node()) || m.isReachable());
        if (Role.SERVER.name().equals(m.properties().getProperty(AtomixNode.ROLE_PROPERTY)) && m.address() != null) {
          serverAddresses.put(name, m.address());
        }
      }
      if (config.server()) {
        liveness.heard(config.node(), now);
        liveness.evaluate(swim, registered, now, System.currentTimeMillis());
        updateLeadership(a);
      }
      MessagingService messaging = a.getMessagingService();
      for (Map.Entry<String, Address> s : serverAddresses.entrySet()) {
        if (s.getKey().equals(config.node())) {
          continue;
        }
        Heard held = answers.get(s.getKey());
        Beat beat = new Beat(config.node(), held == null ? 0 : held.answer().incarnation(), held == null ? -1 : held.answer().version());
        messaging.sendAndReceive(s.getValue(), TYPE, ClusterJson.write(beat), true, FRESH, thread)
            .whenComplete((bytes, err) -> {
              if (err == null) {
                onAnswer(ClusterJson.read(bytes, Answer.class));
              }
            });
      }
      choose(now);
    } catch (RuntimeException e) {
      LOG.log(Level.FINE, "heartbeat tick", e);
    }
  }

  private void updateLeadership(Atomix a) {
    boolean lead = false;
    long t = 0;
    PartitionGroup group = a.getPartitionService().getPartitionGroup(AtomixNode.DATA_GROUP);
    if (group != null) {
      for (Partition p : group.getPartitions()) {
        lead = p.primary() != null && p.primary().id().equals(config.node());
        t = p.term();
      }
    }
    leader = lead;
    term = t;
  }

  /** A heartbeat arrived (servers only): note it, answer with the verdicts if the sender lacks them. */
  private byte[] onBeat(Address from, byte[] bytes) {
    Beat beat = ClusterJson.read(bytes, Beat.class);
    liveness.heard(beat.node(), System.nanoTime());
    long version = liveness.version();
    boolean news = beat.incarnation() != incarnation || beat.version() != version;
    return ClusterJson.write(new Answer(config.node(), incarnation, version, leader, term, news ? liveness.verdicts() : null));
  }

  private void onAnswer(Answer answer) {
    Heard before = answers.get(answer.server());
    Answer full = answer;
    if (answer.verdicts() == null) {
      if (before == null || before.answer().incarnation() != answer.incarnation() || before.answer().verdicts() == null) {
        return;  // an answer to a version we no longer hold; the next heartbeat asks again
      }
      full = new Answer(answer.server(), answer.incarnation(), answer.version(), answer.leader(), answer.term(),
          before.answer().verdicts());
    }
    answers.put(answer.server(), new Heard(full, System.nanoTime()));
    choose(System.nanoTime());
  }

  /** Picks the authoritative verdicts (see {@link #authoritative}) and tells {@code onChange} when they changed. */
  private void choose(long now) {
    List<Answer> fresh = answers.values().stream()
        .filter(h -> now - h.receivedNanos() <= FRESH.toNanos() && serverAddresses.containsKey(h.answer().server()))
        .sorted(java.util.Comparator.comparingLong(Heard::receivedNanos).reversed())
        .map(Heard::answer)
        .toList();
    Optional<Map<String, Liveness.Verdict>> next = authoritative(fresh,
        config.server() ? Optional.of(new Answer(config.node(), incarnation, liveness.version(), leader, term, liveness.verdicts()))
            : Optional.empty());
    if (!next.equals(chosen)) {
      chosen = next;
      try {
        onChange.run();
      } catch (RuntimeException e) {
        LOG.log(Level.WARNING, "liveness listener failed", e);
      }
    }
  }

  /**
   * The verdicts that count: those of the data group's Raft leader (the highest term among the
   * fresh answers and this server's own); without a leader, this server's own; on a plain member,
   * the freshest server's; without any fresh answer, none.
   *
   * @param fresh the servers' recent answers, freshest first, each with its verdicts
   * @param own this agent's own verdicts, if it is a server
   */
  static Optional<Map<String, Liveness.Verdict>> authoritative(List<Answer> fresh, Optional<Answer> own) {
    Answer lead = null;
    for (Answer a : fresh) {
      if (a.leader() && (lead == null || a.term() > lead.term())) {
        lead = a;
      }
    }
    if (own.isPresent() && (lead == null || own.get().leader() && own.get().term() >= lead.term())) {
      return Optional.of(own.get().verdicts());
    }
    if (lead != null) {
      return Optional.of(lead.verdicts());
    }
    return fresh.isEmpty() ? Optional.empty() : Optional.of(fresh.get(0).verdicts());
  }

  @Override
  public void close() {
    thread.shutdownNow();
    Atomix a = atomix;
    if (a != null && config.server()) {
      try {
        a.getMessagingService().unregisterHandler(TYPE);
      } catch (RuntimeException e) {
        LOG.log(Level.FINE, "unregistering the heartbeat handler", e);
      }
    }
  }
}
