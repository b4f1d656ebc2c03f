/**
 * The scorers: each a small {@link dev.berth.scheduler.Scorer} that ranks feasible nodes for one
 * more replica of a task group, normalised to [−1, 1] so the scheduler can combine them as a
 * weighted mean with the weights of {@link dev.berth.scheduler.SchedulerConfig}.
 *
 * <p>Pure functions of the {@link dev.berth.scheduler.GroupContext} (the affinity scorer caches
 * its per-node result for one task group); they depend on nothing but the JDK and the
 * scheduler's model.
 */
package dev.berth.scheduler.score;
