package dev.berth.scheduler;

import dev.berth.scheduler.filter.ConstraintFilter;
import dev.berth.scheduler.filter.DistinctHostsFilter;
import dev.berth.scheduler.filter.PortsFilter;
import dev.berth.scheduler.filter.ReadyFilter;
import dev.berth.scheduler.filter.ResourcesFilter;
import dev.berth.scheduler.filter.VolumesFilter;
import dev.berth.scheduler.score.AffinityScorer;
import dev.berth.scheduler.score.ImageLocalityScorer;
import dev.berth.scheduler.score.JobAntiAffinityScorer;
import dev.berth.scheduler.score.LabelSpreadScorer;
import dev.berth.scheduler.score.ReschedulePenaltyScorer;
import dev.berth.scheduler.score.ResourceFitScorer;
import java.util.List;

/**
 * The ordered filters and the weighted scorers a placement goes through.
 *
 * @param filters applied in order; the first to reject a node names the reason
 * @param scorers combined as a weighted mean
 */
public record Pipeline(List<FeasibilityFilter> filters, List<Scorer> scorers) {

  public Pipeline {
    filters = List.copyOf(filters);
    scorers = List.copyOf(scorers);
  }

  /**
   * Every filter and scorer Berth has. Filters run cheapest first, because most rejections on a
   * busy cluster are the cheap ones (a full or drained node) and a node is dropped at its first
   * rejection: readiness is two booleans; distinct hosts one array read; resources three
   * subtractions; ports a hash lookup per fixed port; volumes a set lookup per volume;
   * constraints read maps and may run a regular expression or parse a version. The static ones
   * (ready, volumes, constraints) are checked once per node and task group anyway (see
   * {@link FeasibilityFilter#isStatic()}), so their place in the order matters only for the
   * first visit and for which reason a node that fails several is explained by.
   */
  public static Pipeline standard(SchedulerConfig config) {
    return new Pipeline(
        List.of(new ReadyFilter(), new DistinctHostsFilter(), new ResourcesFilter(),
            new PortsFilter(), new VolumesFilter(), new ConstraintFilter()),
        List.of(new ResourceFitScorer(config.fitWeight()),
            new LabelSpreadScorer(config.spreadWeight()),
            new JobAntiAffinityScorer(config.antiAffinityWeight()),
            new ImageLocalityScorer(config.imageWeight()),
            new AffinityScorer(config.affinityWeight()),
            new ReschedulePenaltyScorer(config.reschedulePenaltyWeight())));
  }

  /** The pipeline prepared for one task group, with its record of rejected nodes. */
  Bound bind(GroupContext group) {
    return new Bound(this, group);
  }

  /**
   * Filters and scorers bound to one task group, and the rejections found so far. A rejected node
   * stays rejected for the rest of the evaluation (verdicts only get worse as replicas are
   * placed: {@link FeasibilityFilter}), so each node is rejected, and explained, at most once.
   */
  static final class Bound {
    /** {@link #state}: the node passed every static filter once already. */
    private static final byte STATIC_PASSED = 1;
    /** {@link #state}: rejected; the rejecting filter's index is the state minus this. */
    private static final byte REJECTED = 2;

    final String[] names;
    final FeasibilityFilter.Check[] checks;
    final boolean[] isStatic;
    final Scorer.NodeScore[] scores;
    final double[] weights;
    final double weightSum;
    /** Per node, one byte: 0 not checked yet, static filters passed, or rejected by which. */
    private final byte[] state;
    /** Per node, the rejection, for a rejected node. */
    private final FeasibilityFilter.Rejection[] rejectionOf;
    /** The rejected nodes, in the order they were rejected. */
    private int[] rejected = new int[16];
    int rejections;
    long checksRun;

    Bound(Pipeline pipeline, GroupContext group) {
      int nf = pipeline.filters.size();
      String[] n = new String[nf];
      FeasibilityFilter.Check[] c = new FeasibilityFilter.Check[nf];
      boolean[] st = new boolean[nf];
      int k = 0;
      for (FeasibilityFilter f : pipeline.filters) {
        FeasibilityFilter.Check check = f.prepare(group);
        if (check != null) {
          n[k] = f.name();
          c[k] = check;
          st[k] = f.isStatic();
          k++;
        }
      }
      if (k > Byte.MAX_VALUE - REJECTED) {
        throw new IllegalArgumentException("too many filters: " + k);
      }
      names = java.util.Arrays.copyOf(n, k);
      checks = java.util.Arrays.copyOf(c, k);
      isStatic = java.util.Arrays.copyOf(st, k);
      int ns = pipeline.scorers.size();
      Scorer.NodeScore[] s = new Scorer.NodeScore[ns];
      double[] w = new double[ns];
      int j = 0;
      double sum = 0;
      for (Scorer scorer : pipeline.scorers) {
        Scorer.NodeScore score = scorer.prepare(group);
        if (score != null && scorer.weight() > 0) {
          s[j] = score;
          w[j] = scorer.weight();
          sum += w[j];
          j++;
        }
      }
      scores = java.util.Arrays.copyOf(s, j);
      weights = java.util.Arrays.copyOf(w, j);
      weightSum = sum;
      int nodes = group.nodeCount();
      state = new byte[nodes];
      rejectionOf = new FeasibilityFilter.Rejection[nodes];
    }

    /** Whether the node passes every filter now; if not, the rejection is recorded. */
    boolean feasible(int node) {
      byte st = state[node];
      if (st >= REJECTED) {
        return false;
      }
      boolean skipStatic = st == STATIC_PASSED;
      for (int i = 0; i < checks.length; i++) {
        if (skipStatic && isStatic[i]) {
          continue;
        }
        checksRun++;
        FeasibilityFilter.Rejection r = checks[i].reject(node);
        if (r != null) {
          state[node] = (byte) (REJECTED + i);
          rejectionOf[node] = r;
          if (rejections == rejected.length) {
            rejected = java.util.Arrays.copyOf(rejected, rejections * 2);
          }
          rejected[rejections++] = node;
          return false;
        }
      }
      state[node] = STATIC_PASSED;
      return true;
    }

    /**
     * The first static filter's reason to reject the node, or null; records nothing. For a
     * system job's existing replicas, whose own resources would fail the dynamic filters.
     */
    String staticRejection(int node) {
      for (int i = 0; i < checks.length; i++) {
        if (isStatic[i]) {
          FeasibilityFilter.Rejection r = checks[i].reject(node);
          if (r != null) {
            return names[i] + ": " + r.reason();
          }
        }
      }
      return null;
    }

    /** The index in {@link #names} of the filter that rejected the node, or −1. */
    int rejectingFilter(int node) {
      return state[node] >= REJECTED ? state[node] - REJECTED : -1;
    }

    /** The rejection of a rejected node, or null. */
    FeasibilityFilter.Rejection rejection(int node) {
      return rejectionOf[node];
    }

    /** The rejected nodes in position order. */
    int[] rejectedNodes() {
      int[] r = java.util.Arrays.copyOf(rejected, rejections);
      java.util.Arrays.sort(r);
      return r;
    }

    boolean rejectedByStatic(int node) {
      int f = rejectingFilter(node);
      return f >= 0 && isStatic[f];
    }

    double score(int node) {
      if (weightSum == 0) {
        return 0;
      }
      double total = 0;
      for (int i = 0; i < scores.length; i++) {
        total += weights[i] * scores[i].score(node);
      }
      return total / weightSum;
    }
  }
}
