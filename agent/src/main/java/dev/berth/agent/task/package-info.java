/**
 * Keeping the containers of this host as their specs ask, between the user's commands:
 * restart policies with backoff, health checks, and the local reconcile after the agent
 * starts (containers a reboot stopped start again by their policy).
 *
 * <pre>
 *   runtime ──ContainerEvents──▶ Supervisor ──decides with──▶ RestartPolicy, Backoff, HealthState
 *      ▲                            │ (timer thread: when; work threads: what)
 *      └── restart(id, decidedOn) ◀─┤
 *      └── probe(id, cmd, timeout) ◀┘──▶ Supervision (read-only: health, restarting, listeners)
 * </pre>
 *
 * <p>The decisions ({@link dev.berth.agent.task.RestartPolicy}, {@link dev.berth.agent.task.Backoff},
 * {@link dev.berth.agent.task.HealthState}) are pure: no threads, no I/O, time from a
 * {@link java.time.Clock} or from their arguments. The {@link dev.berth.agent.task.Supervisor}
 * carries them out through {@code agent.runtime}. Depends on {@code agent.runtime} and
 * {@code agent.image}; never on gRPC or the cluster (an allocation replaced for being
 * unhealthy is the scheduler's business: it listens through {@link dev.berth.agent.task.Supervision}).
 */
package dev.berth.agent.task;
