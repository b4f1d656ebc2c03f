package dev.berth.agent.image;

import dev.berth.agent.BerthException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * Adds one image whose content comes from elsewhere (a registry pull) to an {@link ImageStore}:
 * {@link #layer} once per distinct layer blob (from several threads at once if wished), then
 * {@link #commit}, then {@link #close} (always: try-with-resources).
 *
 * <p>A layer blob is streamed by its {@link BlobSource} into a temporary file while it is
 * hashed, and at the same time, on a thread of its own fed through a bounded buffer, unpacked
 * into a temporary snapshot (gzip, zstd or uncompressed; {@link LayerUnpacker}'s rules) while its
 * uncompressed stream is hashed too. When the download ends, the blob is checked against its
 * size and digest and forced to disk, the unpack finishes (its uncompressed digest must be the
 * diff id the image config lists for the layer) and the snapshot is forced to disk; only then
 * are both moved into the store. Nothing unverified ever gets a final name. A download that
 * {@link BlobSink#restart restarts} starts the unpack over in a new temporary snapshot; a
 * resumed one (more bytes after a broken connection) goes on with it. A failure of the blob
 * (size, digest, the source's own) is reported rather than what the unpack made of the bad
 * bytes; the unpack's failure (hostile tar, limits, not the diff id) only for a blob that is
 * what its digest says.
 *
 * <p>What an ingest has stored (or found in the store) is held for it, so that no {@code rmi}
 * or other ingest deletes it before the commit; {@link #close} lets go, and deletes what no
 * image refers to and no other ingest holds: a closed ingest that did not commit leaves no
 * blob, snapshot or temporary behind. A layer that another ingest of the same store is
 * downloading is not downloaded twice: {@link #layer} waits for it (and downloads it itself if
 * that download fails). A download that no ingest wants any more (all closed) stops at its
 * next write.
 *
 * <p>Thread-safe. Failures: {@link BerthException} INVALID_ARGUMENT for content that does not
 * match its digest, size or diff id, or that cannot be unpacked (bzip2 or xz, hostile tar),
 * RESOURCE_EXHAUSTED for {@link LayerLimits}, INTERNAL for the file system; whatever the
 * {@link BlobSource} throws is passed on as is; {@link CancellationException} once closed.
 */
public final class Ingest implements AutoCloseable {
  private static final Pattern DIGEST = Pattern.compile("sha256:[a-f0-9]{64}");

  private final ImageStore store;
  /** Digests of the layer blobs held. Guarded by the store's lock. */
  final Set<String> claimed = new HashSet<>();
  /** Guarded by the store's lock. */
  boolean closed;

  Ingest(ImageStore store) {
    this.store = store;
  }

  /**
   * A layer as the manifest and the image config describe it.
   *
   * @param digest the blob's digest ({@code sha256:…})
   * @param size the blob's size in bytes, as the manifest gives it
   * @param mediaType the blob's media type, as the manifest gives it (recorded, not trusted:
   *     the compression is told by the content)
   * @param diffId the uncompressed digest the image config lists for this layer
   */
  public record LayerSpec(String digest, long size, String mediaType, String diffId) {
    public LayerSpec {
      if (!DIGEST.matcher(Objects.requireNonNull(digest)).matches()) {
        throw BerthException.invalid("invalid layer digest \"" + digest + "\": only sha256:<64 hex digits> is supported");
      }
      if (!DIGEST.matcher(Objects.requireNonNull(diffId)).matches()) {
        throw BerthException.invalid("invalid diff id \"" + diffId + "\" for the layer " + digest);
      }
      if (size < 0) {
        throw BerthException.invalid("the layer " + digest + " has a negative size");
      }
      mediaType = mediaType == null ? "" : mediaType;
    }
  }

  /** Where a blob's bytes are written: the store's temporary file, hashed as it is written. */
  public interface BlobSink {
    /**
     * Appends bytes. Its exceptions are final: a source must not retry after one.
     *
     * @throws BerthException INVALID_ARGUMENT beyond the blob's size, INTERNAL when the file
     *     system fails
     * @throws CancellationException when no ingest wants the blob any more
     */
    void write(byte[] b, int off, int len);

    /** The bytes written so far: where a resumed download starts. */
    long written();

    /** Discards what was written: the download starts over. */
    void restart();
  }

  /**
   * Writes one blob, all of it, to a sink; retries (resuming, or {@link BlobSink#restart
   * restarting}) are its own. Its failures should be {@link BerthException}s naming the
   * source; an {@link IOException} is passed on as UNAVAILABLE.
   */
  @FunctionalInterface
  public interface BlobSource {
    void copyTo(BlobSink sink) throws IOException;
  }

  /**
   * What is done with a layer after its download, reported as it starts, in this order, from
   * the thread that called {@link #layer}. The unpack itself runs while the layer downloads;
   * EXTRACTING is its end.
   */
  public enum Phase {
    /** The download is complete; the blob's size and digest are being checked and it is forced to disk. */
    VERIFYING,
    /** The blob is verified; waiting for the unpack to finish, its diff id check, and its sync to disk. */
    EXTRACTING
  }

  /** How {@link #layer} got the layer. */
  public enum Outcome {
    /** Downloaded and unpacked by this call. */
    STORED,
    /** The store had it. */
    ALREADY_EXISTS,
    /** Another ingest was downloading it; this call waited for it. */
    STORED_BY_ANOTHER
  }

  /**
   * Makes sure the store has the layer {@code spec} and holds it for this ingest: does
   * nothing when the store has it, waits when another ingest is downloading it, and otherwise
   * calls {@code source} (in this thread) to download it while it is unpacked (on another
   * thread), then verifies it, reporting each {@link Phase} to {@code phases} (in this thread).
   *
   * @throws CancellationException when the ingest was closed (nothing is left of the layer
   *     unless another ingest holds it)
   */
  public Outcome layer(LayerSpec spec, BlobSource source, Consumer<Phase> phases) {
    boolean waited = false;
    while (true) {
      ImageStore.ClaimResult claim = store.claim(this, spec.digest(), spec.diffId());
      switch (claim.kind()) {
        case PRESENT:
          return waited ? Outcome.STORED_BY_ANOTHER : Outcome.ALREADY_EXISTS;
        case FETCH:
          fetch(spec, claim.claim(), source, phases);
          return Outcome.STORED;
        case JOIN:
          waited = true;
          await(claim.fetch());
          break; // claim again: the layer is there, or its download failed and this call tries
        default:
          throw new IllegalStateException(claim.kind().toString());
      }
    }
  }

  /** Waits for another ingest's download, checking now and then whether this one was closed. */
  private void await(CompletableFuture<Void> fetch) {
    while (true) {
      try {
        fetch.get(200, TimeUnit.MILLISECONDS);
        return;
      } catch (ExecutionException | CancellationException e) {
        return; // that download failed: claim again and try
      } catch (TimeoutException e) {
        if (isClosed()) {
          throw new CancellationException("the pull was abandoned");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new CancellationException("interrupted while waiting for the layer");
      }
    }
  }

  private boolean isClosed() {
    return store.isClosed(this);
  }

  /**
   * Downloads the layer into a temporary blob while {@link StreamingUnpack} unpacks it into a
   * temporary snapshot; installs both only when the blob's digest and the diff id match. The
   * temporaries are gone before the claim's failure is published to other ingests.
   */
  private void fetch(LayerSpec spec, ImageStore.Claim claim, BlobSource source, Consumer<Phase> phases) {
    try {
      try (ContentStore.Writer blob = store.content().writer(); Sink sink = new Sink(blob, spec, claim)) {
        try {
          source.copyTo(sink);
        } catch (IOException e) {
          throw new BerthException(BerthException.Kind.UNAVAILABLE,
              "cannot download the layer " + spec.digest() + ": " + e.getMessage(), e);
        }
        if (blob.size() != spec.size()) {
          throw BerthException.invalid("the blob " + spec.digest() + " has " + blob.size()
              + " bytes, its descriptor says " + spec.size());
        }
        StreamingUnpack unpack = sink.finish(); // the unpack's rest runs while the blob is forced and checked
        phases.accept(Phase.VERIFYING);
        try {
          blob.seal(spec.digest());
        } catch (BerthException e) {
          throw new BerthException(e.kind(), "the layer " + spec.digest() + " is not what it should be: "
              + e.getMessage());
        }
        phases.accept(Phase.EXTRACTING);
        StreamingUnpack.Result unpacked = unpack.await();
        if (store.install(claim, blob, unpacked.snapshot(), unpacked.diffId(), spec.mediaType(),
            unpacked.stats().contentBytes())) {
          unpack.adopt();
        }
      }
    } catch (IOException | UncheckedIOException e) {
      BerthException failure =
          BerthException.internal("cannot store the layer " + spec.digest() + ": " + e.getMessage(), e);
      store.fetchFailed(claim, failure);
      throw failure;
    } catch (RuntimeException | Error e) {
      store.fetchFailed(claim, e);
      throw e;
    }
  }

  /**
   * The config blob {@code digest} if the store has an image with that id (it is verified
   * content): a pull of an image that is there needs to download nothing.
   */
  public Optional<byte[]> storedConfig(String digest) {
    return store.imageConfig(digest);
  }

  /**
   * Adds the image: its config, its manifest (stored as given) and its layers, the blobs
   * {@code layerDigests} lowest first, each added by {@link #layer} of this ingest. Tags it
   * {@code tag} (moving the tag from any other image) unless null, and records {@code
   * repoDigest} ({@code name@sha256:…}) unless null. The image is visible when this returns.
   * An image with the same config already in the store only gets the tag and repo digest.
   *
   * @param tag a reference without digest, or null
   * @throws BerthException INVALID_ARGUMENT when the config is not a valid image config, or its
   *     rootfs.diff_ids are not the diff ids of the layers; INTERNAL for the file system
   * @throws CancellationException when the ingest was closed
   */
  public ImageRecord commit(byte[] manifest, byte[] config, List<String> layerDigests, Reference tag,
      String repoDigest) {
    if (tag != null && tag.digest() != null) {
      throw new IllegalArgumentException("a tag has no digest: " + tag);
    }
    return store.commit(this, manifest, config, List.copyOf(layerDigests), tag, repoDigest);
  }

  /**
   * Lets go of what this ingest holds; what no image refers to and no other ingest holds is
   * deleted. Downloads of this ingest that nobody else waits for stop at their next write.
   * Idempotent; may be called from any thread, while {@link #layer} runs in others.
   */
  @Override
  public void close() {
    store.close(this);
  }

  /**
   * The store's temporary file, bounded by the blob's size, abandoned when nobody holds the
   * claim; and the unpack of the same bytes, started at the first write and started over by
   * {@link #restart}. A resumed download (more bytes after a broken connection) just goes on:
   * the unpack reads the bytes that are hashed, in the same order.
   */
  private final class Sink implements BlobSink, AutoCloseable {
    private final ContentStore.Writer blob;
    private final LayerSpec spec;
    private final ImageStore.Claim claim;
    private StreamingUnpack unpack;

    Sink(ContentStore.Writer blob, LayerSpec spec, ImageStore.Claim claim) {
      this.blob = blob;
      this.spec = spec;
      this.claim = claim;
    }

    @Override
    public void write(byte[] b, int off, int len) {
      if (claim.abandoned()) {
        throw new CancellationException("the pull was abandoned");
      }
      if (blob.size() + len > spec.size()) {
        throw BerthException.invalid("the blob " + spec.digest() + " has more bytes than its descriptor's "
            + spec.size());
      }
      try {
        blob.write(b, off, len);
      } catch (IOException e) {
        throw BerthException.internal("cannot write the blob " + spec.digest() + ": " + e.getMessage(), e);
      }
      unpack().write(b, off, len);
    }

    @Override
    public long written() {
      return blob.size();
    }

    @Override
    public void restart() {
      try {
        blob.restart();
      } catch (IOException e) {
        throw BerthException.internal("cannot write the blob " + spec.digest() + ": " + e.getMessage(), e);
      }
      if (unpack != null) {
        unpack.close(); // stopped, its temporary snapshot deleted; the next write starts another
        unpack = null;
      }
    }

    /** The blob is complete: its unpack, to {@link StreamingUnpack#await}. */
    StreamingUnpack finish() {
      StreamingUnpack u = unpack();
      u.finish();
      return u;
    }

    private StreamingUnpack unpack() {
      if (unpack == null) {
        try {
          unpack = StreamingUnpack.start(store, spec, claim);
        } catch (IOException e) {
          throw BerthException.internal("cannot store the layer " + spec.digest() + ": " + e.getMessage(), e);
        }
      }
      return unpack;
    }

    /** Stops the unpack if it still runs and deletes its snapshot unless adopted. */
    @Override
    public void close() {
      if (unpack != null) {
        unpack.close();
      }
    }
  }
}
