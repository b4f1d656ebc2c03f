package dev.berth.agent.events;

/**
 * Where the agent's parts report what happened. The composition root hands the same one (the
 * agent's {@link EventLog}) to each; tests hand a list.
 *
 * <p>Threading: called from any thread, also while the caller holds its own locks (the runtime
 * holds a container's), so an implementation must be thread-safe, return quickly, never call
 * back into the caller and never throw.
 */
@FunctionalInterface
public interface EventSink {
  /** Records nothing. */
  EventSink NONE = e -> { };

  /** Records {@code e} (made with {@link Event#of}); the sink stamps its time, source and sequence. */
  void record(Event e);
}
