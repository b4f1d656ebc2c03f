package dev.berth.ctl;

import static dev.berth.ctl.FakeJobService.allocation;
import static dev.berth.ctl.FakeJobService.group;
import static dev.berth.ctl.FakeJobService.job;
import static dev.berth.proto.v1.AllocationState.ALLOCATION_COMPLETE;
import static dev.berth.proto.v1.AllocationState.ALLOCATION_FAILED;
import static dev.berth.proto.v1.AllocationState.ALLOCATION_PENDING;
import static dev.berth.proto.v1.AllocationState.ALLOCATION_RUNNING;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.proto.v1.JobStatus;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The monitor loop on a fake clock: what counts as converged, failed or timed out, and what is retried. */
@Timeout(10)
class JobMonitorTest {
  /** Time moves only when the monitor sleeps. */
  private long now;
  private final List<Long> sleeps = new ArrayList<>();
  private final List<Duration> deadlines = new ArrayList<>();
  /** What each poll answers: a JobStatus or a StatusRuntimeException; the last one for good. */
  private final Deque<Object> script = new ArrayDeque<>();
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  private final JobMonitor.Ticker ticker = new JobMonitor.Ticker() {
    @Override
    public long nanoTime() {
      return now;
    }

    @Override
    public void sleep(long nanos) {
      sleeps.add(nanos);
      now += nanos;
    }
  };

  private int watch(long version, boolean newVersion, String timeout) throws InterruptedException {
    JobMonitor m = new JobMonitor(remaining -> {
      deadlines.add(remaining);
      Object next = script.size() > 1 ? script.poll() : script.peek();
      if (next instanceof StatusRuntimeException e) {
        throw e;
      }
      return (JobStatus) next;
    }, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8),
        ticker, JobMonitor.INTERVAL);
    return m.watch("web", version, newVersion, JobMonitor.parseDuration(timeout), timeout);
  }

  private String out() {
    return out.toString(StandardCharsets.UTF_8);
  }

  private String err() {
    return err.toString(StandardCharsets.UTF_8);
  }

  private static final long MS = 1_000_000L;

  @Test
  void unavailableAndNotFoundAreRetriedEveryInterval() throws Exception {
    script.add(Status.UNAVAILABLE.withDescription("the cluster is still starting").asRuntimeException());
    script.add(Status.NOT_FOUND.withDescription("job \"web\" not found").asRuntimeException());
    script.add(job(3, group("web", 1, 0, 1, ""), allocation("a0", 0, "n1", ALLOCATION_RUNNING, 3)).build());
    assertEquals(0, watch(3, true, "60s"));
    assertEquals(List.of(200 * MS, 200 * MS), sleeps);
    assertEquals("web[0] on n1: running\nJob \"web\" version 3: web 1/1 running\n", out());
    // each call may take what is left of the timeout, no more
    assertEquals(List.of(Duration.ofSeconds(60), Duration.ofMillis(59_800), Duration.ofMillis(59_600)), deadlines);
  }

  @Test
  void aStatusThatNeverComesEndsWithTheLastFailureAtTheTimeout() {
    script.add(Status.UNAVAILABLE.withDescription("the cluster is still starting").asRuntimeException());
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> watch(3, true, "1s"));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    assertEquals(6, deadlines.size(), "polled at 0, 200, ..., 1000 ms");
    assertEquals(1000 * MS, now);
  }

  @Test
  void otherFailuresAreNotRetried() {
    script.add(Status.PERMISSION_DENIED.withDescription("no").asRuntimeException());
    assertThrows(StatusRuntimeException.class, () -> watch(3, true, "60s"));
    assertEquals(1, deadlines.size());
  }

  @Test
  void theLastSleepStopsAtTheDeadline() throws Exception {
    script.add(job(3, group("web", 1, 1, 0, "")).build());
    assertEquals(1, watch(3, true, "500ms"));
    assertEquals(List.of(200 * MS, 200 * MS, 100 * MS), sleeps);
    assertEquals("Not converged after 500ms:\nweb: 0 of 1 running\n  pending: 1 waiting for a node\n", out());
    assertEquals("Error: job \"web\" did not converge within 500ms\n", err());
  }

  @Test
  void aStatusOfAnEarlierVersionIsNotTheSubmittedOne() throws Exception {
    script.add(job(2, group("web", 1, 0, 1, ""), allocation("a0", 0, "n1", ALLOCATION_RUNNING, 2)).build());
    script.add(job(3, group("web", 1, 0, 1, ""), allocation("a0", 0, "n1", ALLOCATION_RUNNING, 3)).build());
    assertEquals(0, watch(3, false, "60s"));
    assertEquals(1, sleeps.size());
  }

  @Test
  void anUnchangedJobCountsTheReplicasOfEarlierVersions() throws Exception {
    // after a scale the job's version moved on; its running allocations keep theirs
    script.add(job(3, group("web", 2, 0, 2, ""),
        allocation("a0", 0, "n1", ALLOCATION_RUNNING, 1), allocation("a1", 1, "n2", ALLOCATION_RUNNING, 2)).build());
    assertEquals(0, watch(3, false, "60s"));
    assertEquals(0, sleeps.size());
  }

  @Test
  void aBatchJobIsDoneWhenEveryReplicaIsComplete() throws Exception {
    script.add(job(1, group("web", 1, 0, 1, ""), allocation("a0", 0, "n1", ALLOCATION_RUNNING, 1)).setType("batch").build());
    script.add(job(1, group("web", 1, 0, 0, ""), allocation("a0", 0, "n1", ALLOCATION_COMPLETE, 1).setDesiredRunning(false))
        .setType("batch").build());
    assertEquals(0, watch(1, true, "60s"));
    assertTrue(out().endsWith("web[0] on n1: complete\nJob \"web\" version 1: web 1/1 complete\n"), out());
  }

  @Test
  void aSystemJobHasOneReplicaPerNode() throws Exception {
    script.add(job(1, group("web", 2, 0, 1, ""),
        allocation("a0", 0, "n1", ALLOCATION_RUNNING, 1), allocation("a1", 0, "n2", ALLOCATION_PENDING, 1)).setType("system").build());
    script.add(job(1, group("web", 2, 0, 2, ""),
        allocation("a0", 0, "n1", ALLOCATION_RUNNING, 1), allocation("a1", 0, "n2", ALLOCATION_RUNNING, 1)).setType("system").build());
    assertEquals(0, watch(1, true, "60s"));
    assertEquals(1, sleeps.size());
  }

  @Test
  void aFailedReplicaAlreadyReplacedDoesNotFailTheJob() throws Exception {
    script.add(job(3, group("web", 1, 0, 0, ""),
        allocation("a0", 0, "n1", ALLOCATION_FAILED, 3).setDesiredRunning(false).setMessage("exit code 1"),
        allocation("b0", 0, "n2", ALLOCATION_PENDING, 3).setGeneration(2)).build());
    script.add(job(3, group("web", 1, 0, 1, ""),
        allocation("a0", 0, "n1", ALLOCATION_FAILED, 3).setDesiredRunning(false).setMessage("exit code 1"),
        allocation("b0", 0, "n2", ALLOCATION_RUNNING, 3).setGeneration(2)).build());
    assertEquals(0, watch(3, true, "60s"), err());
  }

  @Test
  void aFailedReplicaNotReplacedFailsTheJob() throws Exception {
    script.add(job(3, group("web", 1, 0, 0, ""),
        allocation("a0", 0, "n1", ALLOCATION_FAILED, 3).setDesiredRunning(false).setMessage("exit code 1")).build());
    assertEquals(1, watch(3, true, "60s"));
    assertEquals("Error: job \"web\": web[0] on n1 failed: exit code 1\n", err());
  }

  @Test
  void aStoppedJobEndsTheWatch() throws Exception {
    script.add(job(3, group("web", 0, 0, 0, "")).setStopped(true).build());
    assertEquals(1, watch(3, true, "60s"));
    assertEquals("Error: job \"web\" was stopped\n", err());
  }

  @Test
  void pendingAllocationsAreListedAtTheTimeout() throws Exception {
    script.add(job(3, group("web", 2, 0, 1, ""),
        allocation("a0", 0, "n1", ALLOCATION_RUNNING, 3),
        allocation("a1", 1, "n2", ALLOCATION_PENDING, 3).setMessage("pulling nginx")).build());
    assertEquals(1, watch(3, true, "1s"));
    assertTrue(out().endsWith("Not converged after 1s:\nweb: 1 of 2 running\n  web[1] on n2: pending: pulling nginx\n"), out());
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({
      "60s, 60000",
      "90, 90000",
      "1m30s, 90000",
      "500ms, 500",
      "1.5s, 1500",
      "2h, 7200000",
  })
  void durationsAreReadAsGoWritesThem(String text, long millis) {
    assertEquals(Duration.ofMillis(millis), JobMonitor.parseDuration(text));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "0", "0s", "-1s", "s", "10x", "1m 30s", "1.s"})
  void badDurationsAreRefused(String text) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> JobMonitor.parseDuration(text));
    assertTrue(e.getMessage().startsWith("invalid duration \"" + text + "\""), e.getMessage());
  }
}
