package dev.berth.scheduler;

import static dev.berth.scheduler.Fixtures.alloc;
import static dev.berth.scheduler.Fixtures.context;
import static dev.berth.scheduler.Fixtures.node;
import static dev.berth.scheduler.Fixtures.res;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.berth.scheduler.model.Affinity;
import dev.berth.scheduler.model.Allocation;
import dev.berth.scheduler.model.AllocationStatus;
import dev.berth.scheduler.model.ClusterSnapshot;
import dev.berth.scheduler.model.Job;
import dev.berth.scheduler.model.JobType;
import dev.berth.scheduler.model.Node;
import dev.berth.scheduler.model.Operator;
import dev.berth.scheduler.model.PlacementStrategy;
import dev.berth.scheduler.model.Spread;
import dev.berth.scheduler.model.TaskGroup;
import dev.berth.scheduler.score.AffinityScorer;
import dev.berth.scheduler.score.ImageLocalityScorer;
import dev.berth.scheduler.score.JobAntiAffinityScorer;
import dev.berth.scheduler.score.LabelSpreadScorer;
import dev.berth.scheduler.score.ResourceFitScorer;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Every scorer, as a table: a cluster, a job, a node, and the score it gets. */
class ScorersTest {

  /** One case; {@code expected} null means the scorer does not apply to the group. */
  record Case(String name, Scorer scorer, List<Node> nodes, List<Allocation> running, Job job,
      int node, Double expected) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Stream<Case> cases() {
    TaskGroup web = TaskGroup.of("web", 4, "nginx:1", res(500, 256));
    Job binpack = Job.of("job", JobType.SERVICE, web).withStrategy(PlacementStrategy.BINPACK);
    Job spread = binpack.withStrategy(PlacementStrategy.SPREAD);
    List<Node> half = List.of(node("n0", 2000, 1024));
    List<Allocation> halfUsed =
        List.of(alloc("o", "other", "x", 0, "n0", res(1000, 512), AllocationStatus.RUNNING));
    List<Node> zones = List.of(node("a1", Map.of("zone", "a"), Map.of()),
        node("b1", Map.of("zone", "b"), Map.of()), node("x1", Map.of(), Map.of()));
    Job zoned = Job.of("job", JobType.SERVICE, withSpread(web,
        new Spread("label.zone", 100, List.of(new Spread.SpreadTarget("a", 50),
            new Spread.SpreadTarget("b", 50)))));
    List<Allocation> twoInA = List.of(
        alloc("r0", "job", "web", 0, "a1", res(500, 256), AllocationStatus.RUNNING),
        alloc("r1", "job", "web", 1, "a1", res(500, 256), AllocationStatus.RUNNING));
    Job lopsided = Job.of("job", JobType.SERVICE, withSpread(web,
        new Spread("label.zone", 100, List.of(new Spread.SpreadTarget("a", 75)))));
    Node warm = Fixtures.withImages(node("w", 1000, 1000), "nginx:1", "sha256:abc");
    Job byDigest = Job.of("job", JobType.SERVICE,
        TaskGroup.of("web", 2, "registry/nginx@sha256:abc", res(1, 1)));
    Job affine = Job.of("job", JobType.SERVICE, new TaskGroup("web", 2, "nginx:1", List.of(),
        Map.of(), res(1, 1), List.of(), List.of(), List.of(), List.of(),
        List.of(new Affinity("label.zone", Operator.EQ, "a", 50),
            new Affinity("label.ssd", Operator.EQ, "true", -50)), false));
    List<Node> affinityNodes = List.of(node("a", Map.of("zone", "a"), Map.of()),
        node("as", Map.of("zone", "a", "ssd", "true"), Map.of()),
        node("bs", Map.of("zone", "b", "ssd", "true"), Map.of()));
    return Stream.of(
        new Case("fit: bin-pack scores utilisation after placing", new ResourceFitScorer(1), half,
            halfUsed, binpack, 0, 0.75),
        new Case("fit: bin-pack, empty node", new ResourceFitScorer(1), half, List.of(), binpack,
            0, 0.25),
        new Case("fit: spread scores what stays free", new ResourceFitScorer(1), half, halfUsed,
            spread, 0, 0.25),
        new Case("fit: spread, empty node", new ResourceFitScorer(1), half, List.of(), spread, 0,
            0.75),
        new Case("spread: value below its share scores 1", new LabelSpreadScorer(1), zones,
            twoInA, zoned, 1, 1.0),
        new Case("spread: value at its share scores 0", new LabelSpreadScorer(1), zones, twoInA,
            zoned, 0, 0.0),
        new Case("spread: node lacking the label scores -1", new LabelSpreadScorer(1), zones,
            twoInA, zoned, 2, -1.0),
        new Case("spread: unnamed values share the rest (b gets 25% of 4 = 1)",
            new LabelSpreadScorer(1), zones, List.of(), lopsided, 1, 1.0),
        new Case("spread: over its share scores below 0", new LabelSpreadScorer(1), zones,
            List.of(alloc("r0", "job", "web", 0, "b1", res(1, 1), AllocationStatus.RUNNING),
                alloc("r1", "job", "web", 1, "b1", res(1, 1), AllocationStatus.RUNNING)),
            lopsided, 1, -1.0),
        new Case("spread: no spread, no score", new LabelSpreadScorer(1), zones, List.of(),
            binpack, 0, null),
        new Case("anti-affinity: empty node scores 0", new JobAntiAffinityScorer(1), zones,
            twoInA, zoned, 1, 0.0),
        new Case("anti-affinity: 2 of 4 replicas there", new JobAntiAffinityScorer(1), zones,
            twoInA, zoned, 0, -0.5),
        new Case("anti-affinity: a single replica has nothing to avoid",
            new JobAntiAffinityScorer(1), zones, List.of(),
            Job.of("job", JobType.SERVICE, TaskGroup.of("web", 1, "nginx:1", res(1, 1))), 0,
            null),
        new Case("image: node holds the reference", new ImageLocalityScorer(1), List.of(warm),
            List.of(), binpack, 0, 1.0),
        new Case("image: node holds the digest", new ImageLocalityScorer(1), List.of(warm),
            List.of(), byDigest, 0, 1.0),
        new Case("image: cold node", new ImageLocalityScorer(1), half, List.of(), binpack, 0,
            0.0),
        new Case("affinity: +50 met, -50 not", new AffinityScorer(1), affinityNodes, List.of(),
            affine, 0, 0.5),
        new Case("affinity: both met cancel out", new AffinityScorer(1), affinityNodes,
            List.of(), affine, 1, 0.0),
        new Case("affinity: only the negative met", new AffinityScorer(1), affinityNodes,
            List.of(), affine, 2, -0.5),
        new Case("affinity: none declared, no score", new AffinityScorer(1), affinityNodes,
            List.of(), binpack, 0, null));
  }

  private static TaskGroup withSpread(TaskGroup g, Spread s) {
    return new TaskGroup(g.name(), g.count(), g.image(), g.command(), g.env(), g.resources(),
        g.ports(), g.volumes(), g.constraints(), List.of(s), g.affinities(), g.distinctHosts());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void score(Case c) {
    ClusterSnapshot snap = new ClusterSnapshot(1, c.nodes(), c.running());
    GroupContext g = context(snap, c.job(), c.job().groups().get(0));
    Scorer.NodeScore s = c.scorer().prepare(g);
    if (c.expected() == null) {
      assertNull(s, c.name());
    } else {
      assertEquals(c.expected(), s.score(c.node()), 1e-9, c.name());
    }
  }
}
