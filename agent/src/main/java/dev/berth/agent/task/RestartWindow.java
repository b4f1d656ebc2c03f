package dev.berth.agent.task;

import dev.berth.scheduler.model.RestartRules;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * The restarts of one allocation's container on its node, counted against its group's
 * {@link RestartRules}: up to {@code attempts} within {@code interval} are the node's to make; one
 * more and the rules' mode decides ({@link Verdict#failed} or {@link Verdict#pauseUntilNanos}).
 * Pure bookkeeping over the restart counts the runtime reports and a monotonic clock the caller
 * passes in. Thread-safe.
 */
public final class RestartWindow {
  /**
   * What the restarts seen so far call for.
   *
   * @param restarts restarts within the interval
   * @param failed the attempts are used up and the mode is fail: report the allocation failed
   * @param pauseUntilNanos the attempts are used up and the mode is delay: no restart before this
   *     (monotonic nanos); 0: none
   */
  public record Verdict(int restarts, boolean failed, long pauseUntilNanos) {
    public boolean paused() {
      return pauseUntilNanos != 0;
    }
  }

  private final RestartRules rules;
  private int lastCount = -1;
  private final Deque<Long> seen = new ArrayDeque<>();

  public RestartWindow(RestartRules rules) {
    this.rules = rules;
  }

  public RestartRules rules() {
    return rules;
  }

  /**
   * Notes the container's restart count now (restarts since it was last started by hand: a count
   * that goes down starts over) and says what the restarts within the interval call for.
   */
  public synchronized Verdict observe(int count, long nowNanos) {
    if (lastCount >= 0) {
      for (int i = lastCount; i < count; i++) {
        seen.addLast(nowNanos);
      }
    }
    lastCount = count;
    long interval = rules.interval().toNanos();
    while (!seen.isEmpty() && nowNanos - seen.peekFirst() > interval) {
      seen.removeFirst();
    }
    int recent = seen.size();
    if (recent <= rules.attempts()) {
      return new Verdict(recent, false, 0);
    }
    if (rules.mode() == RestartRules.Mode.FAIL) {
      return new Verdict(recent, true, 0);
    }
    // Delay: wait until the interval since the first restart counted has passed, as Nomad's.
    return new Verdict(recent, false, Math.max(nowNanos + 1, seen.peekFirst() + interval));
  }

  /** The interval was waited out (delay mode): the attempts start over. */
  public synchronized void reset() {
    seen.clear();
  }
}
