/**
 * Jobs across the cluster: what is desired (jobs, their allocations, pending evaluations) kept in
 * the replicated store, the scheduling loop that the leading server runs over it with the
 * placement engine of the {@code scheduler} module, and the operations behind {@code berth job}.
 *
 * <p>Layout in the store (protobuf, see {@code cluster_state.proto}): table {@code jobs} keyed by
 * job name, each with its last few versions (what {@code job history} shows and {@code job rollback}
 * goes back to); table {@code allocations} keyed by node name, one entry holding every allocation of
 * the node, so that one compare-and-set places a plan's replicas on a node after re-checking what
 * is there (the plan applier's node-by-node check) and one write reports a batch of the node's
 * states; table {@code evaluations} keyed by job name, the job's latest evaluation (pending,
 * blocked or complete, with its outcome), so triggers for one job coalesce into one evaluation.
 *
 * <p>Self-healing across hosts is split as the scheduler module wants it: {@link
 * dev.berth.agent.jobs.Replacements} (pure) decides which allocations move now (drains and rolling
 * updates at {@code update.max_parallel}, stop-first or start-first, system jobs last) and which failed ones wait for their
 * reschedule; the placement engine decides where; {@link dev.berth.agent.jobs.SchedulingLoop}
 * commits it and keeps each job's rollout (stable version, failure, auto revert). Each node's
 * {@code AllocationRunner} reports what only it can see: health, crash loops, and what it
 * stopped while cut off from the servers.
 */
package dev.berth.agent.jobs;
