/**
 * {@code berthd}, the Berth agent. {@link dev.berth.agent.AgentMain} is the composition root,
 * the one place that wires the packages together: {@code runtime} (containers), {@code image}
 * (the image store), {@code api} (gRPC services). What is shared by all of them is here: the
 * one domain error ({@link dev.berth.agent.BerthException}) and crash-safe writes
 * ({@link dev.berth.agent.AtomicFiles}).
 */
package dev.berth.agent;
