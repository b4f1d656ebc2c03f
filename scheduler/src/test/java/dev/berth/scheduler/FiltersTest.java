package dev.berth.scheduler;

import static dev.berth.scheduler.Fixtures.alloc;
import static dev.berth.scheduler.Fixtures.context;
import static dev.berth.scheduler.Fixtures.node;
import static dev.berth.scheduler.Fixtures.res;
import static dev.berth.scheduler.Fixtures.snapshot;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.scheduler.filter.ConstraintFilter;
import dev.berth.scheduler.filter.DistinctHostsFilter;
import dev.berth.scheduler.filter.PortsFilter;
import dev.berth.scheduler.filter.ReadyFilter;
import dev.berth.scheduler.filter.ResourcesFilter;
import dev.berth.scheduler.filter.VolumesFilter;
import dev.berth.scheduler.model.Allocation;
import dev.berth.scheduler.model.AllocationStatus;
import dev.berth.scheduler.model.ClusterSnapshot;
import dev.berth.scheduler.model.Constraint;
import dev.berth.scheduler.model.Job;
import dev.berth.scheduler.model.JobType;
import dev.berth.scheduler.model.Node;
import dev.berth.scheduler.model.Operator;
import dev.berth.scheduler.model.PortMapping;
import dev.berth.scheduler.model.PortRequest;
import dev.berth.scheduler.model.TaskGroup;
import dev.berth.scheduler.model.VolumeMount;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Every feasibility filter, as a table: a node, a task group, and the verdict. */
class FiltersTest {

  private static final TaskGroup WEB = TaskGroup.of("web", 2, "nginx:1", res(500, 512));

  /**
   * One case: the filter, the node, what already runs there, the group, and null when the node
   * passes or a fragment of the reason when it is rejected.
   */
  record Case(String name, FeasibilityFilter filter, Node node, List<Allocation> running,
      TaskGroup group, String rejection) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Stream<Case> cases() {
    Node plain = node("n1", 2000, 1024);
    TaskGroup fixed = new TaskGroup("web", 2, "nginx:1", List.of(), Map.of(), res(100, 64),
        List.of(new PortRequest("http", 8080, 80)), List.of(), List.of(), List.of(), List.of(),
        false);
    TaskGroup dynamic = new TaskGroup("web", 2, "nginx:1", List.of(), Map.of(), res(100, 64),
        List.of(new PortRequest("http", 0, 80)), List.of(), List.of(), List.of(), List.of(),
        false);
    TaskGroup distinct = new TaskGroup("web", 2, "nginx:1", List.of(), Map.of(), res(100, 64),
        List.of(), List.of(), List.of(), List.of(), List.of(), true);
    TaskGroup withVolume = new TaskGroup("db", 1, "pg:16", List.of(), Map.of(), res(100, 64),
        List.of(), List.of(new VolumeMount("pgdata", "/var/lib/pg", false)), List.of(), List.of(),
        List.of(), false);
    Node kernel5 = node("k5", Map.of("zone", "a"), Map.of("kernel.version", "5.4.0-150-generic",
        "os", "linux"));
    Node kernel6 = node("k6", Map.of("zone", "b"), Map.of("kernel.version", "6.1.0-21-amd64",
        "os", "linux"));
    return Stream.of(
        new Case("ready: a ready eligible node passes", new ReadyFilter(), plain, List.of(), WEB,
            null),
        new Case("ready: not ready", new ReadyFilter(), plain.withReady(false), List.of(), WEB,
            "not ready"),
        new Case("ready: ineligible", new ReadyFilter(), Fixtures.ineligible(plain), List.of(),
            WEB, "ineligible"),
        new Case("ready: draining", new ReadyFilter(), plain.withDraining(true), List.of(), WEB,
            "draining"),
        new Case("resources: fits an empty node", new ResourcesFilter(), plain, List.of(), WEB,
            null),
        new Case("resources: memory short, with numbers", new ResourcesFilter(), plain,
            List.of(alloc("a1", "other", "x", 0, "n1", res(100, 824), AllocationStatus.RUNNING)),
            WEB, "memory 512 MiB needed, 200 MiB free"),
        new Case("resources: cpu short", new ResourcesFilter(), plain,
            List.of(alloc("a1", "other", "x", 0, "n1", res(1800, 10), AllocationStatus.RUNNING)),
            WEB, "cpu 500m needed, 200m free"),
        new Case("resources: a completed allocation holds nothing", new ResourcesFilter(), plain,
            List.of(alloc("a1", "other", "x", 0, "n1", res(2000, 1024),
                AllocationStatus.COMPLETE)), WEB, null),
        new Case("ports: fixed port free", new PortsFilter(), plain, List.of(), fixed, null),
        new Case("ports: fixed port taken", new PortsFilter(), plain,
            List.of(alloc("a1", "other", "x", 0, "n1", res(1, 1), AllocationStatus.RUNNING,
                new PortMapping("p", 8080, 80, false))), fixed, "host port 8080 already in use"),
        new Case("ports: dynamic ports fit beside many", new PortsFilter(), plain,
            List.of(alloc("a1", "other", "x", 0, "n1", res(1, 1), AllocationStatus.RUNNING,
                new PortMapping("p", 20000, 80, true))), dynamic, null),
        new Case("ports: no ports asked, nothing checked", new PortsFilter(), plain, List.of(),
            WEB, null),
        new Case("distinct_hosts: empty node", new DistinctHostsFilter(), plain, List.of(),
            distinct, null),
        new Case("distinct_hosts: node has a replica", new DistinctHostsFilter(), plain,
            List.of(alloc("a1", "job", "web", 0, "n1", res(1, 1), AllocationStatus.RUNNING)),
            distinct, "already runs a replica"),
        new Case("distinct_hosts: off, a replica there is fine", new DistinctHostsFilter(), plain,
            List.of(alloc("a1", "job", "web", 0, "n1", res(1, 1), AllocationStatus.RUNNING)),
            WEB, null),
        new Case("volumes: node holds the volume", new VolumesFilter(),
            Fixtures.withVolumes(plain, "pgdata"), List.of(), withVolume, null),
        new Case("volumes: node lacks it", new VolumesFilter(), plain, List.of(), withVolume,
            "host-local volume \"pgdata\" is not on this node"),
        new Case("constraints: == holds", new ConstraintFilter(), kernel5, List.of(),
            constrained("attr.os", Operator.EQ, "linux"), null),
        new Case("constraints: == fails", new ConstraintFilter(), kernel5, List.of(),
            constrained("label.zone", Operator.EQ, "b"), "label.zone == b not met (node has \"a\")"),
        new Case("constraints: != holds", new ConstraintFilter(), kernel5, List.of(),
            constrained("label.zone", Operator.NE, "b"), null),
        new Case("constraints: in holds", new ConstraintFilter(), kernel6, List.of(),
            constrained("label.zone", Operator.IN, "a, b"), null),
        new Case("constraints: in fails", new ConstraintFilter(), kernel6, List.of(),
            constrained("label.zone", Operator.IN, "a,c"), "not met"),
        new Case("constraints: not_in holds when absent", new ConstraintFilter(), kernel6,
            List.of(), constrained("label.rack", Operator.NOT_IN, "r1"), null),
        new Case("constraints: not_in fails", new ConstraintFilter(), kernel6, List.of(),
            constrained("label.zone", Operator.NOT_IN, "b"), "not met"),
        new Case("constraints: regexp holds", new ConstraintFilter(), kernel6, List.of(),
            constrained("attr.kernel.version", Operator.REGEXP, "amd64$"), null),
        new Case("constraints: regexp fails", new ConstraintFilter(), kernel5, List.of(),
            constrained("attr.kernel.version", Operator.REGEXP, "amd64$"), "not met"),
        new Case("constraints: version >= 5.10 holds on 6.1", new ConstraintFilter(), kernel6,
            List.of(), constrained("attr.kernel.version", Operator.VERSION, ">= 5.10"), null),
        new Case("constraints: version >= 5.10 fails on 5.4", new ConstraintFilter(), kernel5,
            List.of(), constrained("attr.kernel.version", Operator.VERSION, ">= 5.10"),
            "attr.kernel.version version >= 5.10 not met (node has \"5.4.0-150-generic\")"),
        new Case("constraints: version range", new ConstraintFilter(), kernel6, List.of(),
            constrained("attr.kernel.version", Operator.VERSION, ">= 5.10, < 6.2"), null),
        new Case("constraints: version of a missing attribute fails", new ConstraintFilter(),
            kernel6, List.of(), constrained("attr.glibc", Operator.VERSION, ">= 2"),
            "node has none"),
        new Case("constraints: is_set", new ConstraintFilter(), kernel6, List.of(),
            constrained("attr.os", Operator.IS_SET, ""), null),
        new Case("constraints: is_not_set fails", new ConstraintFilter(), kernel6, List.of(),
            constrained("attr.os", Operator.IS_NOT_SET, ""), "not met"),
        new Case("constraints: node.name", new ConstraintFilter(), kernel6, List.of(),
            constrained("node.name", Operator.EQ, "k6"), null));
  }

  private static TaskGroup constrained(String target, Operator op, String value) {
    return new TaskGroup("web", 1, "nginx:1", List.of(), Map.of(), res(100, 64), List.of(),
        List.of(), List.of(new Constraint(target, op, value)), List.of(), List.of(), false);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void filter(Case c) {
    ClusterSnapshot snap = snapshot(List.of(c.node()), c.running().toArray(new Allocation[0]));
    Job job = Job.of("job", JobType.SERVICE, c.group());
    GroupContext g = context(snap, job, c.group());
    FeasibilityFilter.Check check = c.filter().prepare(g);
    FeasibilityFilter.Rejection rejection = check == null ? null : check.reject(0);
    String reason = rejection == null ? null : rejection.reason();
    if (c.rejection() == null) {
      assertNull(reason, c.name());
    } else {
      assertTrue(reason != null && reason.contains(c.rejection()),
          c.name() + ": got " + reason);
    }
  }

  @ParameterizedTest(name = "{0} is static: {1}")
  @MethodSource("statics")
  void staticFilters(FeasibilityFilter f, boolean isStatic) {
    assertEquals(isStatic, f.isStatic());
  }

  static Stream<Arguments> statics() {
    return Stream.of(Arguments.of(new ReadyFilter(), true), Arguments.of(new VolumesFilter(), true),
        Arguments.of(new ConstraintFilter(), true), Arguments.of(new ResourcesFilter(), false),
        Arguments.of(new PortsFilter(), false), Arguments.of(new DistinctHostsFilter(), false));
  }
}
