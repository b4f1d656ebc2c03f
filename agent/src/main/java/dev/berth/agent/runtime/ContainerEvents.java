package dev.berth.agent.runtime;

/**
 * What the runtime tells whoever supervises its containers (the task layer's supervisor, which
 * restarts them by their policy and runs their health checks).
 *
 * <p>Threading: {@link #created}, {@link #started}, {@link #exited} and {@link #adopted} are
 * called while the runtime holds the container's lock, so that the events of one container
 * arrive in the order they happened; an implementation must return quickly and must not call back into the runtime
 * on the calling thread (hand that to a thread of its own). {@link #stopping} and
 * {@link #removed} are called without the lock; {@code stopping} comes before the exit it causes.
 */
public interface ContainerEvents {
  /** Nobody listens. */
  ContainerEvents NONE = new ContainerEvents() {};

  /** Who started a run. */
  enum Start {
    /** start, or run: the restart count was reset. */
    USER,
    /** {@link ContainerRuntime#restart}: the restart policy's doing. */
    POLICY
  }

  /** A container was created ({@code v} is new): before any other event of it. */
  default void created(ContainerView v) {}

  /** A run began; {@code v} is running. */
  default void started(ContainerView v, Start cause) {}

  /**
   * A run ended while the agent ran; {@code v} holds the exit. Not called for a start that
   * failed (the starter gets the exception).
   */
  default void exited(ContainerView v) {}

  /**
   * The agent started and found {@code v}: still running (re-adopted), ended while the agent
   * was away (its exit recorded, or unknown when its launcher is gone too, as after a reboot),
   * or not running as it was left. Called once per container, before any other event of it.
   */
  default void adopted(ContainerView v) {}

  /**
   * Right after {@link #adopted}: {@code v}'s run ended while no agent was there to see it, and
   * {@code v} holds its exit as recorded (or as unknown). Not an {@link #exited}: nothing is to be
   * restarted for it by the policy that the agent applies on start.
   */
  default void endedWhileAway(ContainerView v) {}

  /**
   * The user stops, kills or removes the container: called before the signal is sent, so the
   * exit that follows restarts nothing; a pending restart is off.
   */
  default void stopping(String id) {}

  /** The container is gone. */
  default void removed(String id) {}
}
