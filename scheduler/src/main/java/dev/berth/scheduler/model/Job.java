package dev.berth.scheduler.model;

import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * What a user submits: a named set of task groups and how to place them.
 *
 * @param name        unique in the cluster
 * @param type        service, batch or system
 * @param priority    1..100; orders pending evaluations (no preemption)
 * @param strategy    bin-pack or spread for this job, or null for the cluster's default
 * @param groups      the task groups, names unique
 * @param constraints apply to every group
 * @param spreads     apply to every group
 * @param affinities  apply to every group
 * @param update      rolling update settings (for the scheduling loop)
 * @param reschedule  replacement settings (for the scheduling loop); null: the type's default
 *                    ({@link ReschedulePolicy#defaultFor})
 * @param stopped     the user stopped the job: every allocation is to be stopped
 */
public record Job(String name, JobType type, int priority, PlacementStrategy strategy,
    List<TaskGroup> groups, List<Constraint> constraints, List<Spread> spreads,
    List<Affinity> affinities, UpdatePolicy update, ReschedulePolicy reschedule,
    boolean stopped) {

  /** Priority when a job file gives none: the middle, as Nomad's. */
  public static final int DEFAULT_PRIORITY = 50;

  public Job {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(type, "type");
    if (priority < 1 || priority > 100) {
      throw new IllegalArgumentException("priority " + priority + " out of range (1..100)");
    }
    groups = List.copyOf(groups);
    Set<String> names = new HashSet<>();
    for (TaskGroup g : groups) {
      if (!names.add(g.name())) {
        throw new IllegalArgumentException("task group \"" + g.name() + "\" appears twice");
      }
    }
    constraints = List.copyOf(constraints == null ? List.of() : constraints);
    spreads = List.copyOf(spreads == null ? List.of() : spreads);
    affinities = List.copyOf(affinities == null ? List.of() : affinities);
    update = update == null ? UpdatePolicy.DEFAULT : update;
    reschedule = reschedule == null ? ReschedulePolicy.defaultFor(type) : reschedule;
  }

  /** A job with defaults for everything but its type and groups. */
  public static Job of(String name, JobType type, TaskGroup... groups) {
    return new Job(name, type, DEFAULT_PRIORITY, null, List.of(groups), List.of(), List.of(),
        List.of(), null, null, false);
  }

  public Job withGroups(List<TaskGroup> groups) {
    return new Job(name, type, priority, strategy, groups, constraints, spreads, affinities,
        update, reschedule, stopped);
  }

  public Job withStopped(boolean stopped) {
    return new Job(name, type, priority, strategy, groups, constraints, spreads, affinities,
        update, reschedule, stopped);
  }

  public Job withStrategy(PlacementStrategy strategy) {
    return new Job(name, type, priority, strategy, groups, constraints, spreads, affinities,
        update, reschedule, stopped);
  }
}
