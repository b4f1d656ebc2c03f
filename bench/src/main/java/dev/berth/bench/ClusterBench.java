package dev.berth.bench;

import dev.berth.agent.cluster.Cluster;
import dev.berth.agent.cluster.ClusterConfig;
import dev.berth.agent.cluster.ClusterStore;
import dev.berth.agent.cluster.Endpoint;
import dev.berth.agent.cluster.NodeFacts;
import dev.berth.proto.v1.ClusterServiceGrpc;
import dev.berth.proto.v1.ClusterStatusRequest;
import dev.berth.proto.v1.NodeStatus;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The cluster benchmark's harness, run by bench/cluster.sh inside a client host of a cluster that
 * deploy/cluster.sh brought up (3 servers, plain members): failure detection of a killed plain
 * member as the servers report it, replicated write latency and throughput (this process joins
 * as a plain member and writes through {@link ClusterStore}), and the agents' idle RSS. Writes
 * the results, with the start-up times cluster.sh measured, as markdown.
 */
public final class ClusterBench {
  private final Map<String, String> args;
  private final Path root;
  private final String id;
  private final List<String> servers;
  private final List<String> members;
  private final LocalCluster cluster;

  private ClusterBench(Map<String, String> args) {
    this.args = args;
    this.root = Path.of(args.get("root")).resolve(args.get("id"));
    this.id = args.get("id");
    this.servers = List.of(args.get("servers").split(","));
    this.members = List.of(args.get("members").split(","));
    this.cluster = new LocalCluster(Path.of(args.get("root")), id, Path.of(args.get("script")));
  }

  public static void main(String[] argv) throws Exception {
    Map<String, String> a = new HashMap<>();
    for (int i = 0; i + 1 < argv.length; i += 2) {
      a.put(argv[i].replaceFirst("^--", ""), argv[i + 1]);
    }
    for (String required : List.of("root", "id", "script", "servers", "members", "client", "out")) {
      if (!a.containsKey(required)) {
        System.err.println("ClusterBench: --" + required + " is required");
        System.exit(2);
      }
    }
    ClusterBench b = new ClusterBench(a);
    try {
      b.run();
    } finally {
      b.cluster.close();
    }
    System.exit(0);
  }

  private void run() throws Exception {
    int trials = Integer.parseInt(args.getOrDefault("trials", "20"));
    // Idle first: the agents have run a few seconds with nothing to do.
    Thread.sleep(5000);
    Map<String, Long> rss = new LinkedHashMap<>();
    for (String h : concat(servers, members)) {
      rss.put(h, rssKib(cluster.pid(h)));
    }
    System.err.println("idle RSS (KiB): " + rss);

    Writes writes = writes(Integer.parseInt(args.getOrDefault("writes", "1000")),
        Integer.parseInt(args.getOrDefault("in-flight", "16")));

    List<Detection> detections = new ArrayList<>();
    for (int t = 0; t < trials; t++) {
      String victim = members.get(t % members.size());
      detections.add(detect(victim));
      System.err.println("trial " + (t + 1) + ": " + detections.get(t));
    }
    write(rss, writes, detections);
  }

  // --- failure detection

  /** Times from kill -9 to the first report of suspect and of down: by the leader, and by every server. */
  record Detection(String victim, String leader, long suspectMillis, long leaderDownMillis, long allServersDownMillis) {}

  private Detection detect(String victim) throws Exception {
    // The victim (restarted after an earlier trial) must be back and ready on every server first.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
    while (!servers.stream().allMatch(s -> cluster.status(s, victim) == NodeStatus.NODE_STATUS_READY)) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(victim + " not ready on every server within 180 s");
      }
      Thread.sleep(100);
    }
    Thread.sleep(1000);  // settled: a few heartbeats since it was first ready
    String leader = ClusterServiceGrpc.newBlockingStub(cluster.agent(servers.get(0)).channel())
        .withDeadlineAfter(10, TimeUnit.SECONDS).status(ClusterStatusRequest.getDefaultInstance()).getLeader();
    long pid = cluster.pid(victim);
    ProcessHandle p = ProcessHandle.of(pid).orElseThrow(() -> new IllegalStateException(victim + " is not running"));
    long t0 = System.nanoTime();
    p.destroyForcibly();
    long suspect = -1;
    long leaderDown = -1;
    Map<String, Long> down = new HashMap<>();
    while (down.size() < servers.size()) {
      long now = System.nanoTime();
      if (now - t0 > TimeUnit.SECONDS.toNanos(60)) {
        throw new IllegalStateException(victim + " not down on every server within 60 s: " + down);
      }
      for (String s : servers) {
        if (down.containsKey(s)) {
          continue;
        }
        NodeStatus st = cluster.status(s, victim);
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        if (st == NodeStatus.NODE_STATUS_SUSPECT && suspect < 0) {
          suspect = ms;
        }
        if (st == NodeStatus.NODE_STATUS_DOWN) {
          down.put(s, ms);
          if (s.equals(leader)) {
            leaderDown = ms;
          }
        }
      }
      Thread.sleep(10);
    }
    long all = down.values().stream().mapToLong(Long::longValue).max().orElseThrow();
    if (leaderDown < 0) {
      leaderDown = all;  // leader unknown to n1 at that moment: count the last server
    }
    cluster.sh("start", id, victim);
    return new Detection(victim, leader, suspect, leaderDown, all);
  }

  // --- replicated writes

  record Writes(int sequential, double seqP50, double seqP99, double seqPerSecond, int inFlight, int pipelined,
      double pipeP50, double pipeP99, double pipePerSecond, long joinMillis) {}

  private Writes writes(int n, int inFlight) throws Exception {
    List<Endpoint> join = new ArrayList<>();
    for (String s : servers) {
      join.add(new Endpoint(Files.readString(root.resolve(s).resolve("addr")).trim(), ClusterConfig.DEFAULT_PORT));
    }
    Path tmp = Files.createTempDirectory("berth-bench-cluster");
    ClusterConfig config = new ClusterConfig("c" + id, "bench", new Endpoint(args.get("client"), ClusterConfig.DEFAULT_PORT),
        join, false, List.of(), tmp, ClusterConfig.DEFAULT_FAILURE_TIMEOUT, ClusterConfig.DEFAULT_GRACE_PERIOD);
    long t0 = System.nanoTime();
    try (Cluster c = new Cluster(config, () -> new NodeFacts("bench", 1, 0, 0, 0, List.of(), List.of(), System.currentTimeMillis()))) {
      c.start();
      if (!c.awaitReady(Duration.ofSeconds(120))) {
        throw new IllegalStateException("the benchmark's member did not join: " + c.status());
      }
      long joinMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
      ClusterStore store = c.store();
      byte[] value = "{\"bench\":true,\"pad\":\"0123456789012345678901234567890123456789\"}".getBytes(StandardCharsets.UTF_8);
      for (int i = 0; i < 200; i++) {
        store.put("bench", "warm-" + (i % 50), value);
      }
      long[] seq = new long[n];
      long s0 = System.nanoTime();
      for (int i = 0; i < n; i++) {
        long w0 = System.nanoTime();
        store.put("bench", "k-" + (i % 100), value);
        seq[i] = System.nanoTime() - w0;
      }
      double seqSeconds = (System.nanoTime() - s0) / 1e9;

      int total = n * 3;
      long[] pipe = new long[total];
      AtomicInteger next = new AtomicInteger();
      ExecutorService pool = Executors.newFixedThreadPool(inFlight);
      long p0 = System.nanoTime();
      List<Future<?>> fs = new ArrayList<>();
      for (int t = 0; t < inFlight; t++) {
        fs.add(pool.submit(() -> {
          for (int i = next.getAndIncrement(); i < total; i = next.getAndIncrement()) {
            long w0 = System.nanoTime();
            store.put("bench", "p-" + (i % 500), value);
            pipe[i] = System.nanoTime() - w0;
          }
          return null;
        }));
      }
      for (Future<?> f : fs) {
        f.get();
      }
      double pipeSeconds = (System.nanoTime() - p0) / 1e9;
      pool.shutdown();
      Writes w = new Writes(n, pct(seq, 50), pct(seq, 99), n / seqSeconds, inFlight, total, pct(pipe, 50), pct(pipe, 99),
          total / pipeSeconds, joinMillis);
      System.err.println("writes: " + w);
      return w;
    } finally {
      try (var walk = Files.walk(tmp)) {
        walk.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
      }
    }
  }

  /** Nearest-rank percentile, in milliseconds. */
  private static double pct(long[] nanos, int p) {
    long[] s = nanos.clone();
    Arrays.sort(s);
    int rank = (int) Math.ceil(p / 100.0 * s.length);
    return s[Math.max(0, rank - 1)] / 1e6;
  }

  private static long pctMillis(List<Long> values, int p) {
    List<Long> s = values.stream().sorted().toList();
    int rank = (int) Math.ceil(p / 100.0 * s.size());
    return s.get(Math.max(0, rank - 1));
  }

  // --- output

  private void write(Map<String, Long> rss, Writes w, List<Detection> ds) throws Exception {
    List<Long> leader = ds.stream().map(Detection::leaderDownMillis).toList();
    List<Long> all = ds.stream().map(Detection::allServersDownMillis).toList();
    List<Long> suspect = ds.stream().map(Detection::suspectMillis).filter(v -> v >= 0).toList();
    StringBuilder o = new StringBuilder();
    o.append("## Failure detection: kill -9 of a plain member until the servers report it down\n\n");
    o.append("| | p50 | p99 (nearest rank: the worst of ").append(ds.size()).append(") | min |\n|---|---|---|---|\n");
    o.append(row("Berth, down on the Raft leader (the authority for re-placement)", leader));
    o.append(row("Berth, down on all 3 servers", all));
    if (!suspect.isEmpty()) {
      o.append(row("Berth, first reported suspect (" + suspect.size() + " of " + ds.size() + " trials)", suspect));
    }
    o.append("| Docker Swarm, default (dispatcher heartbeat 5 s x 3) | ~15 s | | |\n");
    o.append("| Nomad, default (heartbeat_grace 10 s on a TTL of 10 s or more) | ~20 s | | |\n\n");
    o.append("Trials (victim, leader, suspect ms, leader down ms, all servers down ms):\n\n");
    for (Detection d : ds) {
      o.append("- ").append(d.victim()).append(", ").append(d.leader()).append(", ").append(d.suspectMillis()).append(", ")
          .append(d.leaderDownMillis()).append(", ").append(d.allServersDownMillis()).append('\n');
    }
    o.append("\n## Replicated writes (ClusterStore.put from a plain member on its own host, 3 servers)\n\n");
    o.append("| | writes | p50 | p99 | writes/s |\n|---|---|---|---|---|\n");
    o.append(String.format(Locale.ROOT, "| one at a time | %d | %.2f ms | %.2f ms | %.0f |%n", w.sequential(), w.seqP50(), w.seqP99(),
        w.seqPerSecond()));
    o.append(String.format(Locale.ROOT, "| %d in flight | %d | %.2f ms | %.2f ms | %.0f |%n", w.inFlight(), w.pipelined(),
        w.pipeP50(), w.pipeP99(), w.pipePerSecond()));
    o.append(String.format(Locale.ROOT, "%nThe benchmark's member joined the running cluster in %d ms (JVM already warm).%n",
        w.joinMillis()));
    o.append("\n## Idle RSS (VmRSS, after the cluster ran idle)\n\n| host | role | RSS |\n|---|---|---|\n");
    rss.forEach((h, kib) -> o.append("| ").append(h).append(" | ").append(servers.contains(h) ? "server" : "member").append(" | ")
        .append(kib / 1024).append(" MiB |\n"));
    Files.writeString(Path.of(args.get("out")), o.toString());
    System.err.println(o);
  }

  private static String row(String what, List<Long> v) {
    return "| " + what + " | " + pctMillis(v, 50) + " ms | " + pctMillis(v, 99) + " ms | " + pctMillis(v, 0) + " ms |\n";
  }

  // --- plumbing

  private static long rssKib(long pid) throws Exception {
    for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
      if (l.startsWith("VmRSS:")) {
        return Long.parseLong(l.replaceAll("[^0-9]", ""));
      }
    }
    return -1;
  }

  private static List<String> concat(List<String> a, List<String> b) {
    List<String> out = new ArrayList<>(a);
    out.addAll(b);
    return out;
  }
}
