package dev.berth.agent.registry;

import dev.berth.agent.BerthException;
import dev.berth.agent.DaemonThreads;
import dev.berth.agent.image.ImageExport;
import dev.berth.agent.image.ImageStore;
import dev.berth.agent.image.Reference;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * {@code docker push}: uploads an image of the {@link ImageStore} to a registry.
 *
 * <p>The image is the one the reference ({@code name[:tag]}) names in the store; it goes to
 * that name's registry and repository, under that tag. Each layer blob is uploaded unless the
 * repository has it ({@code HEAD} → {@link PushListener.State#ALREADY_EXISTS}); a layer of an
 * image pulled from another repository of the same registry is first mounted from there
 * ({@code POST …/blobs/uploads/?mount=&from=}, 201 → {@link PushListener.State#MOUNTED}; a
 * registry that will not mount starts an upload instead, which is used). Blobs up to the chunk
 * threshold ({@value #DEFAULT_CHUNK_THRESHOLD} bytes by default) are uploaded in one {@code
 * PUT}, larger ones in {@code PATCH}es of that size and a closing {@code PUT ?digest=}. The
 * layers go several at a time, each check, mount and upload on one of the pusher's workers
 * (bounded for all pushes together: {@value #DEFAULT_CONCURRENT_UPLOADS} by default); the
 * first layer that fails stops the others (those uploading are interrupted, the rest never
 * start), and the push fails with its failure once none of them runs any more. When all layers
 * are there, the config blob, and last the manifest ({@code PUT …/manifests/TAG}), so the
 * registry never holds a manifest whose blobs it lacks.
 *
 * <p>The manifest of a pulled image is pushed as the store has it, byte for byte, so its digest
 * is the one it was pulled by. An imported image (its layer stored as given, maybe an
 * uncompressed tar) gets a manifest built at push time: an OCI manifest over gzip-compressed
 * layers, each uncompressed layer compressed on the fly into a temporary of the store
 * (deterministic, so pushing again gives the same digests); the config, and so its diff_ids,
 * is unchanged.
 *
 * <p>Token auth asks for {@code repository:NAME:pull,push}, plus {@code repository:FROM:pull}
 * for each repository a mount may come from. Failures are {@link RegistryClient}'s: NOT_FOUND
 * "No such image: REF" when the store has no such image, FAILED_PRECONDITION "unauthorized: …
 * (use berth login)", UNAVAILABLE when the registry cannot be reached. The image's blobs are
 * held while it is pushed (an {@link ImageExport}): an {@code rmi} meanwhile does not pull
 * them away. Thread-safe: pushes run concurrently, each on its calling thread and the shared
 * workers. An interrupted pushing thread gets a {@link CancellationException} once the push's
 * uploads have stopped.
 */
public final class Pusher implements AutoCloseable {
  /** Blobs above this many bytes are uploaded in chunks of this size: 8 MiB. */
  public static final int DEFAULT_CHUNK_THRESHOLD = 8 << 20;
  /**
   * Layers uploaded at once by all pushes: Docker's default (max-concurrent-uploads), which
   * keeps an upload link busy without opening more connections than a registry expects of one
   * client.
   */
  public static final int DEFAULT_CONCURRENT_UPLOADS = 5;
  private static final Logger LOG = Logger.getLogger(Pusher.class.getName());

  private final RegistryClient client;
  private final ImageStore store;
  private final int chunkSize;
  private final ExecutorService workers;

  /** A pusher with chunks of {@value #DEFAULT_CHUNK_THRESHOLD} bytes and {@value #DEFAULT_CONCURRENT_UPLOADS} concurrent uploads. */
  public Pusher(RegistryClient client, ImageStore store) {
    this(client, store, DEFAULT_CHUNK_THRESHOLD);
  }

  /** @param chunkSize blobs larger than this are uploaded in chunks of this many bytes */
  Pusher(RegistryClient client, ImageStore store, int chunkSize) {
    this(client, store, chunkSize, DEFAULT_CONCURRENT_UPLOADS);
  }

  /**
   * @param chunkSize blobs larger than this are uploaded in chunks of this many bytes
   * @param maxConcurrentUploads layers checked, mounted or uploaded at once, by all pushes
   */
  public Pusher(RegistryClient client, ImageStore store, int chunkSize, int maxConcurrentUploads) {
    if (chunkSize < 1) {
      throw new IllegalArgumentException("chunkSize must be positive: " + chunkSize);
    }
    if (maxConcurrentUploads < 1) {
      throw new IllegalArgumentException("maxConcurrentUploads must be at least 1: " + maxConcurrentUploads);
    }
    this.client = client;
    this.store = store;
    this.chunkSize = chunkSize;
    this.workers = Executors.newFixedThreadPool(maxConcurrentUploads, DaemonThreads.numbered("berth-push-"));
  }

  /**
   * Pushes the image {@code reference} ({@code name[:tag]}) names in the store to that name's
   * registry and returns the digest of the manifest pushed.
   *
   * @param creds for the reference's registry, or null for anonymous
   * @param listener hears the progress, from this thread and the workers, one call at a time
   *     (null: nobody)
   * @throws BerthException INVALID_ARGUMENT for an invalid reference or one with a digest,
   *     NOT_FOUND when the store has no such image, and see {@link RegistryClient}; the first
   *     layer's failure when several fail
   */
  public String push(String reference, Credentials creds, PushListener listener) {
    Reference ref = Reference.parse(reference);
    if (ref.digest() != null) {
      throw BerthException.invalid("cannot push " + reference + ": give a name[:tag], not a digest");
    }
    Events events = new Events(listener == null ? PushListener.NONE : listener);
    try (ImageExport image = store.export(ref.toString())) {
      events.status("The push refers to repository [" + ref.name() + "]");
      boolean pulled = !image.sources().isEmpty();
      List<ImageExport.Layer> layers = new ArrayList<>();
      for (ImageExport.Layer l : image.layers()) {
        if (pulled) {
          layers.add(l);
        } else {
          events.layer(l.digest(), l.size(), 0, PushListener.State.PREPARING);
          layers.add(image.gzipped(l));
        }
      }
      byte[] manifest = pulled ? image.manifest() : image.ociManifest(layers);
      String mediaType = pulled ? image.manifestMediaType() : "application/vnd.oci.image.manifest.v1+json";

      Map<String, ImageExport.Layer> distinct = new LinkedHashMap<>();
      layers.forEach(l -> distinct.putIfAbsent(l.digest(), l));
      Set<String> mountFrom = new LinkedHashSet<>();
      Map<String, List<String>> candidates = new LinkedHashMap<>();
      for (ImageExport.Layer l : distinct.values()) {
        List<String> from = new ArrayList<>();
        for (String source : l.sources()) {
          int slash = source.indexOf('/');
          if (slash > 0 && source.substring(0, slash).equals(ref.domain())
              && !source.substring(slash + 1).equals(ref.path())) {
            from.add(source.substring(slash + 1));
          }
        }
        candidates.put(l.digest(), from);
        mountFrom.addAll(from);
      }
      RegistryClient.Repo target = client.pushTarget(ref, mountFrom);
      byte[] config = image.config();
      String configDigest = image.image().id();
      // Asked first, on this thread, because it authenticates once (a token with the push
      // scope) for all the workers, which would otherwise each ask for one at the same time.
      boolean hasConfig = client.blobExists(target, configDigest, creds);
      distinct.values().forEach(l -> events.layer(l.digest(), l.size(), 0, PushListener.State.WAITING));
      List<Runnable> uploads = new ArrayList<>();
      for (ImageExport.Layer l : distinct.values()) {
        uploads.add(() -> pushBlob(target, l.digest(), l.size(), () -> image.openBlob(l.digest()),
            candidates.get(l.digest()), creds, events));
      }
      uploadAll(ref, uploads);
      if (!hasConfig) {
        client.upload(target, configDigest, config.length, () -> new ByteArrayInputStream(config), null, chunkSize,
            chunkSize, creds, done -> {});
      }
      String digest = client.putManifest(target, ref.tag(), mediaType, manifest, creds);
      events.status(ref.tag() + ": digest: " + digest + " size: " + manifest.length);
      return digest;
    } catch (IOException | UncheckedIOException e) {
      throw BerthException.internal("cannot read the image " + ref.familiar() + " to push it: " + e.getMessage(), e);
    }
  }

  private void pushBlob(RegistryClient.Repo target, String digest, long size, RegistryClient.BlobOpener content,
      List<String> mountFrom, Credentials creds, Events events) {
    if (client.blobExists(target, digest, creds)) {
      events.layer(digest, size, size, PushListener.State.ALREADY_EXISTS);
      return;
    }
    URI session = null;
    if (!mountFrom.isEmpty()) {
      session = client.startUpload(target, digest, mountFrom.get(0), creds);
      if (session == null) {
        events.layer(digest, size, size, PushListener.State.MOUNTED);
        return;
      }
    }
    events.layer(digest, size, 0, PushListener.State.PUSHING);
    client.upload(target, digest, size, content, session, chunkSize, chunkSize, creds,
        done -> events.layer(digest, size, done, PushListener.State.PUSHING));
    events.layer(digest, size, size, PushListener.State.PUSHED);
  }

  /**
   * Runs the uploads on the workers and returns once all are done; the first failure stops
   * the others and is thrown when none of them runs any more (the image's blobs must stay
   * held until then).
   */
  private void uploadAll(Reference ref, List<Runnable> uploads) {
    Batch batch = new Batch();
    List<CompletableFuture<Void>> tasks = new ArrayList<>();
    for (Runnable upload : uploads) {
      try {
        tasks.add(CompletableFuture.runAsync(() -> batch.run(upload), workers));
      } catch (RejectedExecutionException e) {
        batch.fail(new IllegalStateException("the pusher is closed"));
        break;
      }
    }
    boolean interrupted = false;
    for (CompletableFuture<Void> t : tasks) {
      while (true) {
        try {
          t.get();
          break;
        } catch (InterruptedException e) {
          interrupted = true;
          batch.fail(new CancellationException("the push of " + ref + " was interrupted"));
        } catch (ExecutionException e) {
          break; // the batch records its failure itself
        }
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    batch.throwFailure();
  }

  /** Stops the workers; pushes running then fail. */
  @Override
  public void close() {
    workers.shutdownNow();
  }

  /**
   * The uploads of one push: the first failure is kept, the uploads running then are
   * interrupted (the HTTP client gives up on an interrupt), and those not started yet skip.
   */
  private static final class Batch {
    private final Set<Thread> running = new HashSet<>();
    private RuntimeException failure;

    void run(Runnable upload) {
      synchronized (this) {
        if (failure != null) {
          return;
        }
        running.add(Thread.currentThread());
      }
      try {
        upload.run();
      } catch (RuntimeException e) {
        fail(e);
      } catch (Error e) {
        fail(BerthException.internal("a layer upload failed: " + e, e));
      } finally {
        synchronized (this) {
          running.remove(Thread.currentThread());
          // An interrupt meant for this upload must not reach the worker's next one.
          Thread.interrupted();
        }
      }
    }

    synchronized void fail(RuntimeException e) {
      if (failure == null) {
        failure = e;
        running.stream().filter(t -> t != Thread.currentThread()).forEach(Thread::interrupt);
      }
    }

    synchronized void throwFailure() {
      if (failure != null) {
        throw failure;
      }
    }
  }

  /**
   * The listener, with what it throws ignored; its calls are serialized, since the workers
   * report concurrently and listeners such as a gRPC stream must not be called so.
   */
  private static final class Events {
    private final PushListener listener;

    Events(PushListener listener) {
      this.listener = listener;
    }

    synchronized void layer(String digest, long total, long done, PushListener.State state) {
      try {
        listener.layer(new PushListener.LayerEvent(digest, total, done, state));
      } catch (RuntimeException e) {
        LOG.log(Level.FINE, "a push listener failed", e);
      }
    }

    synchronized void status(String line) {
      try {
        listener.status(line);
      } catch (RuntimeException e) {
        LOG.log(Level.FINE, "a push listener failed", e);
      }
    }
  }
}
