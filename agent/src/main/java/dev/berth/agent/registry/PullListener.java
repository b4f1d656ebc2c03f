package dev.berth.agent.registry;

/**
 * Hears how a pull goes, to show it as {@code docker pull} does. Called from the pulling
 * thread and from the puller's worker threads, concurrently: an implementation must be
 * thread-safe and quick (it holds up the download). What it throws is ignored.
 */
public interface PullListener {
  /** Hears nothing. */
  PullListener NONE = new PullListener() {
    @Override
    public void layer(LayerEvent event) {}

    @Override
    public void status(String line) {}
  };

  /** Where a layer is. */
  enum State {
    /** Queued for download. */
    WAITING,
    /** {@link LayerEvent#doneBytes} of {@link LayerEvent#totalBytes} downloaded; repeated as it goes. */
    DOWNLOADING,
    /** Downloaded; its digest is being checked. */
    VERIFYING,
    /**
     * Verified; its unpack, which ran while it downloaded, is being finished (the rest of the
     * stream, the diff id check, the sync to disk).
     */
    EXTRACTING,
    /** The store has it: nothing to download. */
    ALREADY_EXISTS,
    /** Downloaded, verified and unpacked (here or by a concurrent pull). */
    DONE
  }

  /**
   * One step of one layer.
   *
   * @param digest the layer blob's digest
   * @param totalBytes its size
   * @param doneBytes bytes downloaded so far; may go back to 0 when a download restarts
   */
  record LayerEvent(String digest, long totalBytes, long doneBytes, State state) {}

  /**
   * A layer moved on. The events of one layer come in order, from one thread at a time:
   *
   * <ul>
   *   <li>downloaded by this pull: WAITING, DOWNLOADING (repeated, {@code doneBytes} growing;
   *       back to 0 when the download starts over), VERIFYING, EXTRACTING, DONE. The layer is
   *       unpacked while it downloads, so the DOWNLOADING events already cover most of the
   *       unpack; EXTRACTING covers only its end;
   *   <li>in the store already: WAITING, ALREADY_EXISTS;
   *   <li>downloaded by a concurrent pull: WAITING, DONE (or, if that download fails, this
   *       pull downloads it: WAITING, DOWNLOADING…);
   *   <li>when the pull fails, a layer's events may stop anywhere.
   * </ul>
   */
  void layer(LayerEvent event);

  /** A line about the whole pull, e.g. {@code Digest: sha256:…} or {@code Status: …}. */
  void status(String line);
}
