/**
 * The placement engine: {@link dev.berth.scheduler.Scheduler#schedule} computes a
 * {@link dev.berth.scheduler.Plan} from a {@link dev.berth.scheduler.model.ClusterSnapshot} and
 * an {@link dev.berth.scheduler.model.Evaluation}, through the
 * {@link dev.berth.scheduler.Pipeline} of {@link dev.berth.scheduler.FeasibilityFilter}s and
 * {@link dev.berth.scheduler.Scorer}s; {@link dev.berth.scheduler.PlanApplier} checks a plan
 * against the cluster as it is when it is committed.
 *
 * <pre>
 *   snapshot ─► reconcile (keep / stop / place) ─► stops released
 *            ─► per replica: sample (filters, cheapest first) ─► score ─► best node, counted at once
 *            ─► Plan ─► PlanApplier (re-check per node) ─► commit / re-evaluate
 * </pre>
 *
 * <p>Pure Java: no I/O, no threads, no clocks, no gRPC, no Atomix, nothing else of Berth's. Its
 * state lives in objects made for one call; its randomness comes from the evaluation's seed.
 */
package dev.berth.scheduler;
