package dev.berth.agent.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import dev.berth.proto.v1.StoredJob;
import dev.berth.proto.v1.StoredJobVersion;
import dev.berth.scheduler.Scheduler;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A job's kept versions and going back to one, over the in-memory store: what is kept (and how
 * many), what each version's rollout came to, and which version a rollback picks or refuses.
 */
class JobHistoryTest {
  private final FakeNodes nodes = new FakeNodes().node("a", 2, 4096).node("b", 2, 4096);
  private final Clock clock = Clock.fixed(Instant.parse("2026-11-27T12:00:00Z"), ZoneOffset.UTC);
  private final SchedulingLoop loop = new SchedulingLoop(nodes.jobs, nodes.view(), null, new Scheduler(), clock,
      Duration.ofSeconds(1), SchedulingLoop.Listener.NONE);
  private final Jobs jobs = new Jobs(nodes.jobs, nodes.view(), new Scheduler(), clock, () -> { });

  private static String web(String image, int count) {
    return "name: web\ngroups:\n  - name: web\n    count: " + count + "\n    image: " + image + "\n"
        + "    resources: {cpu: 100m, memory: 64m}\n"
        + "update: {min_healthy_time: 1s, healthy_deadline: 60s}\n";
  }

  /** Runs the loop until the job's current version rolled out (every node reporting healthy). */
  private void rollOut() {
    for (int i = 0; i < 6; i++) {
      loop.round(true);
      nodes.nodesReport(true);
    }
    loop.round(true);
  }

  @Test
  void everyVersionIsKeptWithItsRolloutUpToTheLimit() {
    jobs.submit("web.yaml", web("busybox", 1), List.of());
    rollOut();
    jobs.submit("web.yaml", web("busybox:1.36", 1), List.of());
    jobs.scale("web", "", 2);
    List<Jobs.Version> h = jobs.history("web");
    assertEquals(List.of(3L, 2L, 1L), h.stream().map(v -> v.version().getVersion()).toList());
    assertTrue(h.get(0).current() && !h.get(1).current());
    assertTrue(h.get(2).version().getStable(), "version 1 rolled out");
    assertEquals(Deployments.SUCCESSFUL, h.get(2).version().getDeployment());
    assertFalse(h.get(1).version().getStable());
    assertEquals("image web: busybox \u2192 busybox:1.36", h.get(1).changes());
    assertEquals("count web: 1 \u2192 2", h.get(0).changes());
    assertEquals("first kept version", h.get(2).changes());
    assertEquals(web("busybox", 1), h.get(2).version().getText());

    for (int i = 0; i < 10; i++) {
      jobs.submit("web.yaml", web("busybox:" + i, 1), List.of());
    }
    StoredJob stored = nodes.jobs.job("web").orElseThrow();
    assertEquals(JobStore.HISTORY, stored.getHistoryCount(), "older versions are dropped");
    assertEquals(13, stored.getHistory(JobStore.HISTORY - 1).getVersion());
    assertEquals(8, stored.getHistory(0).getVersion());
  }

  @Test
  void rollbackGoesBackToTheLatestStableVersionAsANewVersion() {
    jobs.submit("web.yaml", web("busybox", 1), List.of());
    BerthException none = assertThrows(BerthException.class, () -> jobs.rollback("web", 0));
    assertEquals(BerthException.Kind.FAILED_PRECONDITION, none.kind());
    assertEquals("job web has no stable version older than its current version 1 to roll back to"
        + " (versions kept: 1); name one with --version", none.getMessage());
    rollOut();
    jobs.submit("web.yaml", web("busybox:1.36", 1), List.of());
    rollOut();
    jobs.submit("web.yaml", web("busybox:broken", 1), List.of());

    Jobs.RolledBack s = jobs.rollback("web", 0);
    assertEquals(4, s.version());
    assertEquals(2, s.to());
    StoredJob after = nodes.jobs.job("web").orElseThrow();
    assertEquals(web("busybox:1.36", 1), after.getText(), "the latest stable one, version 2");
    assertEquals("rolled back to version 2", after.getDeploymentMessage());
    assertEquals(Deployments.RUNNING, after.getDeployment());
    assertEquals(Evaluations.PENDING, nodes.jobs.evaluation("web").orElseThrow().evaluation().getStatus());
    List<StoredJobVersion> kept = after.getHistoryList();
    assertEquals(4, kept.get(kept.size() - 1).getVersion());

    // A named version, also one that never rolled out.
    assertEquals(5, jobs.rollback("web", 1).version());
    assertEquals(web("busybox", 1), nodes.jobs.job("web").orElseThrow().getText());
    assertEquals(BerthException.Kind.NOT_FOUND, assertThrows(BerthException.class, () -> jobs.rollback("web", 42))
        .kind());
    BerthException same = assertThrows(BerthException.class, () -> jobs.rollback("web", 5));
    assertEquals("job web: version 5 is the current version; nothing to roll back to", same.getMessage());
    assertEquals(BerthException.Kind.NOT_FOUND, assertThrows(BerthException.class, () -> jobs.rollback("nope", 0))
        .kind());
  }

  @Test
  void theHistoryRecordsAFailedRolloutAndTheRevertThatFollowed() {
    String revert = "update: {min_healthy_time: 1s, healthy_deadline: 60s, auto_revert: true}\n";
    jobs.submit("web.yaml", web("busybox", 1).replace("update: {min_healthy_time: 1s, healthy_deadline: 60s}\n",
        revert), List.of());
    rollOut();
    jobs.submit("web.yaml", web("busybox:broken", 1).replace("update: {min_healthy_time: 1s, healthy_deadline: 60s}\n",
        revert), List.of());
    loop.round(true);
    for (String node : List.of("a", "b")) {
      nodes.jobs.updateNode(node, list -> list.stream().map(a -> a.getJobVersion() == 2
          ? a.toBuilder().setState(dev.berth.proto.v1.AllocationState.ALLOCATION_FAILED_VALUE)
              .setMessage("exited with code 1").build() : a).toList());
    }
    loop.round(true);
    List<Jobs.Version> h = jobs.history("web");
    assertEquals(List.of(3L, 2L, 1L), h.stream().map(v -> v.version().getVersion()).toList());
    assertEquals(Deployments.FAILED, h.get(1).version().getDeployment());
    assertTrue(h.get(1).version().getDeploymentMessage().contains("failed on"), h.get(1).version().toString());
    assertEquals("image web: busybox:broken \u2192 busybox", h.get(0).changes());
  }
}
