/**
 * What happened, for {@code berth events}: each agent records its own events in a bounded log on
 * its disk, and the agent a client asks merges its own with the other nodes'.
 *
 * <pre>
 *   runtime ──ContainerEvents──▶ ContainerRecorder ─┐
 *   supervisor ──HealthListener─▶ ContainerRecorder ─┤
 *   puller, image API ─────────▶ ImageEvents ───────┼─EventSink─▶ EventLog (segments on disk)
 *   scheduler (leader) ─Listener▶ ClusterRecorder ───┤                 │ Reader: since, then live
 *   membership ───────Consumer──▶ ClusterRecorder ───┘                 ▼
 *                                   other agents' streams ──▶ EventStream (EventMerge: by time) ──▶ api
 * </pre>
 *
 * <p>The recorders only translate what they hear into {@link dev.berth.agent.events.Event}s; the
 * {@link dev.berth.agent.events.EventLog} stamps (time, source, sequence), writes and bounds them;
 * {@link dev.berth.agent.events.EventFilter} and {@link dev.berth.agent.events.EventMerge} are
 * pure. Depends on {@code agent.runtime}, {@code agent.task}, {@code agent.image},
 * {@code agent.registry}, {@code agent.cluster} and {@code agent.jobs} for the interfaces it
 * listens on; never on gRPC (the API and the agent-to-agent streams are {@code agent.api}'s), and
 * nothing of those packages depends on it, except the image API's hook and the composition root.
 */
package dev.berth.agent.events;
