package dev.berth.bench;

import dev.berth.scheduler.Plan;
import dev.berth.scheduler.Scheduler;
import dev.berth.scheduler.SchedulerConfig;
import dev.berth.scheduler.model.Affinity;
import dev.berth.scheduler.model.ClusterSnapshot;
import dev.berth.scheduler.model.Constraint;
import dev.berth.scheduler.model.Evaluation;
import dev.berth.scheduler.model.Job;
import dev.berth.scheduler.model.JobType;
import dev.berth.scheduler.model.Node;
import dev.berth.scheduler.model.Operator;
import dev.berth.scheduler.model.PortRequest;
import dev.berth.scheduler.model.Resources;
import dev.berth.scheduler.model.Spread;
import dev.berth.scheduler.model.TaskGroup;
import dev.berth.scheduler.model.VolumeMount;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * Placement throughput of the scheduler: one evaluation placing {@code COUNT} allocations (10,000)
 * on simulated clusters of 100, 1,000, 5,000 and 10,000 nodes, with every filter and scorer that
 * can apply to such a job switched on and every rejection explained. Not a test: run by
 * {@code bench/scheduler.sh}, which writes {@code bench/results/scheduler.md}.
 *
 * <p>Unmeasured evaluations, round by round across the sizes, for at least {@code WARMUP_SECONDS}
 * (10) and at least {@code WARMUP} rounds (5): the JIT compiler was seen recompiling the
 * scheduler's hot methods up to 6 s into a run, and a few rounds measured it doing so rather than
 * the scheduler. Then {@code ROUNDS} measured evaluations per size, each with its own seed, taken round by round across the sizes (one of each size, then the
 * next round) so that the machine's other load falls on every size alike. Throughput is placements
 * over the wall time of {@code schedule()} (snapshot to plan, set-up included), median over rounds;
 * per-placement latency is the time between consecutive placements as the scheduler reports them,
 * all rounds pooled. Because a shared machine's other load stretches wall time, the thread's CPU
 * time per evaluation is reported too (placements per CPU-second), with the garbage collections the
 * rounds caused and the bytes the evaluation allocated per placement (the plan's allocations
 * included).
 *
 * <p>Arguments: none. System properties: {@code sizes} (comma list), {@code count},
 * {@code perNode} (when set, each size places that many allocations per node instead of
 * {@code count}: every node then has the same capacity and fills alike at every size, which
 * separates the cluster's size from how full its nodes get), {@code warmup},
 * {@code warmupSeconds}, {@code rounds}. Prints the warm-up rounds it took as a comment line
 * ({@code <!-- warm-up: N rounds in S s -->}) before the table.
 */
public final class SchedulerThroughput {

  private SchedulerThroughput() {
  }

  public static void main(String[] args) {
    int[] sizes = Arrays.stream(System.getProperty("sizes", "100,1000,5000,10000").split(","))
        .mapToInt(Integer::parseInt).toArray();
    int count = Integer.getInteger("count", 10_000);
    int perNode = Integer.getInteger("perNode", 0);
    int warmup = Integer.getInteger("warmup", 5);
    double warmupSeconds = Double.parseDouble(System.getProperty("warmupSeconds", "10"));
    int rounds = Integer.getInteger("rounds", 21);
    Scheduler scheduler = new Scheduler(SchedulerConfig.DEFAULT);
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    com.sun.management.ThreadMXBean allocs = (com.sun.management.ThreadMXBean) threads;

    int k = sizes.length;
    int[] counts = new int[k];
    ClusterSnapshot[] snaps = new ClusterSnapshot[k];
    Job[] jobs = new Job[k];
    for (int i = 0; i < k; i++) {
      counts[i] = perNode > 0 ? perNode * sizes[i] : count;
      snaps[i] = cluster(sizes[i], counts[i], new Random(sizes[i]));
      jobs[i] = job(counts[i]);
    }
    long warmStart = System.nanoTime();
    long warmUntil = warmStart + (long) (warmupSeconds * 1e9);
    int warmed = 0;
    while (warmed < warmup || System.nanoTime() - warmUntil < 0) {
      for (int i = 0; i < k; i++) {
        scheduler.schedule(snaps[i], eval(jobs[i], "w" + sizes[i] + "-" + warmed, warmed));
      }
      warmed++;
    }
    System.out.printf("<!-- warm-up: %d rounds in %.1f s -->%n", warmed,
        (System.nanoTime() - warmStart) / 1e9);
    double[][] rates = new double[k][rounds];
    double[][] millis = new double[k][rounds];
    double[][] cpuRates = new double[k][rounds];
    double[][] cpuMillis = new double[k][rounds];
    double[][] bytes = new double[k][rounds];
    long[][] gaps = new long[k][];
    for (int i = 0; i < k; i++) {
      gaps[i] = new long[rounds * counts[i]];
    }
    int[] g = new int[k];
    long[] checks = new long[k];
    int[] explained = new int[k];
    int[] pending = new int[k];
    long[] gcs = new long[k];
    // Round by round across the sizes rather than size after size, so that a change in the
    // machine's other load (other builds on the same cores) falls on every size alike.
    for (int r = 0; r < rounds; r++) {
      for (int i = 0; i < k; i++) {
        long[] last = new long[1];
        long[] local = new long[counts[i]];
        int[] at = new int[1];
        long gcBefore = gcCount();
        long allocStart = allocs.getCurrentThreadAllocatedBytes();
        long cpuStart = threads.getCurrentThreadCpuTime();
        long start = System.nanoTime();
        last[0] = start;
        Plan plan = scheduler.schedule(snaps[i],
            eval(jobs[i], "m" + sizes[i] + "-" + r, 1000 + r), a -> {
              long now = System.nanoTime();
              if (at[0] < local.length) {
                local[at[0]++] = now - last[0];
              }
              last[0] = now;
            });
        long took = System.nanoTime() - start;
        long cpu = threads.getCurrentThreadCpuTime() - cpuStart;
        long allocated = allocs.getCurrentThreadAllocatedBytes() - allocStart;
        gcs[i] += gcCount() - gcBefore;
        int placed = plan.placements().size();
        cpuRates[i][r] = placed / (cpu / 1e9);
        cpuMillis[i][r] = cpu / 1e6;
        bytes[i][r] = (double) allocated / placed;
        rates[i][r] = placed / (took / 1e9);
        millis[i][r] = took / 1e6;
        System.arraycopy(local, 0, gaps[i], g[i], at[0]);
        g[i] += at[0];
        Plan.GroupPlan gp = plan.groups().get(0);
        checks[i] += gp.nodesChecked();
        explained[i] = gp.explanations().size();
        pending[i] = gp.unplaced().indices().size();
      }
    }
    System.out.println("| nodes | placements per evaluation | placements/s wall (median) "
        + "| min–max | placements per CPU-s (median) | p50 µs | p99 µs | max µs | evaluation ms wall / CPU (median) "
        + "| node checks per placement | rejected nodes explained | pending | bytes allocated per "
        + "placement (median) | GCs |");
    System.out.println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (int i = 0; i < k; i++) {
      long[] all = Arrays.copyOf(gaps[i], g[i]);
      Arrays.sort(all);
      Arrays.sort(rates[i]);
      Arrays.sort(millis[i]);
      Arrays.sort(cpuRates[i]);
      Arrays.sort(cpuMillis[i]);
      Arrays.sort(bytes[i]);
      System.out.printf("| %,d | %,d | %,.0f | %,.0f–%,.0f | %,.0f | %.2f | %.2f | %,.0f "
          + "| %.1f / %.1f | %.1f | %,d | %d | %,.0f | %d |%n",
          sizes[i], counts[i], rates[i][rounds / 2], rates[i][0], rates[i][rounds - 1],
          cpuRates[i][rounds / 2], pct(all, 0.50) / 1e3, pct(all, 0.99) / 1e3,
          all[all.length - 1] / 1e3, millis[i][rounds / 2], cpuMillis[i][rounds / 2],
          (double) checks[i] / ((long) rounds * counts[i]), explained[i], pending[i],
          bytes[i][rounds / 2], gcs[i]);
    }
  }

  private static long gcCount() {
    long c = 0;
    for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
      c += Math.max(0, gc.getCollectionCount());
    }
    return c;
  }

  private static long pct(long[] sorted, double p) {
    return sorted[Math.min(sorted.length - 1, (int) Math.floor(p * sorted.length))];
  }

  private static Evaluation eval(Job job, String id, long seed) {
    return new Evaluation(id, job, Evaluation.Trigger.JOB_REGISTER, seed);
  }

  /**
   * A simulated cluster: three zones; one node in ten with an old kernel (the constraint rejects
   * it), one in twenty draining (the ready filter rejects it), one in four with an ssd label (the
   * affinity), half holding the image, all holding the "cache" volume; each sized to hold about
   * 1.5 times its share of the job, so the resources filter has work near the end but the job fits.
   */
  static ClusterSnapshot cluster(int n, int count, Random r) {
    String[] zones = {"a", "b", "c"};
    long slots = Math.max(2, (long) Math.ceil(count * 1.5 / n));
    List<Node> nodes = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      Map<String, String> labels = r.nextInt(4) == 0
          ? Map.of("zone", zones[i % 3], "ssd", "true") : Map.of("zone", zones[i % 3]);
      Map<String, String> attrs = Map.of("kernel.version",
          r.nextInt(10) == 0 ? "5.4.0-150-generic" : "6.1.0-21-amd64", "os", "linux");
      nodes.add(new Node("node-" + i, "host-" + i, labels, attrs,
          new Resources(100 * slots, (128L << 20) * slots, 10 * slots), true, true,
          r.nextInt(20) == 0, r.nextBoolean() ? Set.of("app:1") : Set.of(), Set.of("cache")));
    }
    return new ClusterSnapshot(1, nodes, List.of());
  }

  /**
   * One service job of {@code count} replicas, with constraints (version and equality), a zone
   * spread with targets, an affinity, a dynamic port, a host-local volume and a known image, on
   * the cluster's default bin-packing; anti-affinity applies since count > 1.
   */
  static Job job(int count) {
    TaskGroup g = new TaskGroup("app", count, "app:1", List.of(), Map.of(),
        new Resources(100, 128L << 20, 10), List.of(new PortRequest("http", 0, 8080)),
        List.of(new VolumeMount("cache", "/cache", false)),
        List.of(new Constraint("attr.kernel.version", Operator.VERSION, ">= 5.10"),
            new Constraint("attr.os", Operator.EQ, "linux")),
        List.of(new Spread("label.zone", 50, List.of(new Spread.SpreadTarget("a", 40),
            new Spread.SpreadTarget("b", 30), new Spread.SpreadTarget("c", 30)))),
        List.of(new Affinity("label.ssd", Operator.EQ, "true", 30)), false);
    return Job.of("bench", JobType.SERVICE, g);
  }
}
