/**
 * The cluster model the placement engine reasons about: {@link dev.berth.scheduler.model.Node}s
 * with their {@link dev.berth.scheduler.model.Resources}, {@link dev.berth.scheduler.model.Job}s
 * and their {@link dev.berth.scheduler.model.TaskGroup}s, the
 * {@link dev.berth.scheduler.model.Allocation}s placed for them, a
 * {@link dev.berth.scheduler.model.ClusterSnapshot} of all of it (with its
 * {@link dev.berth.scheduler.model.NodeTable}, the nodes laid out for placement), and the
 * {@link dev.berth.scheduler.model.Evaluation} that asks for a plan.
 *
 * <p>Immutable values (records, and the snapshot with its lookup tables), validated where they
 * are built: a {@code Constraint} with a bad regular expression cannot exist. Depends on the JDK
 * only: no Jackson (the job file parser maps into these), no gRPC (the agent maps them to and
 * from its protos), no I/O, nothing else of Berth's.
 */
package dev.berth.scheduler.model;
