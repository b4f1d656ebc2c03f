/**
 * The feasibility filters: each a small {@link dev.berth.scheduler.FeasibilityFilter} that says
 * whether a node can take one more replica of a task group, and if not, why, in words
 * {@code berth job plan} shows. {@link dev.berth.scheduler.Pipeline#standard} orders them.
 *
 * <p>Pure functions of the {@link dev.berth.scheduler.GroupContext}: they keep no state and
 * depend on nothing but the JDK and the scheduler's model.
 */
package dev.berth.scheduler.filter;
