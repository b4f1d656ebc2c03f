package dev.berth.agent.metrics;

import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * Counts what the runtime's views only show for the latest run: a container's OOM kills over
 * all its runs (a run whose init the OOM killer took ends the container, and its cgroup, with
 * it). Updated from each collection: a new {@code startedAt} is a new run, a run's count is the
 * largest its cgroup showed, and at least 1 when the run ended in an OOM kill.
 *
 * <p>So the count is exact when the agent observes every run, which holds as long as runs
 * last longer than the collection interval; OOM kills of runs that started and ended between
 * two scrapes are missed (an OOM counter in the runtime's state would make it exact). The
 * counts live in memory: they restart at 0 with the agent, which Prometheus' {@code increase()}
 * and {@code rate()} treat as a counter reset.
 *
 * <p>Not thread-safe: the collector calls it under its own lock.
 */
final class RunHistory {
  private static final class Entry {
    Instant startedAt;
    /** OOM kills of the runs before the current one. */
    long oomBefore;
    /** The largest OOM count seen in the current run. */
    long oomThisRun;
  }

  private final Map<String, Entry> entries = new HashMap<>();

  /** Records a sighting of a container: its run (by start time) and the OOM count of its cgroup, -1 if not read. */
  void observe(ContainerTarget t, long cgroupOomKills) {
    Entry e = entries.computeIfAbsent(t.id(), k -> new Entry());
    if (t.startedAt() != null && !t.startedAt().equals(e.startedAt)) {
      if (e.startedAt != null) {
        e.oomBefore += e.oomThisRun;
        e.oomThisRun = 0;
      }
      e.startedAt = t.startedAt();
    }
    if (cgroupOomKills > e.oomThisRun) {
      e.oomThisRun = cgroupOomKills;
    }
    if (!t.running() && t.oomKilled() && e.oomThisRun == 0) {
      e.oomThisRun = 1;
    }
  }

  long oomEvents(String id) {
    Entry e = entries.get(id);
    return e == null ? 0 : e.oomBefore + e.oomThisRun;
  }

  /** Forgets the containers not in {@code live} (removed ones). */
  void retain(Set<String> live) {
    entries.keySet().retainAll(live);
  }
}
