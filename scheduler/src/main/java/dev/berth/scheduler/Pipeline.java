package dev.berth.scheduler;

import dev.berth.scheduler.filter.ConstraintFilter;
import dev.berth.scheduler.filter.DistinctHostsFilter;
import dev.berth.scheduler.filter.PortsFilter;
import dev.berth.scheduler.filter.ReadyFilter;
import dev.berth.scheduler.filter.ResourcesFilter;
import dev.berth.scheduler.filter.VolumesFilter;
import dev.berth.scheduler.model.NodeTable;
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
    /**
     * {@link #state}: the node passed every filter, and nothing this plan did has touched it
     * since; only filters that are not {@linkplain FeasibilityFilter#isNodeLocal node-local} need
     * to look at it again.
     */
    private static final byte FEASIBLE = 2;
    /** {@link #state}: as {@link #FEASIBLE}, and its node-local score is in {@link #localScore}. */
    private static final byte SCORED = 3;
    /** {@link #state}: rejected; the rejecting filter's index is the state minus this. */
    private static final byte REJECTED = 4;

    final String[] names;
    final FeasibilityFilter.Check[] checks;
    final boolean[] isStatic;
    /** Per check: whether it must run again on a node that passed and was not touched since. */
    private final boolean[] recheck;
    private final boolean anyRecheck;
    /** The node-local scorers (their weighted sum is cached per node), then the others. */
    final Scorer.NodeScore[] scores;
    final double[] weights;
    /** How many of {@link #scores} are node-local: they come first. */
    private final int localScores;
    final double weightSum;
    /**
     * Per node, one byte: 0 not checked yet, static filters passed, feasible (and scored), or
     * rejected by which filter. What a visit to a node reads first, so a byte: 10,000 nodes' worth
     * fits in 10 KiB of cache.
     */
    private final byte[] state;
    /**
     * Per node in state {@link #SCORED}: the weighted sum of its node-local scores. A placement
     * visits about ten nodes and scores every feasible one; without this each score reads the
     * node's usage, its replicas, its image and property columns (half a dozen cache lines in
     * arrays as long as the cluster), with it one double.
     */
    private final double[] localScore;
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
      boolean[] re = new boolean[nf];
      boolean any = false;
      int k = 0;
      for (FeasibilityFilter f : pipeline.filters) {
        FeasibilityFilter.Check check = f.prepare(group);
        if (check != null) {
          n[k] = f.name();
          c[k] = check;
          st[k] = f.isStatic();
          re[k] = !f.isStatic() && !f.isNodeLocal();
          any |= re[k];
          k++;
        }
      }
      if (k > Byte.MAX_VALUE - REJECTED) {
        throw new IllegalArgumentException("too many filters: " + k);
      }
      names = java.util.Arrays.copyOf(n, k);
      checks = java.util.Arrays.copyOf(c, k);
      isStatic = java.util.Arrays.copyOf(st, k);
      recheck = java.util.Arrays.copyOf(re, k);
      anyRecheck = any;
      int ns = pipeline.scorers.size();
      Scorer.NodeScore[] s = new Scorer.NodeScore[ns];
      double[] w = new double[ns];
      int j = 0;
      double sum = 0;
      int local = 0;
      // Node-local scorers first, then the others, each in the pipeline's order.
      for (int pass = 0; pass < 2; pass++) {
        for (Scorer scorer : pipeline.scorers) {
          if (scorer.isNodeLocal() != (pass == 0)) {
            continue;
          }
          Scorer.NodeScore score = scorer.prepare(group);
          if (score != null && scorer.weight() > 0) {
            s[j] = score;
            w[j] = scorer.weight();
            sum += w[j];
            j++;
          }
        }
        if (pass == 0) {
          local = j;
        }
      }
      localScores = local;
      scores = java.util.Arrays.copyOf(s, j);
      weights = java.util.Arrays.copyOf(w, j);
      weightSum = sum;
      int nodes = group.nodeCount();
      state = new byte[nodes];
      localScore = new double[nodes];
      rejectionOf = new FeasibilityFilter.Rejection[nodes];
    }

    /** Whether the node passes every filter now; if not, the rejection is recorded. */
    boolean feasible(int node) {
      byte st = state[node];
      if (st >= REJECTED) {
        return false;
      }
      if (st >= FEASIBLE) {
        return !anyRecheck || recheck(node);
      }
      boolean skipStatic = st == STATIC_PASSED;
      for (int i = 0; i < checks.length; i++) {
        if (skipStatic && isStatic[i]) {
          continue;
        }
        if (!check(node, i)) {
          return false;
        }
      }
      state[node] = FEASIBLE;
      return true;
    }

    /** Runs the filters a feasible node must pass again though nothing touched it. */
    private boolean recheck(int node) {
      for (int i = 0; i < checks.length; i++) {
        if (recheck[i] && !check(node, i)) {
          return false;
        }
      }
      return true;
    }

    private boolean check(int node, int i) {
      checksRun++;
      FeasibilityFilter.Rejection r = checks[i].reject(node);
      if (r == null) {
        return true;
      }
      state[node] = (byte) (REJECTED + i);
      rejectionOf[node] = r;
      if (rejections == rejected.length) {
        rejected = java.util.Arrays.copyOf(rejected, rejections * 2);
      }
      rejected[rejections++] = node;
      return false;
    }

    /**
     * This plan placed on or stopped something on the node: its node-local verdicts and scores are
     * stale. A rejection stands (verdicts only get worse).
     */
    void touched(int node) {
      if (state[node] == FEASIBLE || state[node] == SCORED) {
        state[node] = STATIC_PASSED;
      }
    }

    /** Keeps the node-local part of a feasible node's score: see {@link #score}. */
    private double localScore(int node) {
      double total = 0;
      for (int i = 0; i < localScores; i++) {
        total += weights[i] * scores[i].score(node);
      }
      if (state[node] == FEASIBLE) {
        localScore[node] = total;
        state[node] = SCORED;
      }
      return total;
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
      if (rejections > state.length / 32) {
        // Many rejections (a large cluster filling up): a pass over a byte per node costs less
        // than sorting them, about a nanosecond a node against tens per rejection.
        int[] r = new int[rejections];
        int k = 0;
        for (int node = 0; node < state.length; node++) {
          if (state[node] >= REJECTED) {
            r[k++] = node;
          }
        }
        return r;
      }
      int[] r = java.util.Arrays.copyOf(rejected, rejections);
      java.util.Arrays.sort(r);
      return r;
    }

    /**
     * The rejected nodes' explanations, made when read from this group's records, which the
     * explanations share: call once the group's placing is over.
     */
    List<Plan.NodeExplanation> explanations(NodeTable table, int[] rejectedNodes) {
      return new Plan.Rejections(table, rejectedNodes, names, state, REJECTED, rejectionOf);
    }

    boolean rejectedByStatic(int node) {
      int f = rejectingFilter(node);
      return f >= 0 && isStatic[f];
    }

    /**
     * The weighted mean of the scores. The node-local part is summed first and the rest added to
     * it, whether or not the node-local part comes from the cache, so a cached score is the same
     * double as a fresh one and caching cannot change a plan.
     */
    double score(int node) {
      if (weightSum == 0) {
        return 0;
      }
      byte st = state[node];
      double total = st == SCORED ? localScore[node] : localScore(node);
      for (int i = localScores; i < scores.length; i++) {
        total += weights[i] * scores[i].score(node);
      }
      return total / weightSum;
    }
  }
}
