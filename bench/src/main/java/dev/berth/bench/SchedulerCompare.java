package dev.berth.bench;

import dev.berth.scheduler.Scheduler;
import dev.berth.scheduler.model.ClusterSnapshot;
import dev.berth.scheduler.model.Evaluation;
import dev.berth.scheduler.model.Job;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.function.LongConsumer;

/**
 * Two or more builds of the scheduler on the same workload in one JVM: each build's classes (a
 * directory or jar per argument) in a class loader of its own, their evaluations interleaved
 * round by round (every build and size once, then the next round), so that a shared machine's
 * changing load falls on every build alike. This is how the steps in
 * {@code bench/results/scheduler.md} were measured against each other; differences of a few
 * percent show here that a run of {@code bench/scheduler.sh} per build cannot tell from noise.
 *
 * <p>The workload is {@link SchedulerThroughput}'s. Prints, per build and size, the 10th
 * percentile and the median of the thread's CPU time per placement over the rounds, and the ratio
 * of the largest size to the smallest. Not a test.
 *
 * <p>Arguments: the builds' class directories or jars. System properties: {@code sizes}
 * ("1000,10000"), {@code count} (10000), {@code perNode} (0; as in {@link SchedulerThroughput}),
 * {@code sizedPerNode} (0; when set, nodes are sized as for that many placements per node
 * whatever is placed, which holds the node size apart from the cluster size), {@code warmup}
 * (20), {@code rounds} (80). Run with the harness's own classes only on the class
 * path, so that each build's scheduler is the one its loader finds:
 * {@code java -cp bench/target/classes dev.berth.bench.SchedulerCompare OLD_CLASSES NEW_CLASSES}.
 */
public final class SchedulerCompare {

  private SchedulerCompare() {
  }

  public static void main(String[] args) throws Exception {
    if (args.length == 0) {
      throw new IllegalArgumentException("usage: SchedulerCompare CLASSES_DIR_OR_JAR...");
    }
    int[] sizes = Arrays.stream(System.getProperty("sizes", "1000,10000").split(","))
        .mapToInt(Integer::parseInt).toArray();
    int count = Integer.getInteger("count", 10_000);
    int perNode = Integer.getInteger("perNode", 0);
    int sizedPerNode = Integer.getInteger("sizedPerNode", 0);
    int warmup = Integer.getInteger("warmup", 20);
    int rounds = Integer.getInteger("rounds", 80);
    URL harness = SchedulerCompare.class.getProtectionDomain().getCodeSource().getLocation();
    int builds = args.length;
    int k = sizes.length;
    LongConsumer[][] runs = new LongConsumer[builds][k];
    int[] placements = new int[k];
    for (int i = 0; i < k; i++) {
      placements[i] = perNode > 0 ? perNode * sizes[i] : count;
    }
    for (int b = 0; b < builds; b++) {
      // The platform loader as parent: neither the harness nor a scheduler from the class path.
      ClassLoader loader = new URLClassLoader(new URL[] {Path.of(args[b]).toUri().toURL(), harness},
          ClassLoader.getPlatformClassLoader());
      Class<?> runner = loader.loadClass(Runner.class.getName());
      for (int i = 0; i < k; i++) {
        int sizedFor = sizedPerNode > 0 ? sizedPerNode * sizes[i] : placements[i];
        runs[b][i] = (LongConsumer) runner.getConstructor(int.class, int.class, int.class)
            .newInstance(sizes[i], placements[i], sizedFor);
      }
    }
    for (int w = 0; w < warmup; w++) {
      for (int b = 0; b < builds; b++) {
        for (int i = 0; i < k; i++) {
          runs[b][i].accept(w);
        }
      }
    }
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    double[][][] micros = new double[builds][k][rounds];
    for (int r = 0; r < rounds; r++) {
      for (int b = 0; b < builds; b++) {
        for (int i = 0; i < k; i++) {
          long start = threads.getCurrentThreadCpuTime();
          runs[b][i].accept(1000 + r);
          micros[b][i][r] = (threads.getCurrentThreadCpuTime() - start) / 1e3 / placements[i];
        }
      }
    }
    for (int b = 0; b < builds; b++) {
      StringBuilder line = new StringBuilder(args[b]).append(':');
      for (int i = 0; i < k; i++) {
        Arrays.sort(micros[b][i]);
        line.append(String.format(" %,d nodes p10 %.3f p50 %.3f µs;", sizes[i],
            micros[b][i][rounds / 10], micros[b][i][rounds / 2]));
      }
      line.append(String.format(" %,d/%,d nodes p10 %.2f p50 %.2f", sizes[k - 1], sizes[0],
          micros[b][k - 1][rounds / 10] / micros[b][0][rounds / 10],
          micros[b][k - 1][rounds / 2] / micros[b][0][rounds / 2]));
      System.out.println(line);
    }
  }

  /** One build's evaluations of one size; loaded by that build's class loader. */
  public static final class Runner implements LongConsumer {
    private final Scheduler scheduler = new Scheduler();
    private final ClusterSnapshot snapshot;
    private final Job job;

    /** {@code sizedFor}: how many placements the nodes are sized for, all nodes together. */
    public Runner(int nodes, int placements, int sizedFor) {
      snapshot = SchedulerThroughput.cluster(nodes, sizedFor, new Random(nodes));
      job = SchedulerThroughput.job(placements);
    }

    @Override
    public void accept(long seed) {
      scheduler.schedule(snapshot,
          new Evaluation("c" + seed, job, Evaluation.Trigger.JOB_REGISTER, seed));
    }
  }
}
