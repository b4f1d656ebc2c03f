/**
 * The gRPC services of the agent: each validates, maps with
 * {@link dev.berth.agent.api.ProtoMapper}, delegates to the runtime or the image store, and
 * maps back. Domain errors become gRPC statuses in one place, {@link dev.berth.agent.api.Errors}.
 * Depends on the generated API ({@code dev.berth.proto.v1}) and the agent's packages; nothing
 * below depends on it.
 */
package dev.berth.agent.api;
