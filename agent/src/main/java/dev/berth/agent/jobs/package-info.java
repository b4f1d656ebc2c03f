/**
 * Jobs across the cluster: what is desired (jobs, their allocations, pending evaluations) kept in
 * the replicated store, the scheduling loop that the leading server runs over it with the
 * placement engine of the {@code scheduler} module, and the operations behind {@code berth job}.
 *
 * <p>Layout in the store (protobuf, see {@code cluster_state.proto}): table {@code jobs} keyed by
 * job name; table {@code allocations} keyed by node name, one entry holding every allocation of
 * the node, so that one compare-and-set places a plan's replicas on a node after re-checking what
 * is there (the plan applier's node-by-node check) and one write reports a batch of the node's
 * states; table {@code evaluations} keyed by job name, the job's latest evaluation (pending,
 * blocked or complete, with its outcome), so triggers for one job coalesce into one evaluation.
 */
package dev.berth.agent.jobs;
