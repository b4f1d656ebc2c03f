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
    final String[] names;
    final FeasibilityFilter.Check[] checks;
    final boolean[] isStatic;
    final Scorer.NodeScore[] scores;
    final double[] weights;
    final double weightSum;
    /** Per node: 0 not rejected, else 1 + the index of the rejecting filter. */
    final byte[] rejectedBy;
    final String[] reasons;
    /** Per node: it passed every static filter once already. */
    final boolean[] staticPassed;
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
      rejectedBy = new byte[nodes];
      reasons = new String[nodes];
      staticPassed = new boolean[nodes];
    }

    /** Whether the node passes every filter now; if not, the rejection is recorded. */
    boolean feasible(int node) {
      if (rejectedBy[node] != 0) {
        return false;
      }
      boolean skipStatic = staticPassed[node];
      for (int i = 0; i < checks.length; i++) {
        if (skipStatic && isStatic[i]) {
          continue;
        }
        checksRun++;
        String reason = checks[i].reject(node);
        if (reason != null) {
          rejectedBy[node] = (byte) (i + 1);
          reasons[node] = reason;
          rejections++;
          return false;
        }
      }
      staticPassed[node] = true;
      return true;
    }

    /**
     * The first static filter's reason to reject the node, or null; records nothing. For a
     * system job's existing replicas, whose own resources would fail the dynamic filters.
     */
    String staticRejection(int node) {
      for (int i = 0; i < checks.length; i++) {
        if (isStatic[i]) {
          String reason = checks[i].reject(node);
          if (reason != null) {
            return names[i] + ": " + reason;
          }
        }
      }
      return null;
    }

    /** The name of the filter that rejected the node, or null. */
    String rejectedBy(int node) {
      return rejectedBy[node] == 0 ? null : names[rejectedBy[node] - 1];
    }

    boolean rejectedByStatic(int node) {
      return rejectedBy[node] != 0 && isStatic[rejectedBy[node] - 1];
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
