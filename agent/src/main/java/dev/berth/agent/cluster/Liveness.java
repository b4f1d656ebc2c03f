package dev.berth.agent.cluster;

import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * A server's verdict on every node: when it last heard a heartbeat from each, and what that makes
 * of it. The policy, apart from the messaging that feeds it ({@link AtomixHeartbeats}), so that
 * it can be tested against a clock of the test's choosing.
 *
 * <ul>
 *   <li>{@link MemberState#DOWN}: no heartbeat for the grace period. Its allocations may be re-placed.
 *   <li>{@link MemberState#SUSPECT}: a heartbeat was missed ({@code suspectAfter}), or SWIM finds it
 *       unreachable or has removed it, but the grace period has not run out.
 *   <li>{@link MemberState#ALIVE}: otherwise.
 * </ul>
 *
 * <p>A server that has just started has heard from nobody yet: it counts every node as heard at its
 * own start ({@code startNanos}: when it begins listening, not when the agent started, as Atomix
 * takes seconds to start), so that no node is down before a full grace period has passed with
 * this server listening (a new Raft leader never re-places a cluster it has not listened to).
 *
 * <p>Thread-safe. Times are {@link System#nanoTime()} for ages and wall-clock millis for the
 * {@code since} of a verdict; both are passed in.
 */
final class Liveness {
  /** A node's state as this server judges it, and since when (wall clock). */
  record Verdict(MemberState state, long sinceMillis) {}

  private final long suspectAfterNanos;
  private final long graceNanos;
  private final long startNanos;
  private final Map<String, Long> lastHeard = new HashMap<>();
  private Map<String, Verdict> verdicts = Map.of();
  private long version;

  Liveness(Duration suspectAfter, Duration grace, long startNanos) {
    if (suspectAfter.compareTo(grace) >= 0) {
      throw new IllegalArgumentException("suspectAfter " + suspectAfter + " must be shorter than the grace period " + grace);
    }
    this.suspectAfterNanos = suspectAfter.toNanos();
    this.graceNanos = grace.toNanos();
    this.startNanos = startNanos;
  }

  /** A heartbeat from {@code node} arrived. */
  synchronized void heard(String node, long nowNanos) {
    lastHeard.put(node, nowNanos);
  }

  /**
   * Judges every node heard from, every node SWIM knows and every node judged before.
   *
   * @param swim SWIM's view: node name to whether it is reachable; a node absent was removed or never seen
   * @param registered nodes of the registry, judged even if never heard from (then: down a grace period after this server started)
   * @return the verdicts by node name, sorted; the same object as long as nothing changed
   */
  synchronized Map<String, Verdict> evaluate(Map<String, Boolean> swim, java.util.Collection<String> registered, long nowNanos,
      long nowMillis) {
    TreeMap<String, Verdict> next = new TreeMap<>();
    java.util.Set<String> names = new java.util.TreeSet<>(lastHeard.keySet());
    names.addAll(swim.keySet());
    names.addAll(registered);
    names.addAll(verdicts.keySet());
    boolean changed = false;
    for (String name : names) {
      long heard = Math.max(lastHeard.getOrDefault(name, startNanos), startNanos);
      long age = nowNanos - heard;
      MemberState state;
      if (age > graceNanos) {
        state = MemberState.DOWN;
      } else if (age > suspectAfterNanos || !swim.getOrDefault(name, Boolean.FALSE)) {
        state = MemberState.SUSPECT;
      } else {
        state = MemberState.ALIVE;
      }
      Verdict before = verdicts.get(name);
      Verdict v = before != null && before.state() == state ? before : new Verdict(state, nowMillis);
      changed |= v != before;
      next.put(name, v);
    }
    if (changed) {
      verdicts = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(next));
      version++;
    }
    return verdicts;
  }

  /** Grows by one with every change of a verdict; what heartbeat replies compare to send only news. */
  synchronized long version() {
    return version;
  }

  /** The verdicts of the last {@link #evaluate}. */
  synchronized Map<String, Verdict> verdicts() {
    return verdicts;
  }
}
