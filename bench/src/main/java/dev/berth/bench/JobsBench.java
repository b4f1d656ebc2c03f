package dev.berth.bench;

import dev.berth.proto.v1.AllocationInfo;
import dev.berth.proto.v1.AllocationState;
import dev.berth.proto.v1.GroupStatus;
import dev.berth.proto.v1.JobStatus;
import dev.berth.proto.v1.Node;
import dev.berth.proto.v1.NodeStatus;
import dev.berth.proto.v1.StopJobRequest;
import dev.berth.proto.v1.SubmitJobRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;

/**
 * The jobs benchmark's harness, run by bench/jobs.sh: the end-to-end time from
 * JobService.Submit of a service of REPLICAS busybox {@code sleep 3600} replicas (cpu 10m, memory
 * 8m, strategy spread) on a cluster that deploy/cluster.sh brought up, until JobService.Status
 * reports every replica running; next to podman starting as many of the same containers on this
 * host, one at a time and PARALLEL at a time. Trials are interleaved round by round (Berth,
 * podman one at a time, podman in parallel), so the three meet the same machine load; between
 * trials everything is stopped and removed. Writes its part of the results as markdown.
 *
 * <p>Options: root, id, script (deploy/cluster.sh), hosts (n1,n2,n3), via (the agent the job is
 * submitted to and polled through), import (a rootfs tar, imported as busybox into every agent), trials (5), replicas
 * (100), poll-ms (50), podman, podman-conf, podman-storage-conf, podman-image, cgroup-parent,
 * parallel (4), out.
 */
public final class JobsBench {
  private static final String JOB = """
      name: %s
      type: service
      strategy: spread
      groups:
        - name: sleep
          count: %d
          image: busybox
          command: [sleep, "3600"]
          resources: {cpu: 10m, memory: 8m}
      """;

  private final Map<String, String> args;
  private final LocalCluster cluster;
  private final List<String> hosts;
  private final String via;
  private final int replicas;
  private final long pollMillis;

  private JobsBench(Map<String, String> args) {
    this.args = args;
    this.cluster = new LocalCluster(Path.of(args.get("root")), args.get("id"),
        Path.of(args.getOrDefault("script", "deploy/cluster.sh")));
    this.hosts = List.of(args.getOrDefault("hosts", "n1,n2,n3").split(","));
    this.via = args.getOrDefault("via", hosts.get(hosts.size() - 1));
    this.replicas = Integer.parseInt(args.getOrDefault("replicas", "100"));
    this.pollMillis = Long.parseLong(args.getOrDefault("poll-ms", "50"));
  }

  public static void main(String[] argv) throws Exception {
    Map<String, String> a = new HashMap<>();
    for (int i = 0; i + 1 < argv.length; i += 2) {
      a.put(argv[i].replaceFirst("^--", ""), argv[i + 1]);
    }
    for (String required : List.of("root", "id", "import", "out")) {
      if (!a.containsKey(required)) {
        System.err.println("JobsBench: --" + required + " is required");
        System.exit(2);
      }
    }
    JobsBench b = new JobsBench(a);
    try {
      b.run();
    } finally {
      b.cluster.close();
    }
    System.exit(0);
  }

  /** One Berth trial: milestones in ms from the submit call, the spread, and the clean-up's time. */
  record BerthTrial(long submitMillis, long placedMillis, long firstRunningMillis, long allRunningMillis,
      Map<String, Long> perNode, long stopMillis, String load) {}

  /** One podman trial: the wall time of all runs, the per-run times, and the clean-up's time. */
  record PodmanTrial(long allMillis, List<Long> runMillis, long removeMillis, String load) {}

  private void run() throws Exception {
    int trials = Integer.parseInt(args.getOrDefault("trials", "5"));
    Path tar = Path.of(args.get("import"));
    for (String h : hosts) {
      cluster.agent(h).importImage(tar, "busybox");
    }
    // Every node ready, its capacity and its images gossiped, as the submitting agent sees them.
    LocalCluster.await(120, () -> {
      List<Node> nodes = cluster.nodes(via);
      return nodes.size() == hosts.size() && nodes.stream().allMatch(n -> n.getStatus() == NodeStatus.NODE_STATUS_READY
          && n.getCpus() > 0 && n.getImageDigestsList().contains("busybox:latest"));
    }, "every node ready with busybox, as " + via + " sees them");

    boolean podman = args.containsKey("podman");
    int parallel = Integer.parseInt(args.getOrDefault("parallel", "4"));
    // A short warm-up of each path (JIT, page cache), not counted.
    berthTrial("jobs-warmup", Math.min(10, replicas));
    if (podman) {
      podmanTrial(Math.min(10, replicas), 1);
    }
    List<BerthTrial> berth = new ArrayList<>();
    List<PodmanTrial> seq = new ArrayList<>();
    List<PodmanTrial> par = new ArrayList<>();
    for (int t = 1; t <= trials; t++) {
      berth.add(berthTrial("jobs-" + t, replicas));
      System.err.println("round " + t + ": berth " + berth.get(berth.size() - 1));
      if (podman) {
        seq.add(podmanTrial(replicas, 1));
        System.err.println("round " + t + ": podman sequential " + seq.get(seq.size() - 1).allMillis() + " ms");
        par.add(podmanTrial(replicas, parallel));
        System.err.println("round " + t + ": podman " + parallel + " in parallel " + par.get(par.size() - 1).allMillis() + " ms");
      }
    }
    write(berth, seq, par, parallel);
  }

  // --- Berth

  private BerthTrial berthTrial(String name, int count) throws Exception {
    String load = LocalCluster.load1();
    SubmitJobRequest req = SubmitJobRequest.newBuilder().setSource(name + ".yaml")
        .setText(String.format(Locale.ROOT, JOB, name, count)).build();
    long t0 = System.nanoTime();
    cluster.jobs(via).submit(req);
    long submitted = millisSince(t0);
    long placed = -1;
    long first = -1;
    JobStatus last = null;
    while (true) {
      Optional<JobStatus> s = cluster.job(via, name);
      long now = millisSince(t0);
      if (s.isPresent()) {
        last = s.get();
        long live = last.getAllocationsList().stream().filter(AllocationInfo::getDesiredRunning).count();
        long running = last.getAllocationsList().stream()
            .filter(a -> a.getDesiredRunning() && a.getState() == AllocationState.ALLOCATION_RUNNING).count();
        int groupRunning = last.getGroupsList().stream().mapToInt(GroupStatus::getRunning).sum();
        if (placed < 0 && live >= count) {
          placed = now;
        }
        if (first < 0 && running > 0) {
          first = now;
        }
        if (running >= count && groupRunning >= count) {
          break;
        }
      }
      if (now > 300_000) {
        throw new IllegalStateException(name + ": not all " + count + " running within 300 s: " + last);
      }
      Thread.sleep(pollMillis);
    }
    long all = millisSince(t0);
    Map<String, Long> perNode = new TreeMap<>(last.getAllocationsList().stream()
        .collect(Collectors.groupingBy(AllocationInfo::getNode, Collectors.counting())));

    // Clean-up, timed too: stop and purge, until every container is gone and the job forgotten.
    long s0 = System.nanoTime();
    cluster.jobs(via).stop(StopJobRequest.newBuilder().setName(name).setPurge(true).build());
    LocalCluster.await(600, () -> cluster.jobContainers(hosts, name).isEmpty() && cluster.jobGone(via, name),
        name + "'s containers gone and the job purged");
    return new BerthTrial(submitted, placed, first, all, perNode, millisSince(s0), load);
  }

  // --- podman

  private PodmanTrial podmanTrial(int count, int parallel) throws Exception {
    String load = LocalCluster.load1();
    List<String> run = List.of(args.get("podman"), "run", "-d", "--network", "none", "--cgroup-parent",
        args.get("cgroup-parent"), "--memory", "8m", "--cpus", "0.01", args.get("podman-image"), "sleep", "3600");
    long[] each = new long[count];
    AtomicInteger next = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(parallel);
    long t0 = System.nanoTime();
    List<Future<?>> fs = new ArrayList<>();
    for (int w = 0; w < parallel; w++) {
      fs.add(pool.submit(() -> {
        for (int i = next.getAndIncrement(); i < count; i = next.getAndIncrement()) {
          long r0 = System.nanoTime();
          podman(run);
          each[i] = millisSince(r0);
        }
        return null;
      }));
    }
    try {
      for (Future<?> f : fs) {
        f.get();
      }
    } finally {
      pool.shutdown();
    }
    long all = millisSince(t0);
    String running = podman(List.of(args.get("podman"), "ps", "-q")).strip();
    int n = running.isEmpty() ? 0 : running.split("\n").length;
    if (n != count) {
      throw new IllegalStateException("podman ps lists " + n + " running containers, not " + count);
    }
    long r0 = System.nanoTime();
    podman(List.of(args.get("podman"), "rm", "-f", "-t", "0", "-a"));
    long removed = millisSince(r0);
    List<Long> runs = new ArrayList<>();
    for (long e : each) {
      runs.add(e);
    }
    return new PodmanTrial(all, runs, removed, load);
  }

  private String podman(List<String> cmd) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().put("CONTAINERS_CONF", args.get("podman-conf"));
    pb.environment().put("CONTAINERS_STORAGE_CONF", args.get("podman-storage-conf"));
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new IllegalStateException(String.join(" ", cmd) + " failed: " + out);
    }
    return out;
  }

  // --- output

  private void write(List<BerthTrial> berth, List<PodmanTrial> seq, List<PodmanTrial> par, int parallel) throws Exception {
    List<Long> all = berth.stream().map(BerthTrial::allRunningMillis).toList();
    StringBuilder o = new StringBuilder();
    o.append("## ").append(replicas).append(" containers running: Berth's job on ").append(hosts.size())
        .append(" agents against podman on one host\n\n");
    o.append("| | trials | median | p90 | max | min | containers/s (median) |\n|---|---:|---:|---:|---:|---:|---:|\n");
    o.append(row("**Berth**: `JobService.Submit` until `Status` reports all running", all, true));
    o.append(row("Berth: until all " + replicas + " allocations placed (in `Status`)",
        berth.stream().map(BerthTrial::placedMillis).toList(), true));
    o.append(row("Berth: until the first replica runs", berth.stream().map(BerthTrial::firstRunningMillis).toList(), false));
    o.append(row("Berth: the `Submit` call itself", berth.stream().map(BerthTrial::submitMillis).toList(), false));
    if (!seq.isEmpty()) {
      o.append(row("podman `run -d`, one at a time", seq.stream().map(PodmanTrial::allMillis).toList(), true));
      o.append(row("podman `run -d`, " + parallel + " at a time", par.stream().map(PodmanTrial::allMillis).toList(), true));
    }
    o.append('\n');
    if (!seq.isEmpty()) {
      long b = Percentiles.median(all);
      long s = Percentiles.median(seq.stream().map(PodmanTrial::allMillis).toList());
      long p = Percentiles.median(par.stream().map(PodmanTrial::allMillis).toList());
      o.append(String.format(Locale.ROOT, "Medians: podman one at a time / Berth = %.1f×; podman %d at a time / Berth = %.1f×.%n%n",
          (double) s / b, parallel, (double) p / b));
      List<Long> runs = seq.stream().flatMap(t -> t.runMillis().stream()).toList();
      o.append(String.format(Locale.ROOT, "One `podman run -d` (one at a time, %d runs): median %d ms, p90 %d ms, max %d ms.%n%n",
          runs.size(), Percentiles.median(runs), Percentiles.pct(runs, 0.9), Percentiles.pct(runs, 1.0)));
    }
    o.append("Clean-up, not part of the figures above (median): Berth's `Stop` with purge until every container is gone ")
        .append(Percentiles.median(berth.stream().map(BerthTrial::stopMillis).toList())).append(" ms");
    if (!seq.isEmpty()) {
      o.append("; `podman rm -f -t 0 -a` ").append(Percentiles.median(seq.stream().map(PodmanTrial::removeMillis).toList()))
          .append(" ms");
    }
    o.append(".\n\nTrials (1-minute load average at the start; Berth: submit, placed, first running, all running, stop ms, "
        + "replicas per node; podman: all running ms):\n\n");
    for (int i = 0; i < berth.size(); i++) {
      BerthTrial t = berth.get(i);
      o.append(String.format(Locale.ROOT, "- round %d: Berth (load %s) %d, %d, %d, **%d**, %d, %s", i + 1, t.load(),
          t.submitMillis(), t.placedMillis(), t.firstRunningMillis(), t.allRunningMillis(), t.stopMillis(), t.perNode()));
      if (!seq.isEmpty()) {
        o.append(String.format(Locale.ROOT, "; podman one at a time (load %s) %d; %d at a time (load %s) %d",
            seq.get(i).load(), seq.get(i).allMillis(), parallel, par.get(i).load(), par.get(i).allMillis()));
      }
      o.append('\n');
    }
    Files.writeString(Path.of(args.get("out")), o.toString());
    System.err.println(o);
  }

  /** A table row; with {@code rate}, the replicas per second the median stands for. */
  private String row(String what, List<Long> v, boolean rate) {
    long med = Percentiles.median(v);
    return String.format(Locale.ROOT, "| %s | %d | %d ms | %d ms | %d ms | %d ms | %s |%n", what, v.size(), med,
        Percentiles.pct(v, 0.9), Percentiles.pct(v, 1.0), Percentiles.pct(v, 0.0),
        rate && med > 0 ? String.format(Locale.ROOT, "%.0f", replicas * 1000.0 / med) : "");
  }

  private static long millisSince(long t0) {
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
  }
}
