package dev.berth.agent.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.proto.v1.AllocationState;
import dev.berth.proto.v1.StoredAllocation;
import dev.berth.scheduler.jobfile.JobFileParser;
import dev.berth.scheduler.model.Job;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * What moves when: the pace of rolling updates and drains, the order (drain first, system jobs
 * last), the deadline, and which failed allocations wait for their reschedule. Each case is a job,
 * its allocations written in a small notation, the draining nodes, and what must be replaced.
 */
class ReplacementsTest {
  private static final long NOW = 1_000_000;

  static Job job(String type, int count, int maxParallel, String image) {
    return JobFileParser.parse("j.yaml", "name: j\ntype: " + type + "\ngroups:\n  - name: g\n"
        + (type.equals("system") ? "" : "    count: " + count + "\n") + "    image: " + image + "\n"
        + "update: {max_parallel: " + maxParallel + ", min_healthy_time: 1s, healthy_deadline: 60s}\n"
        + "reschedule: {delay: 10s, delay_function: constant, unlimited: true}\n").job();
  }

  static String spec(Job j) {
    return JobCodec.spec(j.groups().get(0));
  }

  /**
   * One allocation: "INDEX@NODE:STATE/FLAGS" with STATE run|pend|fail|stop|lost|done and FLAGS
   * h (healthy), o (of the old spec), x (desired stop), n (placed by this version).
   */
  static StoredAllocation a(String text, String currentSpec) {
    String[] at = text.split("[@:/]");
    int index = Integer.parseInt(at[0]);
    String node = at[1];
    String st = at[2];
    String flags = at.length > 3 ? at[3] : "";
    int s = switch (st) {
      case "run" -> AllocationState.ALLOCATION_RUNNING_VALUE;
      case "pend" -> AllocationState.ALLOCATION_PENDING_VALUE;
      case "fail" -> AllocationState.ALLOCATION_FAILED_VALUE;
      case "stop" -> AllocationState.ALLOCATION_STOPPED_VALUE;
      case "lost" -> AllocationState.ALLOCATION_LOST_VALUE;
      case "done" -> AllocationState.ALLOCATION_COMPLETE_VALUE;
      default -> throw new IllegalArgumentException(text);
    };
    return StoredAllocation.newBuilder().setId("a" + index + node + st).setJob("j").setGroup("g").setIndex(index)
        .setNode(node).setState(s).setSpec(flags.contains("o") ? "old" : currentSpec)
        .setHealthy(flags.contains("h")).setDesiredStop(flags.contains("x"))
        .setJobVersion(flags.contains("n") ? 2 : 1).setCreatedAtMillis(NOW - 5_000).setUpdatedAtMillis(NOW - 5_000)
        .build();
  }

  static Stream<Arguments> paces() {
    return Stream.of(
        Arguments.of("a rolling update replaces max_parallel at a time", "service", 3, 1,
            List.of("0@n1:run/ho", "1@n2:run/ho", "2@n3:run/ho"), Map.of(), Set.of("0")),
        Arguments.of("two at a time", "service", 3, 2,
            List.of("0@n1:run/ho", "1@n2:run/ho", "2@n3:run/ho"), Map.of(), Set.of("0", "1")),
        Arguments.of("and waits while a new one is not yet healthy", "service", 3, 1,
            List.of("0@n1:run/n", "1@n2:run/ho", "2@n3:run/ho"), Map.of(), Set.of()),
        Arguments.of("goes on once it is", "service", 3, 1,
            List.of("0@n1:run/hn", "1@n2:run/ho", "2@n3:run/ho"), Map.of(), Set.of("1")),
        Arguments.of("a replica with no allocation counts as in transition", "service", 3, 1,
            List.of("1@n2:run/ho", "2@n3:run/ho"), Map.of(), Set.of()),
        Arguments.of("nothing to do when all run the current spec", "service", 2, 1,
            List.of("0@n1:run/h", "1@n2:run/h"), Map.of(), Set.of()),
        Arguments.of("a drain goes first, at the same pace", "service", 3, 1,
            List.of("0@n1:run/ho", "1@n2:run/h", "2@n2:run/h"), Map.of("n2", 0L), Set.of("1")),
        Arguments.of("after the drain's deadline all at once", "service", 3, 1,
            List.of("0@n1:run/h", "1@n2:run/h", "2@n2:run/h"), Map.of("n2", NOW - 1), Set.of("1", "2")),
        Arguments.of("a deadline to come does not hurry it", "service", 3, 1,
            List.of("0@n1:run/h", "1@n2:run/h", "2@n2:run/h"), Map.of("n2", NOW + 60_000), Set.of("1")),
        Arguments.of("a system job stays on a draining node while others run there", "system", 0, 1,
            List.of("0@n1:run/h", "1@n2:run/h"), Map.of("n2", 0L), Set.of()),
        Arguments.of("and leaves it once the rest moved", "system", 0, 1,
            List.of("0@n1:run/h", "1@n3:run/h"), Map.of("n3", 0L), Set.of("1")),
        Arguments.of("or once the deadline passed", "system", 0, 1,
            List.of("0@n1:run/h", "1@n2:run/h"), Map.of("n2", NOW - 1), Set.of("1")),
        Arguments.of("a system job's update is paced across nodes", "system", 0, 1,
            List.of("0@n1:run/ho", "1@n2:run/ho", "2@n3:run/ho"), Map.of(), Set.of("0")),
        Arguments.of("a stopped allocation is no system replica", "system", 0, 1,
            List.of("0@n1:stop/h", "1@n2:run/ho"), Map.of(), Set.of("1")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("paces")
  void replacesAtItsPace(String name, String type, int count, int maxParallel, List<String> allocs,
      Map<String, Long> drains, Set<String> replacedIndices) {
    Job job = job(type, count, maxParallel, "busybox");
    List<StoredAllocation> stored = allocs.stream().map(t -> a(t, spec(job))).toList();
    // n2 holds a service of another job in the system cases ("while others run there").
    Set<String> othersLeft = new TreeSet<>(drains.keySet());
    othersLeft.remove("n3");
    Replacements.Decision d = Replacements.decide(job, 2, false, stored, drains, othersLeft, NOW);
    Set<String> got = new TreeSet<>();
    for (StoredAllocation a : stored) {
      if (d.replace().containsKey(a.getId())) {
        got.add(Integer.toString(a.getIndex()));
      }
    }
    assertEquals(new TreeSet<>(replacedIndices), got, name + ": " + d);
  }

  @Test
  void aHaltedRolloutReplacesNoOldAllocationButADrainGoesOn() {
    Job job = job("service", 3, 1, "busybox");
    List<StoredAllocation> stored = List.of(a("0@n1:run/ho", spec(job)), a("1@n2:run/ho", spec(job)),
        a("2@n3:run/h", spec(job)));
    assertTrue(Replacements.decide(job, 2, true, stored, Map.of(), Set.of(), NOW).replace().isEmpty());
    assertEquals(Set.of("a2n3run"), Replacements.decide(job, 2, true, stored, Map.of("n3", 0L), Set.of("n3"), NOW)
        .replace().keySet());
  }

  @Test
  void aFailedReplicaWaitsItsDelayAndFailsTheRolloutOfItsVersion() {
    Job job = job("service", 2, 1, "busybox");
    StoredAllocation failed = a("0@n1:fail/n", spec(job)).toBuilder().setMessage("exited with code 1")
        .setUpdatedAtMillis(NOW - 4_000).build();
    List<StoredAllocation> stored = List.of(failed, a("1@n2:run/h", spec(job)));
    Replacements.Decision d = Replacements.decide(job, 2, false, stored, Map.of(), Set.of(), NOW);
    assertEquals(Set.of(failed.getId()), d.held());
    assertTrue(d.notes().get(0).contains("g[0] failed on n1; rescheduled in 6 s"), d.notes().toString());
    assertEquals("g[0] failed on n1: exited with code 1", d.rollout().failure());
    // Once the delay passed it is not held any more.
    assertTrue(Replacements.decide(job, 2, false, stored, Map.of(), Set.of(), NOW + 6_000).held().isEmpty());
    // Of an older version: a reschedule, not this rollout's failure.
    StoredAllocation old = failed.toBuilder().setJobVersion(1).build();
    assertNull(Replacements.decide(job, 2, false, List.of(old, stored.get(1)), Map.of(), Set.of(), NOW).rollout()
        .failure());
  }

  @Test
  void aNewAllocationNotHealthyByItsDeadlineFailsTheRollout() {
    Job job = job("service", 1, 1, "busybox");
    StoredAllocation slow = a("0@n1:run/n", spec(job)).toBuilder().setCreatedAtMillis(NOW - 61_000).build();
    assertEquals("g[0] on n1 was not healthy within 60 s of its placement",
        Replacements.decide(job, 2, false, List.of(slow), Map.of(), Set.of(), NOW).rollout().failure());
    StoredAllocation healthy = slow.toBuilder().setHealthy(true).build();
    Replacements.Rollout r = Replacements.decide(job, 2, false, List.of(healthy), Map.of(), Set.of(), NOW).rollout();
    assertTrue(r.complete() && r.failure() == null, r.toString());
  }

  @Test
  void theRolloutIsCompleteOnlyWhenEveryReplicaRunsTheCurrentSpecHealthy() {
    Job job = job("service", 2, 1, "busybox");
    List<List<String>> incomplete = List.of(List.of("0@n1:run/h"), List.of("0@n1:run/h", "1@n2:run"),
        List.of("0@n1:run/h", "1@n2:run/ho"), List.of("0@n1:run/h", "1@n2:fail"));
    for (List<String> allocs : incomplete) {
      List<StoredAllocation> stored = new ArrayList<>();
      allocs.forEach(t -> stored.add(a(t, spec(job))));
      assertTrue(!Replacements.decide(job, 2, false, stored, Map.of(), Set.of(), NOW).rollout().complete(),
          allocs.toString());
    }
    assertTrue(Replacements.decide(job, 2, false, List.of(a("0@n1:run/h", spec(job)), a("1@n2:run/h", spec(job))),
        Map.of(), Set.of(), NOW).rollout().complete());
  }

  static Job startFirst(int count, int maxParallel) {
    return JobFileParser.parse("j.yaml", "name: j\ngroups:\n  - name: g\n    count: " + count + "\n"
        + "    image: busybox\nupdate: {max_parallel: " + maxParallel + ", min_healthy_time: 1s,"
        + " healthy_deadline: 60s, order: start-first}\n").job();
  }

  /** "gen:INDEX@NODE:STATE/FLAGS" with a generation in front; without one, generation 0. */
  static StoredAllocation g(String text, String currentSpec) {
    int colon = text.indexOf(':');
    boolean hasGen = colon > 0 && text.substring(0, colon).indexOf('@') < 0;
    long gen = hasGen ? Long.parseLong(text.substring(0, colon)) : 0;
    StoredAllocation a = a(hasGen ? text.substring(colon + 1) : text, currentSpec);
    return a.toBuilder().setGeneration(gen).setId(a.getId() + "g" + gen).build();
  }

  /**
   * Start-first: which old copies are replaced (and placed first), kept beside their new copy, or
   * retired, by replica index ("0" for index 0's allocation of generation 0).
   */
  static Stream<Arguments> startFirstCases() {
    return Stream.of(
        Arguments.of("an update replaces max_parallel old copies, start-first", 3, 1,
            List.of("0@n1:run/ho", "1@n2:run/ho", "2@n3:run/ho"), Map.of(),
            Set.of("0/0"), Set.of("0/0"), Set.of(), Set.of()),
        Arguments.of("the old copy is kept while its new one is pending", 3, 1,
            List.of("0@n1:run/ho", "1:0@n4:pend/n", "1@n2:run/ho", "2@n3:run/ho"), Map.of(),
            Set.of(), Set.of(), Set.of("0/0"), Set.of()),
        Arguments.of("or runs and is not healthy yet", 3, 1,
            List.of("0@n1:run/ho", "1:0@n4:run/n", "1@n2:run/ho", "2@n3:run/ho"), Map.of(),
            Set.of(), Set.of(), Set.of("0/0"), Set.of()),
        Arguments.of("or failed: the old copy serves while the replica is placed again", 3, 1,
            List.of("0@n1:run/ho", "1:0@n4:fail/n", "1@n2:run/ho", "2@n3:run/ho"), Map.of(),
            Set.of(), Set.of(), Set.of("0/0"), Set.of()),
        Arguments.of("it is retired once the new one runs healthy, and the next goes", 3, 1,
            List.of("0@n1:run/ho", "1:0@n4:run/hn", "1@n2:run/ho", "2@n3:run/ho"), Map.of(),
            Set.of("1/0"), Set.of("1/0"), Set.of(), Set.of("0/0")),
        Arguments.of("a scaled-down index's old copy is the engine's to stop", 1, 1,
            List.of("0@n1:run/h", "1@n2:run/ho", "1:1@n4:run/n"), Map.of(),
            Set.of(), Set.of(), Set.of(), Set.of()),
        Arguments.of("a drain stays stop-first", 2, 1,
            List.of("0@n1:run/h", "1@n2:run/h"), Map.of("n2", 0L),
            Set.of("1/0"), Set.of(), Set.of(), Set.of()));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("startFirstCases")
  void startFirstPlacesTheNewCopyBeforeTheOldOneGoes(String name, int count, int maxParallel, List<String> allocs,
      Map<String, Long> drains, Set<String> replaced, Set<String> first, Set<String> kept, Set<String> retired) {
    Job job = startFirst(count, maxParallel);
    List<StoredAllocation> stored = allocs.stream().map(t -> g(t, spec(job))).toList();
    Replacements.Decision d = Replacements.decide(job, 2, false, stored, drains, Set.of(), NOW);
    assertEquals(new TreeSet<>(replaced), replicas(stored, d.replace().keySet()), name + ": " + d);
    assertEquals(new TreeSet<>(first), replicas(stored, d.startFirst()), name + ": " + d);
    assertEquals(new TreeSet<>(kept), replicas(stored, d.keep()), name + ": " + d);
    assertEquals(new TreeSet<>(retired), replicas(stored, d.retire().keySet()), name + ": " + d);
  }

  @Test
  void stopFirstKeepsNoOldCopy() {
    Job job = job("service", 2, 1, "busybox");
    List<StoredAllocation> stored = List.of(g("0@n1:run/ho", spec(job)), g("1:0@n4:run/n", spec(job)),
        g("1@n2:run/ho", spec(job)));
    Replacements.Decision d = Replacements.decide(job, 2, false, stored, Map.of(), Set.of(), NOW);
    assertTrue(d.keep().isEmpty() && d.retire().isEmpty() && d.startFirst().isEmpty(), d.toString());
  }

  private static Set<String> replicas(List<StoredAllocation> stored, Set<String> ids) {
    Set<String> out = new TreeSet<>();
    for (StoredAllocation a : stored) {
      if (ids.contains(a.getId())) {
        out.add(a.getIndex() + "/" + a.getGeneration());
      }
    }
    return out;
  }
}
