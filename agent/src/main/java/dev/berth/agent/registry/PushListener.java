package dev.berth.agent.registry;

/**
 * Hears how a push goes, to show it as {@code docker push} does. Called from the pushing
 * thread and the {@link Pusher}'s workers, which upload several layers at once, but one call at
 * a time, so an implementation needs no locking of its own; it must be quick (it holds up the
 * uploads). What it throws is ignored.
 */
public interface PushListener {
  /** Hears nothing. */
  PushListener NONE = new PushListener() {
    @Override
    public void layer(LayerEvent e) {}

    @Override
    public void status(String line) {}
  };

  /** Where a layer (or the config blob) is. */
  enum State {
    /** Being got ready: for an imported uncompressed layer, compressed. */
    PREPARING,
    /** Queued for upload. */
    WAITING,
    /** {@link LayerEvent#doneBytes} of {@link LayerEvent#totalBytes} uploaded; repeated as it goes. */
    PUSHING,
    /** Mounted from another repository of the same registry: nothing uploaded. */
    MOUNTED,
    /** The repository has it: nothing uploaded. */
    ALREADY_EXISTS,
    /** Uploaded. */
    PUSHED
  }

  /**
   * One step of one blob.
   *
   * @param digest the blob's digest (as pushed: the compressed blob)
   * @param totalBytes its size
   * @param doneBytes bytes uploaded so far; may go back to 0 when an upload starts over
   */
  record LayerEvent(String digest, long totalBytes, long doneBytes, State state) {}

  /** A blob moved on. The events of one blob come in order; those of different blobs interleave. */
  void layer(LayerEvent e);

  /** A line about the whole push, e.g. {@code The push refers to repository [...]} or {@code TAG: digest: … size: …}. */
  void status(String line);
}
