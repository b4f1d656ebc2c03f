package dev.berth.bench;

import dev.berth.proto.v1.AllocationInfo;
import dev.berth.proto.v1.AllocationState;
import dev.berth.proto.v1.ClusterServiceGrpc;
import dev.berth.proto.v1.ClusterStatusRequest;
import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerStatus;
import dev.berth.proto.v1.JobStatus;
import dev.berth.proto.v1.ListContainersRequest;
import dev.berth.proto.v1.Node;
import dev.berth.proto.v1.NodeStatus;
import dev.berth.proto.v1.StopJobRequest;
import dev.berth.proto.v1.SubmitJobRequest;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * The failover benchmark's harness, run by bench/failover.sh on a cluster deploy/cluster.sh
 * brought up: a service of REPLICAS busybox {@code sleep 3600} replicas, spread; each trial kills
 * one agent with kill -9 (its containers keep running) and times, from the kill, until the
 * servers report it down, until every replica has an allocation on another node, and until every
 * replica runs on a live node as JobService.Status reports it. The victim is the plain member
 * that holds the most replicas ({@code --victim member}), the same member's whole host ({@code
 * --victim host}: {@code cluster.sh crash}, its agent and every process of its containers and
 * launchers at once, as a power loss), or the Raft leader ({@code --victim leader}). A member
 * victim always holds replicas: replicas that moved to the servers stay there (spread does not
 * move running replicas back), so when no member holds one any more the job is stopped, purged
 * and submitted again before the trial, which spreads it over every node (untimed; counted in
 * the results). Where the agents log to the millisecond (failover.sh has them do so), each trial
 * also reads from the servers' logs when the steps of the way happened: the scheduler's dead
 * leader evicted from its election, a new one taking over, its first round done, the victim's
 * allocations marked lost. Between
 * trials the victim's agent is started again and the harness waits until it is ready, every node
 * is ready on every server, and the job is back to steady state: each replica running exactly
 * once on a live node, no other container of the job anywhere (the copies the victim kept running
 * are stopped once it is back). Writes markdown.
 *
 * <p>{@code --victim container} kills no agent: each trial kills -9 the main process of one
 * replica's container on a healthy host and times until that host's agent lists the container
 * running again, restarted in place by its restart policy. Each trial takes another replica (a
 * node gives a service up after more than two restarts in 30 min, and a container restarted
 * within 10 s of its last restart waits a doubled backoff), so trials should not outnumber
 * replicas.
 *
 * <p>Options: root, id, script, servers (n1), members (n2,n3,n4), victim (member | host | leader |
 * container), trials (20), replicas (12), poll-ms (50), title, out.
 */
public final class FailoverBench {
  private static final String JOB = """
      name: failover
      type: service
      strategy: spread
      groups:
        - name: sleep
          count: %d
          image: busybox
          command: [sleep, "3600"]
          resources: {cpu: 10m, memory: 8m}
      """;
  private static final String NAME = "failover";

  private final Map<String, String> args;
  private final LocalCluster cluster;
  private final List<String> servers;
  private final List<String> members;
  private final List<String> hosts = new ArrayList<>();
  private final int replicas;
  private final long pollMillis;

  private FailoverBench(Map<String, String> args) {
    this.args = args;
    this.cluster = new LocalCluster(Path.of(args.get("root")), args.get("id"), Path.of(args.get("script")));
    this.servers = List.of(args.get("servers").split(","));
    this.members = List.of(args.get("members").split(","));
    hosts.addAll(servers);
    hosts.addAll(members);
    this.replicas = Integer.parseInt(args.getOrDefault("replicas", "12"));
    this.pollMillis = Long.parseLong(args.getOrDefault("poll-ms", "50"));
  }

  public static void main(String[] argv) throws Exception {
    Map<String, String> a = new HashMap<>();
    for (int i = 0; i + 1 < argv.length; i += 2) {
      a.put(argv[i].replaceFirst("^--", ""), argv[i + 1]);
    }
    for (String required : List.of("root", "id", "script", "servers", "members", "import", "out")) {
      if (!a.containsKey(required)) {
        System.err.println("FailoverBench: --" + required + " is required");
        System.exit(2);
      }
    }
    FailoverBench b = new FailoverBench(a);
    int rc = 0;
    try {
      b.run();
    } catch (Exception e) {
      e.printStackTrace();
      rc = 1;
    } finally {
      b.cluster.close();
    }
    System.exit(rc);
  }

  /**
   * One kill: the victim, how many replicas it held, the leader before the kill, and the ms from
   * the kill until the observer reported it down, until every replica had an allocation off it,
   * and until every replica ran on a live node; then how long the way back to steady state took.
   */
  record Trial(String victim, int held, String raftLeader, String schedulerBefore, String schedulerAfter, long downMillis,
      long placedMillis, long runningMillis, long recoverMillis, String load, Steps steps) {}

  /**
   * When the steps between the kill and the replicas running happened, in ms from the kill; -1
   * where the step did not happen or was not seen. {@code raft}: a surviving server names a new
   * Raft leader (polled every 20 ms on a thread of its own); the rest from the agents' logs:
   * {@code storeBack}, a surviving agent reads its allocations again after failing to while Raft
   * had no leader (the store answers again); {@code judged}, a candidate of the
   * scheduler's election finds its leader judged down and evicts it; {@code evicted}, the
   * eviction committed; {@code tookOver}, the new scheduler leader logs it leads; {@code lost}, the
   * victim's allocations marked lost; {@code firstRound}, the new leader's first round done.
   */
  record Steps(long raft, long storeBack, long judged, long evicted, long tookOver, long lost, long firstRound) {}

  /** One container kill: which replica, on which node, and the ms until its node listed it running again. */
  record ContainerTrial(int index, String node, int restartsBefore, long runningMillis, String load) {}

  private void run() throws Exception {
    int trials = Integer.parseInt(args.getOrDefault("trials", "20"));
    String kind = args.getOrDefault("victim", "member");
    if (!List.of("member", "host", "leader", "container").contains(kind)) {
      throw new IllegalArgumentException("--victim: member, host, leader or container, not \"" + kind + "\"");
    }
    boolean leaderVictim = kind.equals("leader");
    for (String h : hosts) {
      cluster.agent(h).importImage(Path.of(args.get("import")), "busybox");
    }
    LocalCluster.await(180, () -> allReady(servers, hosts) && busyboxEverywhere(), "every node ready with busybox on every server");
    submit();
    awaitSteady(null);
    if (kind.equals("container")) {
      containerTrials(trials);
      return;
    }
    List<Trial> done = new ArrayList<>();
    String failure = null;
    for (int t = 0; t < trials; t++) {
      try {
        done.add(trial(t, leaderVictim, kind.equals("host")));
        System.err.println("trial " + (t + 1) + ": " + done.get(done.size() - 1));
      } catch (IllegalStateException e) {
        failure = "trial " + (t + 1) + ": " + e.getMessage();
        System.err.println(failure);
        break;
      }
    }
    write(done, failure, leaderVictim, kind.equals("host"));
    try {
      cluster.jobs(members.get(0)).stop(StopJobRequest.newBuilder().setName(NAME).setPurge(true).build());
    } catch (StatusRuntimeException e) {
      // the cluster goes down next anyway
    }
  }

  private void submit() {
    cluster.jobs(members.get(0)).submit(SubmitJobRequest.newBuilder().setSource(NAME + ".yaml")
        .setText(String.format(Locale.ROOT, JOB, replicas)).build());
  }

  /** Times the job was stopped and submitted again because no member held a replica. */
  private int rebalances;

  /** Stops and purges the job, then submits it again: spread places it over every node. */
  private void rebalance() throws Exception {
    rebalances++;
    cluster.jobs(members.get(0)).stop(StopJobRequest.newBuilder().setName(NAME).setPurge(true).build());
    LocalCluster.await(120, () -> cluster.jobGone(members.get(0), NAME) && cluster.jobContainers(hosts, NAME).isEmpty(),
        "the job stopped and purged, to spread it again");
    submit();
    awaitSteady(null);
  }

  private Map<String, Long> held() {
    JobStatus before = cluster.job(members.get(0), NAME).orElseThrow();
    return before.getAllocationsList().stream().filter(FailoverBench::live)
        .collect(Collectors.groupingBy(AllocationInfo::getNode, Collectors.counting()));
  }

  private Trial trial(int t, boolean leaderVictim, boolean wholeHost) throws Exception {
    Map<String, Long> held = held();
    if (!leaderVictim && members.stream().allMatch(m -> held.getOrDefault(m, 0L) == 0)) {
      rebalance();
      held.clear();
      held.putAll(held());
    }
    String leader = raftLeader();
    String scheduler = schedulerLeader();
    String victim;
    if (leaderVictim) {
      victim = leader;
    } else {
      // The member with the most replicas (never none: see rebalance); among equals, a different one each trial.
      long most = members.stream().mapToLong(m -> held.getOrDefault(m, 0L)).max().orElse(0);
      List<String> top = members.stream().filter(m -> held.getOrDefault(m, 0L) == most).toList();
      victim = top.get(t % top.size());
    }
    int count = (int) (long) held.getOrDefault(victim, 0L);
    // Someone other than the victim answers: a member that is not the victim.
    String observer = members.stream().filter(m -> !m.equals(victim)).findFirst().orElseThrow();
    List<String> judges = servers.stream().filter(s -> !s.equals(victim)).toList();
    // Every judge must see the victim ready right before the kill, or "down" would be stale.
    LocalCluster.await(60, () -> judges.stream().allMatch(j -> cluster.status(j, victim) == NodeStatus.NODE_STATUS_READY),
        victim + " ready on " + judges);
    String load = LocalCluster.load1();

    ProcessHandle p = ProcessHandle.of(cluster.pid(victim)).orElseThrow(() -> new IllegalStateException(victim + " is not running"));
    long wall0 = System.currentTimeMillis();
    long t0 = System.nanoTime();
    if (wholeHost) {
      // From before the script starts: its own start-up (tens of ms) counts against Berth.
      cluster.sh("crash", cluster.id(), victim);
    } else {
      p.destroyForcibly();
    }
    long down = -1;
    long placed = -1;
    long running;
    // A new Raft leader, as a surviving server names it: polled apart from the calls below, which
    // wait while Raft has no leader.
    long[] raft = {-1};
    Thread raftPoll = new Thread(() -> {
      while (leaderVictim && raft[0] < 0 && !Thread.currentThread().isInterrupted()) {
        for (String j : judges) {
          String named = cluster.raftLeader(j);
          if (!named.isEmpty() && !named.equals(victim)) {
            raft[0] = millisSince(t0);
            return;
          }
        }
        try {
          Thread.sleep(20);
        } catch (InterruptedException e) {
          return;
        }
      }
    }, "raft-poll");
    raftPoll.start();
    JobStatus last = null;
    while (true) {
      long now = millisSince(t0);
      // Each time is taken when its answer came: a call may wait seconds while Raft elects a leader.
      if (down < 0) {
        for (String j : judges) {
          if (cluster.status(j, victim) == NodeStatus.NODE_STATUS_DOWN) {
            down = millisSince(t0);
            break;
          }
        }
      }
      Optional<JobStatus> s = cluster.job(observer, NAME);
      if (s.isPresent()) {
        last = s.get();
        Set<Integer> off = indices(last, a -> !a.getNode().equals(victim));
        if (placed < 0 && off.size() == replicas) {
          placed = millisSince(t0);
        }
        if (indices(last, a -> !a.getNode().equals(victim) && a.getState() == AllocationState.ALLOCATION_RUNNING).size()
            == replicas) {
          running = millisSince(t0);
          break;
        }
      }
      if (now > 120_000) {
        throw new IllegalStateException("kill -9 of " + victim + ": the replicas did not all run elsewhere within 120 s"
            + " (down " + down + " ms, placed " + placed + " ms); last status from " + observer + ": " + describe(last));
      }
      Thread.sleep(pollMillis);
    }
    if (down < 0) {
      // Not seen between polls (every judge busy or electing): no later than the replicas ran.
      down = running;
    }
    raftPoll.interrupt();
    raftPoll.join();
    String schedulerAfter = schedulerLeader();
    Steps steps = steps(wall0, victim, judges, schedulerAfter.equals(scheduler) ? null : schedulerAfter, raft[0]);

    // Back to steady state: the victim started again, ready, and the job as before.
    long r0 = System.nanoTime();
    cluster.sh("start", cluster.id(), victim);
    cluster.sh("wait", cluster.id(), "180");
    awaitSteady(victim);
    return new Trial(victim, count, leader, scheduler, schedulerAfter, down, placed, running, millisSince(r0), load, steps);
  }

  /** The steps of one trial from the servers' logs (see {@link Steps}); {@code newLeader} null if the scheduler stayed. */
  private Steps steps(long wall0, String victim, List<String> judges, String newLeader, long raft) {
    List<String> survivors = hosts.stream().filter(h -> !h.equals(victim)).toList();
    long storeBack = first(survivors, wall0, m -> m.startsWith("the servers answer again"));
    long judged = first(judges, wall0, m -> m.equals("election scheduler: the servers judge its leader " + victim
        + " down; evicting it"));
    long evicted = first(judges, wall0, m -> m.startsWith("election scheduler: evicted " + victim + " in "));
    long tookOver = newLeader == null ? -1 : first(List.of(newLeader), wall0, m -> m.equals("leading the scheduler"));
    long lost = first(judges, wall0, m -> m.startsWith("node " + victim + " is down: "));
    long firstRound = newLeader == null ? -1
        : first(List.of(newLeader), wall0, m -> m.startsWith("first round as the scheduler's leader done"));
    return new Steps(raft, storeBack, judged, evicted, tookOver, lost, firstRound);
  }

  /** The earliest line of any of {@code hosts}' logs since {@code wall0} that passes {@code match}, in ms from then; -1 if none. */
  private long first(List<String> hosts, long wall0, java.util.function.Predicate<String> match) {
    long best = -1;
    for (String h : hosts) {
      long at = cluster.logged(h, wall0, match);
      if (at >= 0 && (best < 0 || at < best)) {
        best = at;
      }
    }
    return best < 0 ? -1 : best - wall0;
  }

  private void containerTrials(int trials) throws Exception {
    List<ContainerTrial> done = new ArrayList<>();
    String failure = null;
    for (int t = 0; t < trials; t++) {
      try {
        done.add(containerTrial(t % replicas));
        System.err.println("trial " + (t + 1) + ": " + done.get(done.size() - 1));
      } catch (IllegalStateException e) {
        failure = "trial " + (t + 1) + ": " + e.getMessage();
        System.err.println(failure);
        break;
      }
    }
    // A kill its node reported as a failure of the allocation (not as a restart): placed again elsewhere.
    List<String> failed = cluster.job(members.get(0), NAME).map(s -> s.getAllocationsList().stream()
        .filter(a -> a.getState() == AllocationState.ALLOCATION_FAILED)
        .map(a -> a.getIndex() + "@" + a.getNode() + " (" + a.getMessage() + ")").toList()).orElse(List.of());
    writeContainers(done, failure, failed);
  }

  /**
   * Kills -9 the main process of replica {@code index}'s container and times until its node lists
   * the same container running again (a later start, one restart more). Fails if the replica was
   * given up on or placed elsewhere instead: that is not a restart in place.
   */
  private ContainerTrial containerTrial(int index) throws Exception {
    awaitSteady(null);
    Container target = cluster.jobContainers(hosts, NAME).stream()
        .filter(x -> String.valueOf(index).equals(x.getLabelsMap().get("berth.index")) && x.getStatus() == ContainerStatus.RUNNING)
        .findFirst().orElseThrow(() -> new IllegalStateException("replica " + index + " runs nowhere"));
    String node = target.getNode();
    ProcessHandle init = ProcessHandle.of(target.getPid())
        .orElseThrow(() -> new IllegalStateException("replica " + index + "'s pid " + target.getPid() + " is gone"));
    String load = LocalCluster.load1();
    long t0 = System.nanoTime();
    init.destroyForcibly();
    while (true) {
      Optional<Container> now = cluster.agent(node).containers().list(ListContainersRequest.newBuilder().setAll(true).build())
          .getContainersList().stream().filter(x -> x.getId().equals(target.getId())).findFirst();
      if (now.isEmpty()) {
        throw new IllegalStateException("replica " + index + "'s container " + target.getName() + " is gone from " + node);
      }
      Container x = now.get();
      if (x.getStatus() == ContainerStatus.RUNNING && x.getStartedAtUnixNanos() > target.getStartedAtUnixNanos()
          && x.getPid() != target.getPid()) {
        long running = millisSince(t0);
        return new ContainerTrial(index, node, target.getRestartCount(), running, load);
      }
      if (millisSince(t0) > 60_000) {
        throw new IllegalStateException("replica " + index + "'s container on " + node + " not running again within 60 s: "
            + x.getStatus() + " restarts " + x.getRestartCount() + " " + x.getError());
      }
      Thread.sleep(Math.min(pollMillis, 10));
    }
  }

  private void writeContainers(List<ContainerTrial> ts, String failure, List<String> failed) throws Exception {
    StringBuilder o = new StringBuilder();
    o.append("## ").append(args.getOrDefault("title", "Crash of a container on a healthy host")).append("\n\n");
    if (!ts.isEmpty()) {
      o.append("| from kill -9 of a replica's main process until | trials | p50 | p99 (nearest rank) | max | min |\n"
          + "|---|---:|---:|---:|---:|---:|\n");
      o.append(row("**its node lists it running again** (restarted in place, `ContainerService.List` of that node)",
          ts.stream().map(ContainerTrial::runningMillis).toList()));
      o.append("\nAllocations their node reported failed after a kill, instead of restarting (each placed again elsewhere): ")
          .append(failed.size()).append(" of ").append(ts.size()).append(failed.isEmpty() ? "" : ": " + String.join(", ", failed))
          .append(".\n");
      o.append("\nTrials (replica, node, its restarts before, 1-minute load at the kill; **running** ms):\n\n");
      for (ContainerTrial t : ts) {
        o.append(String.format(Locale.ROOT, "- %d, %s, %d, load %s; **%d**%n", t.index(), t.node(), t.restartsBefore(),
            t.load(), t.runningMillis()));
      }
    }
    if (failure != null) {
      o.append("\n**The run stopped early.** ").append(failure).append('\n');
    }
    Files.writeString(Path.of(args.get("out")), o.toString());
    System.err.println(o);
  }

  /** The replica indices with a live allocation (desired running) that also passes {@code test}. */
  private static Set<Integer> indices(JobStatus s, java.util.function.Predicate<AllocationInfo> test) {
    Set<Integer> out = new HashSet<>();
    for (AllocationInfo a : s.getAllocationsList()) {
      if (live(a) && test.test(a)) {
        out.add(a.getIndex());
      }
    }
    return out;
  }

  /** An allocation that stands for its replica: one to run, not lost with its node nor failed (replaced). */
  private static boolean live(AllocationInfo a) {
    return a.getDesiredRunning() && a.getState() != AllocationState.ALLOCATION_LOST
        && a.getState() != AllocationState.ALLOCATION_FAILED;
  }

  /**
   * Every node ready on every server, and the job steady: each replica running exactly once on a
   * ready node, nothing pending, and exactly {@code replicas} containers of the job on all hosts.
   */
  private void awaitSteady(String restarted) throws Exception {
    LocalCluster.await(300, () -> allReady(servers, hosts), "every node ready on every server after "
        + (restarted == null ? "the start" : "restarting " + restarted));
    String[] why = {""};
    LocalCluster.await(300, () -> {
      Optional<JobStatus> s = cluster.job(members.get(0), NAME);
      if (s.isEmpty()) {
        why[0] = "no status";
        return false;
      }
      List<AllocationInfo> live = s.get().getAllocationsList().stream().filter(FailoverBench::live).toList();
      boolean allRunning = live.size() == replicas && live.stream().allMatch(a -> a.getState() == AllocationState.ALLOCATION_RUNNING)
          && live.stream().map(AllocationInfo::getIndex).distinct().count() == replicas;
      if (!allRunning) {
        why[0] = describe(s.get());
        return false;
      }
      int containers = cluster.jobContainers(hosts, NAME).size();
      why[0] = containers + " containers of the job on the hosts";
      return containers == replicas;
    }, () -> "the job steady again: " + why[0]);
  }

  private boolean allReady(List<String> observers, List<String> nodes) {
    for (String o : observers) {
      List<Node> seen = cluster.nodes(o);
      for (String n : nodes) {
        if (seen.stream().noneMatch(x -> x.getName().equals(n) && x.getStatus() == NodeStatus.NODE_STATUS_READY)) {
          return false;
        }
      }
    }
    return true;
  }

  private boolean busyboxEverywhere() {
    List<Node> seen = cluster.nodes(members.get(0));
    return seen.size() >= hosts.size() && seen.stream().allMatch(n -> n.getImageDigestsList().contains("busybox:latest"));
  }

  /**
   * The Raft leader (of the data partition) that every agent names; waits up to 60 s for them to
   * agree. An agent learns of a new leader lazily, so this is only sound in a steady cluster.
   */
  private String raftLeader() throws InterruptedException {
    String[] agreed = {""};
    LocalCluster.await(60, () -> {
      Set<String> named = new HashSet<>();
      for (String h : hosts) {
        try {
          named.add(ClusterServiceGrpc.newBlockingStub(cluster.agent(h).channel()).withDeadlineAfter(5, TimeUnit.SECONDS)
              .status(ClusterStatusRequest.getDefaultInstance()).getLeader());
        } catch (StatusRuntimeException e) {
          return false;
        }
      }
      agreed[0] = named.size() == 1 ? named.iterator().next() : "";
      return !agreed[0].isEmpty();
    }, "every agent naming the same Raft leader");
    return agreed[0];
  }

  /** The server leading the scheduler, as the servers' logs say; "?" if none says so yet. */
  private String schedulerLeader() {
    return servers.stream().filter(cluster::leadsScheduler).findFirst().orElse("?");
  }

  private static String describe(JobStatus s) {
    if (s == null) {
      return "none";
    }
    return s.getAllocationsList().stream().sorted(Comparator.comparingInt(AllocationInfo::getIndex))
        .map(a -> a.getIndex() + "@" + a.getNode() + ":" + a.getState().name().replace("ALLOCATION_", "").toLowerCase(Locale.ROOT)
            + (a.getDesiredRunning() ? "" : "(stop)") + (a.getMessage().isEmpty() ? "" : "[" + a.getMessage() + "]"))
        .collect(Collectors.joining(" "));
  }

  // --- output

  private void write(List<Trial> ts, String failure, boolean leaderVictim, boolean wholeHost) throws Exception {
    StringBuilder o = new StringBuilder();
    o.append("## ").append(args.getOrDefault("title", leaderVictim ? "Death of the Raft leader" : "Death of a plain member"))
        .append("\n\n");
    if (!ts.isEmpty()) {
      o.append(wholeHost ? "| from `cluster.sh crash` (host power loss) until" : "| from kill -9 until")
          .append(" | trials | p50 | p99 (nearest rank) | max | min |\n|---|---:|---:|---:|---:|---:|\n");
      o.append(row("a server (other than the victim) reports the victim down", ts.stream().map(Trial::downMillis).toList()));
      o.append(row("every replica has an allocation on another node", ts.stream().map(Trial::placedMillis).toList()));
      o.append(row("**every replica runs on a live node** (`JobService.Status`)", ts.stream().map(Trial::runningMillis).toList()));
      o.append('\n');
      o.append("Back to steady state after each trial (start the victim again until it is ready and the job is as before) took ")
          .append(Percentiles.median(ts.stream().map(Trial::recoverMillis).toList())).append(" ms at the median.\n\n");
      if (!leaderVictim) {
        o.append("Victims: the member holding the most replicas, which held one at least in every trial: ")
            .append(rebalances == 0 ? "no member was ever left without, so the job was never spread again."
                : "before " + rebalances + " of them no member held one, and the job was stopped, purged and submitted"
                + " again (spread over every node) before the kill, untimed.").append("\n\n");
      }
      steps(o, ts);
      if (leaderVictim) {
        // The scheduler leads by an election of its own: the Raft leader may or may not hold it too.
        List<Trial> both = ts.stream().filter(t -> t.victim().equals(t.schedulerBefore())).toList();
        List<Trial> raftOnly = ts.stream().filter(t -> !t.victim().equals(t.schedulerBefore())).toList();
        o.append("Split by whether the killed Raft leader also led the scheduler (its own Atomix election):\n\n");
        o.append("| victim | trials | running p50 | running max |\n|---|---:|---:|---:|\n");
        for (var e : List.of(Map.entry("Raft leader and scheduler leader", both), Map.entry("Raft leader only", raftOnly))) {
          List<Long> v = e.getValue().stream().map(Trial::runningMillis).toList();
          if (!v.isEmpty()) {
            o.append(String.format(Locale.ROOT, "| %s | %d | %d ms | %d ms |%n", e.getKey(), v.size(), Percentiles.median(v),
                Percentiles.pct(v, 1.0)));
          }
        }
        o.append('\n');
      }
      o.append("Trials (victim, replicas it held, Raft leader, scheduler leader before → after, 1-minute load at the kill;"
          + " down, placed, **running** ms; then the steps seen, in ms from the kill):\n\n");
      for (Trial t : ts) {
        o.append(String.format(Locale.ROOT, "- %s, %d, %s, %s → %s, load %s; %d, %d, **%d**%s%n", t.victim(), t.held(),
            t.raftLeader(), t.schedulerBefore(), t.schedulerAfter(), t.load(), t.downMillis(), t.placedMillis(),
            t.runningMillis(), describe(t.steps())));
      }
    }
    if (failure != null) {
      o.append("\n**The run stopped early.** ").append(failure).append('\n');
    }
    Files.writeString(Path.of(args.get("out")), o.toString());
    System.err.println(o);
  }

  /** The steps' table: for each step seen in any trial, its p50 and max over the trials that saw it. */
  private static void steps(StringBuilder o, List<Trial> ts) {
    List<Map.Entry<String, java.util.function.ToLongFunction<Steps>>> all = List.of(
        Map.entry("a surviving server names a new Raft leader (polled)", Steps::raft),
        Map.entry("the store answers a surviving agent again (log)", Steps::storeBack),
        Map.entry("a candidate finds the scheduler's leader judged down and evicts it (log)", Steps::judged),
        Map.entry("the eviction is committed (log)", Steps::evicted),
        Map.entry("the new scheduler leader takes over (log)", Steps::tookOver),
        Map.entry("the victim's allocations are marked lost (log)", Steps::lost),
        Map.entry("the new scheduler leader's first round is done (log)", Steps::firstRound));
    StringBuilder rows = new StringBuilder();
    for (var e : all) {
      List<Long> v = ts.stream().map(t -> e.getValue().applyAsLong(t.steps())).filter(x -> x >= 0).toList();
      if (!v.isEmpty()) {
        rows.append(String.format(Locale.ROOT, "| %s | %d | %d ms | %d ms | %d ms |%n", e.getKey(), v.size(), Percentiles.median(v),
            Percentiles.pct(v, 1.0), Percentiles.pct(v, 0.0)));
      }
    }
    if (rows.length() > 0) {
      o.append("Where the time goes (ms from the kill, over the trials in which the step happened):\n\n")
          .append("| step | trials | p50 | max | min |\n|---|---:|---:|---:|---:|\n").append(rows).append('\n');
    }
  }

  private static String describe(Steps s) {
    StringBuilder b = new StringBuilder();
    String[] names = {"raft", "store", "judged", "evicted", "took over", "lost", "first round"};
    long[] v = {s.raft(), s.storeBack(), s.judged(), s.evicted(), s.tookOver(), s.lost(), s.firstRound()};
    for (int i = 0; i < v.length; i++) {
      if (v[i] >= 0) {
        b.append(b.length() == 0 ? "; " : ", ").append(names[i]).append(' ').append(v[i]);
      }
    }
    return b.toString();
  }

  private static String row(String what, List<Long> v) {
    return String.format(Locale.ROOT, "| %s | %d | %d ms | %d ms | %d ms | %d ms |%n", what, v.size(), Percentiles.median(v),
        Percentiles.pct(v, 0.99), Percentiles.pct(v, 1.0), Percentiles.pct(v, 0.0));
  }

  private static long millisSince(long t0) {
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
  }
}
