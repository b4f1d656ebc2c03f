package dev.berth.ctl;

import dev.berth.proto.v1.AllocationInfo;
import dev.berth.proto.v1.AllocationState;
import dev.berth.proto.v1.GroupStatus;
import dev.berth.proto.v1.JobStatus;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.PrintStream;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.StringJoiner;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Follows a job after `job run` or `service create` until it has converged, as `nomad job run`
 * monitors its deployment: polls {@code Status}, prints one line per replica that changed
 * ("web[0] on n2: running (10.0.0.2:8080->80)"), and stops when every desired replica of every
 * group is running (complete, for a batch job), when a replica has failed, or at the timeout,
 * printing then what is still pending and why.
 *
 * <p>Which allocations count: after a submit that changed the job ({@code newVersion}), only
 * those placed for the submitted version or a later one, so that the old version's replicas,
 * still running during an update, do not make the new one look done. This relies on the agent
 * stamping {@code job_version} on every allocation it (re)places for a version. Of the
 * allocations of one replica (a group and index; a group and node for system jobs) the newest
 * generation stands for it; it counts while desired running, or once complete or failed.
 *
 * <p>Not thread-safe: one monitor per command run. Time and sleep come from a {@link Ticker}, so
 * tests run the loop without waiting.
 */
final class JobMonitor {
  /**
   * Between two polls: a human sees changes at once, and an agent serving a few CLIs at five
   * cheap reads a second each (Status reads the replicated state locally) does not notice.
   */
  static final Duration INTERVAL = Duration.ofMillis(200);

  /** Long enough for an image pull and a start on a healthy cluster; `--timeout` for longer. */
  static final String DEFAULT_TIMEOUT = "60s";

  /** The monotonic clock and the sleep of the loop. */
  interface Ticker {
    long nanoTime();

    void sleep(long nanos) throws InterruptedException;

    Ticker SYSTEM = new Ticker() {
      @Override
      public long nanoTime() {
        return System.nanoTime();
      }

      @Override
      public void sleep(long nanos) throws InterruptedException {
        Thread.sleep(nanos / 1_000_000, (int) (nanos % 1_000_000));
      }
    };
  }

  /** One Status call, answered within {@code remaining}. */
  interface Poll {
    JobStatus status(Duration remaining);
  }

  private final Poll poll;
  private final PrintStream out;
  private final PrintStream err;
  private final Ticker ticker;
  private final Duration interval;
  /** The last line printed per allocation id: a line is printed again only when it changes. */
  private final Map<String, String> shown = new HashMap<>();
  /** The last pending line printed per group. */
  private final Map<String, String> shownPending = new HashMap<>();

  JobMonitor(Poll poll, PrintStream out, PrintStream err, Ticker ticker, Duration interval) {
    this.poll = poll;
    this.out = out;
    this.err = err;
    this.ticker = ticker;
    this.interval = interval;
  }

  /**
   * Polls until the job named {@code job} has converged at {@code version} or later; returns the
   * exit code: 0 converged, 1 a replica failed, the job was stopped, or {@code timeout} passed
   * first. Status calls failing with UNAVAILABLE, NOT_FOUND (a follower not yet up to date) or
   * DEADLINE_EXCEEDED are retried until the timeout; if no call ever succeeded the last failure
   * is thrown, any other failure at once.
   *
   * @param newVersion the submit changed the job: count only allocations of {@code version} on
   * @param timeoutText the timeout as the user wrote it, for the messages
   */
  int watch(String job, long version, boolean newVersion, Duration timeout, String timeoutText) throws InterruptedException {
    long deadline = ticker.nanoTime() + timeout.toNanos();
    JobStatus last = null;
    StatusRuntimeException lastError = null;
    while (true) {
      long remaining = deadline - ticker.nanoTime();
      JobStatus s = null;
      try {
        s = poll.status(Duration.ofNanos(Math.max(remaining, 1_000_000)));
      } catch (StatusRuntimeException e) {
        if (!retryable(e.getStatus().getCode())) {
          throw e;
        }
        lastError = e;
      }
      if (s != null) {
        report(s, version, newVersion, last == null);
        last = s;
        out.flush();
        if (s.getVersion() >= version) {
          Progress p = progress(s, version, newVersion);
          if (!p.failed().isEmpty()) {
            AllocationInfo f = p.failed().get(0);
            err.println("Error: job \"" + job + "\": " + replica(f) + " on " + f.getNode() + " failed"
                + (f.getMessage().isEmpty() ? "" : ": " + f.getMessage()));
            return 1;
          }
          if (s.getStopped()) {
            err.println("Error: job \"" + job + "\" was stopped");
            return 1;
          }
          if (p.done()) {
            out.println("Job \"" + job + "\" version " + s.getVersion() + ": " + p.summary());
            return 0;
          }
        }
      }
      remaining = deadline - ticker.nanoTime();
      if (remaining <= 0) {
        if (last == null) {
          throw lastError;
        }
        printPending(progress(last, version, newVersion), timeoutText);
        err.println("Error: job \"" + job + "\" did not converge within " + timeoutText);
        return 1;
      }
      ticker.sleep(Math.min(remaining, interval.toNanos()));
    }
  }

  private static boolean retryable(Status.Code code) {
    return code == Status.Code.UNAVAILABLE || code == Status.Code.NOT_FOUND || code == Status.Code.DEADLINE_EXCEEDED;
  }

  /** Prints the allocations whose line changed, and a group's pending reason when it changed. */
  private void report(JobStatus s, long version, boolean newVersion, boolean first) {
    Set<String> current = new HashSet<>();
    current(s, version, newVersion).forEach(a -> current.add(a.getId()));
    for (AllocationInfo a : s.getAllocationsList()) {
      String line = describe(a);
      String before = shown.put(a.getId(), line);
      // at the first poll only the replicas that count: not the history of older versions
      if (!line.equals(before) && (!first || current.contains(a.getId()))) {
        out.println(line);
      }
    }
    for (GroupStatus g : s.getGroupsList()) {
      String line = g.getPending() > 0 && !g.getPendingReason().isEmpty()
          ? g.getName() + ": " + g.getPending() + " pending: " + g.getPendingReason() : "";
      String before = shownPending.put(g.getName(), line);
      if (!line.isEmpty() && !line.equals(before)) {
        out.println(line);
      }
    }
  }

  /** What is still missing, group by group, when the timeout has passed. */
  private void printPending(Progress p, String timeoutText) {
    out.println("Not converged after " + timeoutText + ":");
    for (GroupProgress g : p.groups()) {
      if (g.ok() >= g.status().getDesired()) {
        continue;
      }
      out.println(g.status().getName() + ": " + g.ok() + " of " + g.status().getDesired() + " " + g.word());
      if (!g.status().getPendingReason().isEmpty()) {
        out.println("  pending: " + g.status().getPendingReason());
      } else if (g.status().getPending() > 0) {
        out.println("  pending: " + g.status().getPending() + " waiting for a node");
      }
      for (AllocationInfo a : g.waiting()) {
        out.println("  " + describe(a));
      }
    }
  }

  /** How far a job is: per group the replicas that made it, and the failed ones. */
  record Progress(boolean done, List<GroupProgress> groups, List<AllocationInfo> failed) {
    /** "web 3/3 running, db 1/1 running". */
    String summary() {
      StringJoiner j = new StringJoiner(", ");
      groups.forEach(g -> j.add(g.status().getName() + " " + g.ok() + "/" + g.status().getDesired() + " " + g.word()));
      return j.toString();
    }
  }

  /**
   * @param ok the replicas running (batch: complete)
   * @param waiting the counted allocations not there yet
   * @param batch whether complete, not running, is the goal
   */
  record GroupProgress(GroupStatus status, int ok, List<AllocationInfo> waiting, boolean batch) {
    String word() {
      return batch ? "complete" : "running";
    }
  }

  /** Where {@code s} stands for the version submitted; done needs every group at its desired count. */
  static Progress progress(JobStatus s, long version, boolean newVersion) {
    boolean batch = s.getType().equals("batch");
    AllocationState goal = batch ? AllocationState.ALLOCATION_COMPLETE : AllocationState.ALLOCATION_RUNNING;
    List<AllocationInfo> current = current(s, version, newVersion);
    List<GroupProgress> groups = new ArrayList<>();
    boolean done = s.getGroupsCount() > 0 && s.getVersion() >= version;
    for (GroupStatus g : s.getGroupsList()) {
      int ok = 0;
      List<AllocationInfo> waiting = new ArrayList<>();
      for (AllocationInfo a : current) {
        if (a.getGroup().equals(g.getName())) {
          if (a.getState() == goal) {
            ok++;
          } else {
            waiting.add(a);
          }
        }
      }
      groups.add(new GroupProgress(g, ok, waiting, batch));
      done &= ok >= g.getDesired();
    }
    List<AllocationInfo> failed = current.stream().filter(a -> a.getState() == AllocationState.ALLOCATION_FAILED).toList();
    return new Progress(done && failed.isEmpty(), groups, failed);
  }

  /**
   * The allocations that stand for the job's replicas: of {@code version} on when
   * {@code newVersion}, the newest generation per replica, desired running or finished.
   */
  static List<AllocationInfo> current(JobStatus s, long version, boolean newVersion) {
    boolean system = s.getType().equals("system");
    Map<String, AllocationInfo> newest = new LinkedHashMap<>();
    for (AllocationInfo a : s.getAllocationsList()) {
      if (newVersion && a.getJobVersion() < version) {
        continue;
      }
      String key = a.getGroup() + "\0" + (system ? a.getNode() : Integer.toString(a.getIndex()));
      AllocationInfo seen = newest.get(key);
      if (seen == null || a.getGeneration() > seen.getGeneration()
          || a.getGeneration() == seen.getGeneration() && a.getUpdatedAtUnixMillis() > seen.getUpdatedAtUnixMillis()) {
        newest.put(key, a);
      }
    }
    List<AllocationInfo> out = new ArrayList<>();
    for (AllocationInfo a : newest.values()) {
      AllocationState st = a.getState();
      if (a.getDesiredRunning() || st == AllocationState.ALLOCATION_FAILED || st == AllocationState.ALLOCATION_COMPLETE) {
        out.add(a);
      }
    }
    return out;
  }

  /** "web[0] on n2: running (10.0.0.2:8080->80)", "web[1] on n3: failed: exit code 1". */
  static String describe(AllocationInfo a) {
    String state = a.getState() == AllocationState.ALLOCATION_RUNNING && !a.getDesiredRunning()
        ? "stopping" : JobCommands.state(a.getState());
    String ports = a.getState() == AllocationState.ALLOCATION_RUNNING && a.getPortsCount() > 0
        ? " (" + JobCommands.ports(a.getPortsList(), false) + ")" : "";
    return replica(a) + " on " + (a.getNode().isEmpty() ? "-" : a.getNode()) + ": " + state + ports
        + (a.getMessage().isEmpty() ? "" : ": " + a.getMessage());
  }

  static String replica(AllocationInfo a) {
    return a.getGroup() + "[" + a.getIndex() + "]";
  }

  private static final Pattern DURATION_PART = Pattern.compile("(\\d+(?:\\.\\d+)?)(ms|s|m|h)");

  /**
   * A timeout as Go and Nomad write durations ("60s", "1m30s", "500ms", "2h"), or a number of
   * seconds; it must be positive.
   */
  static Duration parseDuration(String text) {
    String t = text.trim();
    if (t.matches("\\d+")) {
      t = t + "s";
    }
    Matcher m = DURATION_PART.matcher(t);
    BigDecimal nanos = BigDecimal.ZERO;
    int at = 0;
    while (at < t.length() && m.find(at) && m.start() == at) {
      BigDecimal unit = switch (m.group(2)) {
        case "ms" -> BigDecimal.valueOf(1_000_000L);
        case "s" -> BigDecimal.valueOf(1_000_000_000L);
        case "m" -> BigDecimal.valueOf(60_000_000_000L);
        default -> BigDecimal.valueOf(3_600_000_000_000L);
      };
      nanos = nanos.add(new BigDecimal(m.group(1)).multiply(unit));
      at = m.end();
    }
    if (t.isEmpty() || at != t.length() || nanos.signum() <= 0 || nanos.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
      throw new IllegalArgumentException("invalid duration \"" + text + "\": expected a positive duration such as 60s, 2m, 1m30s or 500ms");
    }
    return Duration.ofNanos(nanos.longValue());
  }
}
