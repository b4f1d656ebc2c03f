package dev.berth.scheduler;

import static dev.berth.scheduler.Fixtures.res;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.scheduler.model.ClusterSnapshot;
import dev.berth.scheduler.model.Job;
import dev.berth.scheduler.model.JobType;
import dev.berth.scheduler.model.Node;
import dev.berth.scheduler.model.TaskGroup;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The lazily shuffled walk: it reaches every node before it gives up, draws only for the nodes it
 * visits, never offers a rejected node, and is the same walk for the same seed.
 */
class CandidateSamplerTest {

  private static final TaskGroup ONE_GIB = TaskGroup.of("g", 1, "img:1", res(100, 1024));

  /** {@code n} nodes, those in {@code fit} with room for the group, the others with none. */
  private static ClusterSnapshot cluster(int n, Set<Integer> fit) {
    List<Node> nodes = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      nodes.add(Fixtures.node("n" + i, 1000, fit.contains(i) ? 2048 : 512));
    }
    return new ClusterSnapshot(1, nodes, List.of());
  }

  private static CandidateSampler sampler(ClusterSnapshot snap, long seed, int limit) {
    GroupContext g = Fixtures.context(snap, Job.of("j", JobType.SERVICE, ONE_GIB), ONE_GIB);
    Pipeline.Bound bound = Pipeline.standard(SchedulerConfig.DEFAULT).bind(g);
    return new CandidateSampler(g, bound, new SplittableRandom(seed), limit);
  }

  @Test
  void findsTheOneFittingNodeWhereverItIs() {
    for (int at : new int[] {0, 1, 250, 498, 499}) {
      for (long seed = 0; seed < 5; seed++) {
        CandidateSampler s = sampler(cluster(500, Set.of(at)), seed, 10);
        int[] out = new int[10];
        assertEquals(1, s.sample(out), "node " + at + ", seed " + seed);
        assertEquals(at, out[0]);
        assertTrue(s.visits <= 500, "each node visited at most once: " + s.visits);
      }
    }
  }

  @Test
  void givesUpOnlyAfterRejectingEveryNodeOnce() {
    CandidateSampler s = sampler(cluster(300, Set.of()), 7, 10);
    int[] out = new int[10];
    assertEquals(0, s.sample(out));
    assertEquals(300, s.visits);
    assertEquals(0, s.sample(out), "rejections stick");
    assertEquals(300, s.visits, "a rejected node is not visited again");
  }

  @Test
  void aSampleOnALargeClusterVisitsOnlyWhatItNeeds() {
    Set<Integer> all = new HashSet<>();
    for (int i = 0; i < 20_000; i++) {
      all.add(i);
    }
    CandidateSampler s = sampler(cluster(20_000, all), 3, 10);
    int[] out = new int[10];
    assertEquals(10, s.sample(out));
    assertEquals(10, s.visits);
  }

  @Test
  void consecutiveSamplesWalkEveryNodeOnceBeforeAnyTwice() {
    int n = 1003;
    Set<Integer> all = new HashSet<>();
    for (int i = 0; i < n; i++) {
      all.add(i);
    }
    CandidateSampler s = sampler(cluster(n, all), 11, 10);
    int[] out = new int[10];
    boolean[] seen = new boolean[n];
    int distinct = 0;
    while (distinct < n) {
      int found = s.sample(out);
      assertEquals(10, found);
      for (int i = 0; i < found && distinct < n; i++) {
        assertFalse(seen[out[i]], "node " + out[i] + " offered again before all were");
        seen[out[i]] = true;
        distinct++;
      }
    }
    assertEquals(n, distinct);
  }

  @Test
  void offersEveryFittingNodeAndNoOther() {
    Random r = new Random(1);
    for (int round = 0; round < 20; round++) {
      int n = 50 + r.nextInt(500);
      Set<Integer> fit = new HashSet<>();
      for (int i = 0; i < n; i++) {
        if (r.nextInt(4) == 0) {
          fit.add(i);
        }
      }
      CandidateSampler s = sampler(cluster(n, fit), round, 3);
      Set<Integer> offered = new HashSet<>();
      int[] out = new int[3];
      for (int k = 0; k < n; k++) {
        int found = s.sample(out);
        for (int i = 0; i < found; i++) {
          assertTrue(fit.contains(out[i]), "round " + round + ": node " + out[i] + " offered");
          offered.add(out[i]);
        }
      }
      assertEquals(fit, offered, "round " + round);
    }
  }

  @Test
  void theSameSeedWalksTheSameWayAndAnotherDoesNot() {
    Set<Integer> fit = new HashSet<>();
    for (int i = 0; i < 2000; i += 3) {
      fit.add(i);
    }
    ClusterSnapshot snap = cluster(2000, fit);
    int[] a = walk(sampler(snap, 42, 10), 50);
    int[] b = walk(sampler(cluster(2000, fit), 42, 10), 50);
    assertArrayEquals(a, b);
    assertFalse(Arrays.equals(a, walk(sampler(snap, 43, 10), 50)));
  }

  private static int[] walk(CandidateSampler s, int samples) {
    int[] all = new int[samples * 10];
    int[] out = new int[10];
    int k = 0;
    for (int i = 0; i < samples; i++) {
      int found = s.sample(out);
      System.arraycopy(out, 0, all, k, found);
      k += found;
    }
    return Arrays.copyOf(all, k);
  }
}
