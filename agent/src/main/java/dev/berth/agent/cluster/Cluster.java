package dev.berth.agent.cluster;

import dev.berth.agent.BerthException;
import dev.berth.agent.DaemonThreads;
import io.atomix.core.Atomix;
import io.atomix.primitive.partition.Partition;
import io.atomix.primitive.partition.PartitionGroup;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The cluster layer of one agent, managed: the composition root creates it, calls {@link #start()}
 * and {@link #close()}, and hands the read-only views ({@link #membership()}, {@link #store()},
 * {@link #nodes()}, {@link #gossip()}, {@link #elections()}) to the parts that need them.
 *
 * <p>Lifecycle: {@link #start()} returns at once; Atomix starts on a background thread (seconds:
 * Raft elections), so the agent's local API never waits for it. Until it is ready every call that
 * needs Atomix throws {@code UNAVAILABLE} "the cluster is still starting"; if it fails, they
 * throw {@code UNAVAILABLE} with the reason, and {@link #status()} tells it. Once ready the
 * agent registers itself in the node registry (retried until it succeeds) and publishes its
 * {@link NodeFacts} every {@link #FACTS_INTERVAL}. All methods are thread-safe.
 */
public final class Cluster implements AutoCloseable {
  /** How often this agent publishes its facts and re-reads the membership: the "about once a second". */
  public static final Duration FACTS_INTERVAL = Duration.ofSeconds(1);
  /**
   * How long a replicated operation may take before it is reported UNAVAILABLE: a write takes
   * 5-7 ms at p50 here; 5 s covers a leader election (2.5-5 s in Atomix 3.1, fixed).
   */
  public static final Duration OPERATION_TIMEOUT = Duration.ofSeconds(5);
  /**
   * How long a plain member's join may take before it is begun again with a fresh Atomix node: a
   * join takes 1-4 s here; a member whose servers are not up yet simply tries again. Seen twice
   * under heavy test load: a member's join that never completed while its servers were fine.
   */
  public static final Duration MEMBER_JOIN_ATTEMPT = Duration.ofSeconds(30);
  /** How long a member whose join failed waits before it begins again. */
  static final Duration JOIN_RETRY_PAUSE = Duration.ofSeconds(1);

  private static final Logger LOG = Logger.getLogger(Cluster.class.getName());

  private final ClusterConfig config;
  private final AtomixMembership membership;
  private final AtomixStore store;
  private final NodeRegistry nodes;
  private final AtomixGossip gossip;
  private final AtomixElections elections;
  private final AtomixHeartbeats heartbeats;
  private final ScheduledExecutorService timer;
  private final CountDownLatch ready = new CountDownLatch(1);
  private final Duration joinAttempt;
  private volatile int joinAttempts;
  private volatile Atomix atomix;
  private volatile ClusterStatus.Phase phase = ClusterStatus.Phase.STARTING;
  private volatile String failure = "";
  private volatile long startupMillis;
  private volatile boolean registered;
  private Thread starter;

  /**
   * @param localFacts this node's facts, taken on the cluster's timer thread about once a second;
   *     must be quick and must not throw
   */
  public Cluster(ClusterConfig config, Supplier<NodeFacts> localFacts) {
    this(config, localFacts, MEMBER_JOIN_ATTEMPT);
  }

  /** @param joinAttempt how long a plain member's join may take before it is begun again */
  Cluster(ClusterConfig config, Supplier<NodeFacts> localFacts, Duration joinAttempt) {
    this.config = config;
    this.joinAttempt = joinAttempt;
    this.membership = new AtomixMembership(config);
    this.heartbeats = new AtomixHeartbeats(config, membership::refreshAll);
    this.store = new AtomixStore(this::started, OPERATION_TIMEOUT);
    this.nodes = new NodeRegistry(store);
    this.gossip = new AtomixGossip(config.node(), localFacts);
    this.elections = new AtomixElections(this::started, config.node(), OPERATION_TIMEOUT, membership, config.servers());
    this.timer = Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("berth-cluster-timer"));
  }

  public ClusterConfig config() {
    return config;
  }

  public Membership membership() {
    return membership;
  }

  public ClusterStore store() {
    return store;
  }

  public NodeRegistry nodes() {
    return nodes;
  }

  public GossipView gossip() {
    return gossip;
  }

  public LeaderElections elections() {
    return elections;
  }

  public boolean isReady() {
    return phase == ClusterStatus.Phase.READY;
  }

  /** Waits until the cluster is ready, failed or closed; true if ready. For tests and tools. */
  public boolean awaitReady(Duration timeout) throws InterruptedException {
    ready.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    return isReady();
  }

  /** Starts Atomix in the background and returns at once. Call once. */
  public synchronized void start() {
    if (starter != null) {
      throw new IllegalStateException("the cluster was started already");
    }
    starter = new Thread(this::run, "berth-cluster-start");
    starter.setDaemon(true);
    starter.start();
  }

  private void run() {
    long t0 = System.nanoTime();
    try {
      Atomix a = adopt(AtomixNode.build(config));
      if (a == null) {
        return;
      }
      if (config.servers().equals(List.of(config.node()))) {
        Thread promoter = new Thread(new SingleServerPromoter(a, List.of(AtomixNode.SYSTEM_GROUP, AtomixNode.DATA_GROUP)),
            "berth-cluster-promote");
        promoter.setDaemon(true);
        promoter.start();
      }
      a = join(a);
      if (a == null) {
        return;
      }
      membership.attach(a, heartbeats::verdicts);
      heartbeats.attach(a);
      gossip.attach(a, OPERATION_TIMEOUT);
      synchronized (this) {
        if (phase != ClusterStatus.Phase.STARTING) {
          return;
        }
        startupMillis = Math.max(1, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
        phase = ClusterStatus.Phase.READY;
      }
      LOG.info("cluster " + config.cluster() + " ready as " + config.role().name().toLowerCase() + " " + config.node()
          + " after " + startupMillis + " ms");
      ready.countDown();
      long period = FACTS_INTERVAL.toMillis();
      timer.scheduleWithFixedDelay(this::tick, 0, period, TimeUnit.MILLISECONDS);
    } catch (Throwable e) {
      synchronized (this) {
        if (phase == ClusterStatus.Phase.STARTING) {
          phase = ClusterStatus.Phase.FAILED;
          failure = String.valueOf(e.getCause() != null ? e.getCause() : e);
          LOG.log(Level.SEVERE, "the cluster failed to start", e);
        }
      }
      ready.countDown();
    }
  }

  /** Makes {@code a} this layer's Atomix node, or stops it and answers null if the layer was closed meanwhile. */
  private Atomix adopt(Atomix a) {
    synchronized (this) {
      if (phase != ClusterStatus.Phase.STOPPED) {
        atomix = a;
        return a;
      }
    }
    stopQuietly(a);
    return null;
  }

  /**
   * Starts {@code a} and waits until it has joined; answers the node that joined, or null if the
   * layer was closed meanwhile. A server waits as long as it takes (its Raft group needs its
   * peers, and its log is its own). A plain member holds no Raft state, so one whose join has not
   * completed after {@link #joinAttempt}, or whose start failed, is stopped and begun again with a
   * fresh node, each attempt logged: servers that are not up yet cost only the wait, and a join stuck for any
   * other reason does not keep the member out of the cluster forever.
   */
  private Atomix join(Atomix a) throws Exception {
    while (true) {
      joinAttempts++;
      CompletableFuture<Void> started = a.start();
      if (config.server()) {
        started.join(); // close() ends the wait: stopping Atomix fails the future
        return a;
      }
      try {
        started.get(joinAttempt.toMillis(), TimeUnit.MILLISECONDS);
        return a;
      } catch (TimeoutException e) {
        LOG.warning("member " + config.node() + " has not joined cluster " + config.cluster() + " through "
            + config.join() + " after " + joinAttempt.toSeconds() + " s (attempt " + joinAttempts
            + "); beginning the join again");
      } catch (ExecutionException e) {
        // Atomix's own start can fail on a race of its membership protocol (a member it is told of
        // before it knows it); a member has nothing to lose by beginning again.
        LOG.warning("member " + config.node() + " could not join cluster " + config.cluster() + " through "
            + config.join() + " (attempt " + joinAttempts + "): " + e.getCause() + "; beginning the join again in "
            + JOIN_RETRY_PAUSE.toSeconds() + " s");
        Thread.sleep(JOIN_RETRY_PAUSE.toMillis());
      }
      synchronized (this) {
        if (phase == ClusterStatus.Phase.STOPPED) {
          return null;
        }
      }
      stopQuietly(a);
      a = adopt(AtomixNode.build(config));
      if (a == null) {
        return null;
      }
    }
  }

  /** How many times this layer has begun its join (1 unless a plain member's join was begun again). */
  int joinAttempts() {
    return joinAttempts;
  }

  private static void stopQuietly(Atomix a) {
    try {
      a.stop().get(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      LOG.log(Level.WARNING, "stopping the cluster layer: " + e);
    }
  }

  /**
   * Once a second: register until registered, tell the liveness which nodes are registered (on a
   * server), heal the membership view, publish the facts.
   */
  private void tick() {
    if (phase != ClusterStatus.Phase.READY) {
      return;
    }
    if (!registered) {
      try {
        nodes.register(config.node(), config.advertise().toString(), config.apiAddress(), config.role(),
            System.currentTimeMillis());
        registered = true;
      } catch (RuntimeException e) {
        LOG.log(Level.FINE, "registering this node, will retry", e);
      }
    }
    if (config.server()) {
      // The registry's nodes are judged even if they never beat (down a grace period after this server started).
      try {
        heartbeats.registered(nodes.list().stream().map(NodeRecord::name).toList());
      } catch (RuntimeException e) {
        LOG.log(Level.FINE, "reading the registry for liveness, will retry", e);
      }
    }
    // Each step on its own: one that throws must neither skip the others nor, escaping, end this
    // timer (a scheduled task that throws is never run again) and with it the node's facts.
    for (Runnable step : new Runnable[] {membership::refreshAll, gossip::publish}) {
      try {
        step.run();
      } catch (RuntimeException e) {
        LOG.log(Level.WARNING, "the cluster's once-a-second work failed, will retry", e);
      }
    }
  }

  /** Whether this node's registration has landed in the replicated registry. */
  public boolean isRegistered() {
    return registered;
  }

  private Atomix started() {
    return switch (phase) {
      case READY -> atomix;
      case STARTING -> throw new BerthException(BerthException.Kind.UNAVAILABLE, "the cluster is still starting");
      case FAILED -> throw new BerthException(BerthException.Kind.UNAVAILABLE, "the cluster failed to start: " + failure);
      case STOPPED -> throw new BerthException(BerthException.Kind.UNAVAILABLE, "the cluster layer is stopped");
    };
  }

  /** This agent's view of the cluster; never blocks on the network. */
  public ClusterStatus status() {
    Atomix a = phase == ClusterStatus.Phase.READY ? atomix : null;
    Set<String> serverNames = new LinkedHashSet<>(config.servers());
    Optional<String> leader = Optional.empty();
    long term = 0;
    if (a != null) {
      PartitionGroup group = a.getPartitionService().getPartitionGroup(AtomixNode.DATA_GROUP);
      if (group != null) {
        for (Partition p : group.getPartitions()) {
          p.members().forEach(m -> serverNames.add(m.id()));
          if (p.primary() != null) {
            leader = Optional.of(p.primary().id());
            term = p.term();
          }
        }
      }
    }
    // The servers come from the configuration and the Raft group only, never from gossip: SWIM
    // travels unauthenticated over UDP, and a forged member claiming to be a server must not
    // show up here or sway the quorum shown.
    List<Member> servers = new ArrayList<>();
    int alive = 0;
    for (String name : serverNames) {
      Member m = membership.member(name)
          .orElse(new Member(name, "", Role.SERVER, MemberState.DOWN, 0));
      servers.add(m);
      alive += m.state() == MemberState.ALIVE ? 1 : 0;
    }
    servers.sort(java.util.Comparator.comparing(Member::name));
    if (leader.isPresent() && liveLeader(leader, servers).isEmpty()) {
      leader = Optional.empty();
      term = 0;
    }
    boolean quorum = !servers.isEmpty() && alive * 2 > servers.size() && a != null;
    return new ClusterStatus(config.cluster(), config.node(), config.role(), phase, failure, servers, leader, term,
        quorum, startupMillis);
  }

  /**
   * The leader as shown: Atomix keeps naming a dead leader until this node learns the next term's
   * (about 14 s after a kill -9, seen on a member), so a server the liveness judges down is not
   * shown as leading anything.
   */
  static Optional<String> liveLeader(Optional<String> leader, List<Member> servers) {
    return leader.filter(l -> servers.stream().noneMatch(m -> m.name().equals(l) && m.state() == MemberState.DOWN));
  }

  /** Leaves the cluster and stops Atomix (bounded: 10 s). Containers are not this layer's concern. */
  @Override
  public void close() {
    Atomix a;
    synchronized (this) {
      phase = ClusterStatus.Phase.STOPPED;
      a = atomix;
    }
    ready.countDown();
    timer.shutdownNow();
    heartbeats.close();
    membership.detach();
    if (a != null) {
      stopQuietly(a);
    }
  }
}
