package dev.berth.agent.jobs;

import dev.berth.proto.v1.AllocationState;
import dev.berth.proto.v1.StoredAllocation;
import dev.berth.scheduler.model.Job;
import dev.berth.scheduler.model.JobType;
import dev.berth.scheduler.model.ReschedulePolicy;
import dev.berth.scheduler.model.TaskGroup;
import dev.berth.scheduler.model.UpdatePolicy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which of a job's allocations the placement engine is to replace now, and which failed ones it is
 * to leave alone for now: the scheduling loop's policy for rolling updates, node drains and
 * reschedules, as Nomad's reconciler decides them. Pure: a function of the job, its allocations as
 * stored, the draining nodes and the time, so that it can be tested as a table.
 *
 * <ul>
 *   <li><b>Pace.</b> Per task group, at most {@code update.max_parallel} replicas are in transition
 *       at a time. A replica is in transition when it has no live allocation (it waits for a node,
 *       a reschedule delay, or was just stopped) or its live allocation is of the current spec and
 *       not yet healthy (its node says so once it ran, and passed its health check, for
 *       {@code min_healthy_time}). Allocations of an older spec that still run untouched are not in
 *       transition: they wait their turn.
 *   <li><b>Drain.</b> Allocations on a draining node are replaced first, at that pace; once the
 *       drain's deadline passed, all of them at once. System allocations stay until the deadline,
 *       or until nothing else is left on the node (they go last, as Nomad's).
 *   <li><b>Rolling update.</b> Then allocations of an older spec, at that pace, unless this
 *       version's rollout failed ({@code halted}). With {@code update.order: start-first} (service
 *       and batch jobs) such a replacement is {@linkplain Decision#startFirst start-first}: the new
 *       allocation is placed beside the old one, which is {@linkplain Decision#keep kept} running
 *       while the replica's latest allocation is not running healthy (pending, starting, failed and
 *       waiting to be placed again), and {@linkplain Decision#retire retired} once it is. So two
 *       allocations of one replica index run for a while on purpose; the older generation is the
 *       one that goes. Drains and system jobs stay stop-first.
 *   <li><b>Reschedule.</b> A replica whose latest allocation failed is placed again when the job's
 *       {@link ReschedulePolicy} says so; until then the allocation is held. One that failed with
 *       an older spec (the job changed since, or was reverted) is placed again at once.
 *   <li><b>Rollout.</b> The current version's rollout is complete when every replica runs the
 *       current spec and is healthy; it failed when an allocation placed by this version failed or
 *       was not healthy within {@code healthy_deadline} of its placement.
 * </ul>
 */
public final class Replacements {
  private Replacements() {}

  /**
   * What to do with a job's allocations now.
   *
   * @param replace allocation ids to stop and place again, with why (the stop's reason)
   * @param held ids of failed allocations whose replica is not placed again yet (or ever)
   * @param notes what waits and why, for the evaluation's summary
   * @param rollout the state of the current version's rollout
   * @param startFirst of {@code replace}, the ids whose new allocation is to be placed while they
   *     keep running (they are stopped later, through {@code retire})
   * @param keep live allocations a newer generation of their replica superseded, to keep running
   *     (start-first: the newer one is not running healthy yet); the engine must not stop them
   * @param retire live allocations a newer generation superseded that are to be stopped now (it
   *     runs healthy), with why
   */
  public record Decision(Map<String, String> replace, Set<String> held, List<String> notes, Rollout rollout,
      Set<String> startFirst, Set<String> keep, Map<String, String> retire) {
    public Decision(Map<String, String> replace, Set<String> held, List<String> notes, Rollout rollout) {
      this(replace, held, notes, rollout, Set.of(), Set.of(), Map.of());
    }
  }

  /**
   * @param complete every replica runs the current spec and is healthy
   * @param failure why this version's rollout failed, or null
   */
  public record Rollout(boolean complete, String failure) {}

  /**
   * @param job the job as it is now (its current version)
   * @param jobVersion its version: allocations placed by it carry it
   * @param halted this version's rollout failed: allocations of an older spec are left alone
   * @param allocations the job's allocations as stored, every generation
   * @param drains draining nodes and their deadlines (wall clock; 0: none)
   * @param othersLeft draining nodes that still hold a live allocation of a service or batch job:
   *     a system job's allocations stay there for now
   * @param nowMillis the leader's clock
   */
  public static Decision decide(Job job, long jobVersion, boolean halted, List<StoredAllocation> allocations,
      Map<String, Long> drains, Set<String> othersLeft, long nowMillis) {
    Map<String, String> replace = new LinkedHashMap<>();
    Set<String> held = new LinkedHashSet<>();
    List<String> notes = new ArrayList<>();
    Set<String> startFirst = new LinkedHashSet<>();
    Set<String> keep = new LinkedHashSet<>();
    Map<String, String> retire = new LinkedHashMap<>();
    if (job.stopped()) {
      return new Decision(replace, held, notes, new Rollout(false, null), startFirst, keep, retire);
    }
    boolean system = job.type() == JobType.SYSTEM;
    boolean complete = true;
    String failure = null;
    UpdatePolicy update = job.update();
    boolean startsFirst = !system && update.order() == UpdatePolicy.Order.START_FIRST;
    for (TaskGroup g : job.groups()) {
      String spec = JobCodec.spec(g);
      List<StoredAllocation> mine = allocations.stream().filter(a -> a.getGroup().equals(g.name())).toList();
      // Latest per replica: by index (its generations); for system jobs by node (its indices).
      Map<Object, StoredAllocation> latest = new LinkedHashMap<>();
      for (StoredAllocation a : mine) {
        Object key = system ? a.getNode() : (Object) a.getIndex();
        latest.merge(key, a, (x, y) -> newer(y, x, system) ? y : x);
      }
      if (startsFirst) {
        // Old copies of replicas replaced start-first: kept until the newest copy runs healthy.
        for (StoredAllocation a : sorted(mine)) {
          StoredAllocation newest = latest.get(a.getIndex());
          if (!live(a) || newest == a || a.getIndex() >= g.count()) {
            continue;
          }
          if (live(newest) && newest.getHealthy() && newest.getState() == AllocationState.ALLOCATION_RUNNING_VALUE) {
            retire.put(a.getId(), "replaced by generation " + newest.getGeneration() + ", which runs healthy"
                + " (start-first)");
          } else {
            keep.add(a.getId());
          }
        }
      }
      int inTransition = 0;
      List<StoredAllocation> drainNow = new ArrayList<>();
      List<StoredAllocation> drainPaced = new ArrayList<>();
      List<StoredAllocation> outdated = new ArrayList<>();
      List<Object> keys = new ArrayList<>(latest.keySet());
      if (!system) {
        keys = new ArrayList<>();
        for (int i = 0; i < g.count(); i++) {
          keys.add(i);
        }
      }
      for (Object key : keys) {
        StoredAllocation a = latest.get(key);
        if (system && !live(a) && !failed(a)) {
          continue; // a node it was stopped on (ineligible, gone, down) is no replica of it any more
        }
        if (a != null && a.getState() == AllocationState.ALLOCATION_COMPLETE_VALUE && job.type() == JobType.BATCH) {
          continue; // a batch replica that completed is done
        }
        String name = g.name() + "[" + key + "]";
        if (a != null && live(a)) {
          Long deadline = drains.get(a.getNode());
          boolean current = spec.equals(a.getSpec());
          if (deadline != null) {
            if (deadline > 0 && nowMillis >= deadline) {
              drainNow.add(a);
            } else {
              drainPaced.add(a);
            }
          } else if (!current) {
            outdated.add(a);
          }
          if (!current) {
            complete = false;
          } else if (!a.getHealthy()) {
            inTransition++;
            complete = false;
            long age = nowMillis - a.getCreatedAtMillis();
            if (a.getJobVersion() == jobVersion && a.getCreatedAtMillis() > 0
                && age > update.healthyDeadline().toMillis() && failure == null) {
              failure = name + " on " + a.getNode() + " was not healthy within "
                  + seconds(update.healthyDeadline()) + " of its placement";
            }
          }
          continue;
        }
        inTransition++;
        complete = false;
        if (failed(a)) {
          if (a.getJobVersion() == jobVersion && spec.equals(a.getSpec()) && failure == null) {
            failure = name + " failed on " + a.getNode() + ": " + a.getMessage();
          }
          // One of an older spec is placed again at once: what failed is not what would run now.
          ReschedulePolicy.Decision d = spec.equals(a.getSpec())
              ? job.reschedule().decide(a.getRescheduleTimesMillisList(), a.getUpdatedAtMillis(), nowMillis)
              : new ReschedulePolicy.Decision(0, "");
          if (d.isNever()) {
            held.add(a.getId());
            notes.add(name + " failed on " + a.getNode() + " and is not rescheduled: " + d.why());
          } else if (!d.isNow()) {
            held.add(a.getId());
            notes.add(name + " failed on " + a.getNode() + "; rescheduled in "
                + Math.max(1, (d.atMillis() - nowMillis + 999) / 1000) + " s");
          }
        }
      }
      // Live allocations the engine is about to stop anyway (scaled down) need no decision.
      int budget = update.maxParallel() - inTransition;
      for (StoredAllocation a : sorted(drainNow)) {
        replace.put(a.getId(), "node " + a.getNode() + " is draining and its deadline passed");
      }
      List<StoredAllocation> candidates = new ArrayList<>();
      for (StoredAllocation a : sorted(drainPaced)) {
        if (system) {
          // System allocations go last: once nothing else is left on the node (see below).
          continue;
        }
        candidates.add(a);
      }
      if (!halted) {
        candidates.addAll(sorted(outdated));
      }
      for (StoredAllocation a : candidates) {
        if (budget <= 0) {
          break;
        }
        budget--;
        boolean draining = drains.containsKey(a.getNode());
        replace.put(a.getId(), draining ? "node " + a.getNode() + " is draining"
            : "rolling update to version " + jobVersion);
        if (startsFirst && !draining) {
          startFirst.add(a.getId());
        }
      }
      if (system) {
        for (StoredAllocation a : drainPaced) {
          if (!othersLeft.contains(a.getNode())) {
            replace.put(a.getId(), "node " + a.getNode() + " is drained of everything else");
          }
        }
      }
      if (!candidates.isEmpty() && replace.keySet().stream().noneMatch(id -> candidates.stream()
          .anyMatch(c -> c.getId().equals(id)))) {
        notes.add(g.name() + ": " + candidates.size() + " to replace, waiting for " + inTransition
            + " in transition (max_parallel " + update.maxParallel() + ")");
      }
    }
    return new Decision(replace, held, notes, new Rollout(complete, failure), startFirst, keep, retire);
  }

  /** Holds resources and nobody asked it to stop. */
  static boolean live(StoredAllocation a) {
    return !JobCodec.terminal(a) && !a.getDesiredStop();
  }

  /** Failed on its node, and nobody asked it to stop: its replica is for the reschedule policy. */
  static boolean failed(StoredAllocation a) {
    return a != null && a.getState() == AllocationState.ALLOCATION_FAILED_VALUE && !a.getDesiredStop();
  }

  private static boolean newer(StoredAllocation a, StoredAllocation than, boolean system) {
    if (system) {
      return a.getIndex() > than.getIndex() || (a.getIndex() == than.getIndex() && a.getGeneration() > than.getGeneration());
    }
    return a.getGeneration() > than.getGeneration();
  }

  private static List<StoredAllocation> sorted(List<StoredAllocation> l) {
    List<StoredAllocation> out = new ArrayList<>(l);
    out.sort(Comparator.comparingInt(StoredAllocation::getIndex).thenComparing(StoredAllocation::getId));
    return out;
  }

  private static String seconds(Duration d) {
    return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
  }
}
