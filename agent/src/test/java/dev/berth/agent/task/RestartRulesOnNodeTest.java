package dev.berth.agent.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.runtime.CreateRequest;
import dev.berth.proto.v1.StoredAllocation;
import dev.berth.scheduler.jobfile.JobFileParser;
import dev.berth.scheduler.model.Job;
import dev.berth.scheduler.model.RestartRules;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A group's restart block on its node: how restarts within the interval are counted and what the
 * mode makes of one too many, the restart policy and backoff base its containers are created
 * with, and the type's defaults when a group has no block.
 */
class RestartRulesOnNodeTest {
  private static final long S = 1_000_000_000L;

  /**
   * Restart counts as the runtime reports them at the given seconds, and the verdict after the
   * last: "3@20" is a restart count of 3 seen at 20 s.
   */
  static Stream<Arguments> windows() {
    RestartRules fail2in60 = new RestartRules(2, Duration.ofSeconds(60), null, RestartRules.Mode.FAIL);
    RestartRules delay2in60 = new RestartRules(2, Duration.ofSeconds(60), null, RestartRules.Mode.DELAY);
    return Stream.of(
        Arguments.of("attempts within the interval are the node's to make", fail2in60,
            List.of("0@0", "1@10", "2@20"), 2, false, 0L),
        Arguments.of("one more and fail mode gives up", fail2in60,
            List.of("0@0", "1@10", "2@20", "3@30"), 3, true, 0L),
        Arguments.of("restarts older than the interval do not count", fail2in60,
            List.of("0@0", "1@10", "2@20", "3@80"), 2, false, 0L),
        Arguments.of("several restarts seen at once count each", fail2in60,
            List.of("0@0", "3@5"), 3, true, 0L),
        Arguments.of("delay mode waits until the interval since the first counted restart passed", delay2in60,
            List.of("0@0", "1@10", "2@20", "3@30"), 3, false, 70L),
        Arguments.of("zero attempts: the first restart is one too many", new RestartRules(0, Duration.ofSeconds(60),
            null, RestartRules.Mode.FAIL), List.of("0@0", "1@1"), 1, true, 0L),
        Arguments.of("the first count seen is the baseline, not restarts here", fail2in60,
            List.of("5@0", "6@10"), 1, false, 0L));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("windows")
  void restartsAreCountedWithinTheInterval(String name, RestartRules rules, List<String> seen, int restarts,
      boolean failed, long pauseUntilSeconds) {
    RestartWindow w = new RestartWindow(rules);
    RestartWindow.Verdict v = null;
    for (String s : seen) {
      String[] p = s.split("@");
      v = w.observe(Integer.parseInt(p[0]), Long.parseLong(p[1]) * S);
    }
    assertEquals(restarts, v.restarts(), name);
    assertEquals(failed, v.failed(), name);
    assertEquals(pauseUntilSeconds * S, v.pauseUntilNanos(), name);
  }

  @Test
  void afterTheDelayTheAttemptsStartOver() {
    RestartWindow w = new RestartWindow(new RestartRules(1, Duration.ofSeconds(60), null, RestartRules.Mode.DELAY));
    w.observe(0, 0);
    w.observe(1, 10 * S);
    assertTrue(w.observe(2, 20 * S).paused());
    w.reset();
    // Started again by hand: the runtime's count starts over.
    assertFalse(w.observe(0, 71 * S).paused());
    assertFalse(w.observe(1, 75 * S).paused());
    assertTrue(w.observe(2, 76 * S).paused());
  }

  static Job job(String type, String restart) {
    return JobFileParser.parse("j.yaml", "name: j\ntype: " + type + "\ngroups:\n  - name: g\n    image: busybox\n"
        + (restart.isEmpty() ? "" : "    restart: " + restart + "\n")).job();
  }

  /** Job type, restart block, and the container's restart policy, retries and backoff label. */
  static Stream<Arguments> policies() {
    return Stream.of(
        Arguments.of("service", "", "always", 0, null),
        Arguments.of("service", "{attempts: 5, delay: 3s}", "always", 0, "3000"),
        Arguments.of("service", "{attempts: 0}", "no", 0, null),
        Arguments.of("service", "{attempts: 0, mode: delay}", "always", 0, null),
        Arguments.of("batch", "", "on-failure", 3, null),
        Arguments.of("batch", "{attempts: 1, delay: 250ms}", "on-failure", 1, "250"),
        Arguments.of("batch", "{mode: delay}", "on-failure", 0, null),
        Arguments.of("batch", "{attempts: 0}", "no", 0, null));
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("policies")
  void containersAreCreatedWithTheBlocksPolicyAndDelay(String type, String restart, String policy, int retries,
      String delayLabel) {
    Job job = job(type, restart);
    StoredAllocation a = StoredAllocation.newBuilder().setId("alloc-0123456789").setJob("j").setGroup("g")
        .setNode("n1").setJobVersion(1).build();
    AllocationRunner runner = new AllocationRunner("n1", null, null, null, null, () -> true, Clock.systemUTC(),
        Duration.ofSeconds(1));
    try {
      CreateRequest r = runner.request(a, job, job.groups().get(0));
      assertEquals(policy, r.restartPolicy());
      assertEquals(retries, r.restartMaxRetries());
      assertEquals(delayLabel, r.labels().get(Supervisor.LABEL_RESTART_DELAY));
    } finally {
      runner.close();
    }
  }

  @Test
  void theTypesDefaultsAreThoseTheNodeUsedBefore() {
    assertEquals(new RestartRules(2, Duration.ofMinutes(30), null, RestartRules.Mode.FAIL),
        AllocationRunner.rules(job("service", "").type(), job("service", "").groups().get(0)));
    assertEquals(AllocationRunner.SERVICE_RESTARTS, RestartRules.SERVICE_DEFAULT.attempts());
    assertEquals(RestartRules.BATCH_DEFAULT, AllocationRunner.rules(job("batch", "").type(), null));
  }

  @Test
  void aContainersDelayLabelSetsItsBackoffBase() {
    Backoff.Settings node = new Backoff.Settings(Duration.ofMillis(100), Duration.ofSeconds(60), Duration.ofSeconds(10));
    assertEquals(node, Supervisor.settings(node, Map.of()));
    assertEquals(new Backoff.Settings(Duration.ofSeconds(5), Duration.ofSeconds(60), Duration.ofSeconds(10)),
        Supervisor.settings(node, Map.of(Supervisor.LABEL_RESTART_DELAY, "5000")));
    assertEquals(new Backoff.Settings(Duration.ofMinutes(2), Duration.ofMinutes(2), Duration.ofSeconds(10)),
        Supervisor.settings(node, Map.of(Supervisor.LABEL_RESTART_DELAY, "120000")), "the cap rises to the base");
    assertEquals(node, Supervisor.settings(node, Map.of(Supervisor.LABEL_RESTART_DELAY, "soon")));
    assertEquals(node, Supervisor.settings(node, Map.of(Supervisor.LABEL_RESTART_DELAY, "0")));
  }
}
