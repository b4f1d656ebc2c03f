package dev.berth.agent.registry;

import dev.berth.agent.BerthException;
import dev.berth.agent.DaemonThreads;
import dev.berth.agent.image.ImageRecord;
import dev.berth.agent.image.ImageStore;
import dev.berth.agent.image.Ingest;
import dev.berth.agent.image.Reference;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * {@code docker pull}: brings an image from its registry into the {@link ImageStore}.
 *
 * <p>A pull resolves the reference to a manifest (from an index or manifest list, the one for
 * the puller's {@link Platform}), gets the image config (from the store when it has that image),
 * then downloads the layers the store lacks, several at a time on the puller's workers
 * (bounded for all pulls together: {@value #DEFAULT_CONCURRENT_DOWNLOADS} by default), each
 * straight into the store and unpacked as it arrives, and only kept when both its digest and
 * its diff id match ({@link Ingest}); checks that the config's
 * rootfs.diff_ids are the unpacked layers; and records the image under the reference's tag and
 * as {@code name@digest}. A layer that a concurrent pull is downloading is not downloaded again.
 *
 * <p>Thread-safe: pulls run concurrently. A failed pull leaves the store as it was: no blob,
 * snapshot or temporary of its own; a layer it was downloading for another pull as well goes
 * on for that one. Failures are {@link BerthException}s (see {@link RegistryClient}; those of
 * the content name the pull and the digest); an interrupted pulling thread gets a {@link
 * CancellationException} once the pull's downloads have stopped.
 */
public final class Puller implements AutoCloseable {
  public static final int DEFAULT_CONCURRENT_DOWNLOADS = 3;
  static final long MAX_CONFIG_BYTES = 16 << 20;
  /** The shortest time between two progress events of a layer's download (Docker's: 100 ms). */
  static final long PROGRESS_INTERVAL_MILLIS = 100;
  private static final Logger LOG = Logger.getLogger(Puller.class.getName());

  /** Told of each pull that succeeded, whoever asked for it: the agent's event log. Must be quick; never throws. */
  @FunctionalInterface
  public interface Pulled {
    Pulled NONE = (reference, image) -> { };

    /** {@code reference} as pulled (familiar form), and the image it gave. */
    void pulled(String reference, ImageRecord image);
  }

  private final RegistryClient client;
  private final ImageStore store;
  private final Platform platform;
  private final ExecutorService workers;
  private final Pulled pulled;

  /** A puller for the host's platform with {@value #DEFAULT_CONCURRENT_DOWNLOADS} concurrent downloads. */
  public Puller(RegistryClient client, ImageStore store) {
    this(client, store, Pulled.NONE);
  }

  /** As {@link #Puller(RegistryClient, ImageStore)}, telling {@code pulled} of each pull. */
  public Puller(RegistryClient client, ImageStore store, Pulled pulled) {
    this(client, store, DEFAULT_CONCURRENT_DOWNLOADS, Platform.host(), pulled);
  }

  /**
   * @param maxConcurrentDownloads layers downloaded (and unpacked, each on a thread of its own
   *     meanwhile) at once, by all pulls
   * @param platform what to pick from an index
   */
  public Puller(RegistryClient client, ImageStore store, int maxConcurrentDownloads, Platform platform) {
    this(client, store, maxConcurrentDownloads, platform, Pulled.NONE);
  }

  private Puller(RegistryClient client, ImageStore store, int maxConcurrentDownloads, Platform platform, Pulled pulled) {
    if (maxConcurrentDownloads < 1) {
      throw new IllegalArgumentException("maxConcurrentDownloads must be at least 1: " + maxConcurrentDownloads);
    }
    this.client = client;
    this.store = store;
    this.platform = platform;
    this.pulled = pulled;
    this.workers = Executors.newFixedThreadPool(maxConcurrentDownloads, DaemonThreads.numbered("berth-pull-"));
  }

  /**
   * Pulls {@code reference} ({@code name[:tag]} or {@code name@sha256:…}, as {@code docker
   * pull} takes it) and returns the image, which is in the store, tagged (for a tag
   * reference), when this returns.
   *
   * @param creds for the reference's registry, or null for anonymous
   * @param listener hears the progress, from this thread and the workers (null: nobody)
   * @throws BerthException INVALID_ARGUMENT for an invalid reference or content, NOT_FOUND
   *     when the registry has no such manifest or none for the platform, and see {@link
   *     RegistryClient}
   */
  public ImageRecord pull(String reference, Credentials creds, PullListener listener) {
    Reference ref = Reference.parse(reference);
    Events events = new Events(listener == null ? PullListener.NONE : listener);
    String named = ref.toString();
    String wanted = ref.digest() != null ? ref.digest() : ref.tag();
    events.status(wanted + ": Pulling from " + ref.path());

    RegistryClient.Manifest top = client.manifest(ref, wanted, creds);
    RegistryClient.Manifest manifest = top;
    if (Manifests.isIndex(top.mediaType(), top.content(), "the index of " + named)) {
      Manifests.Descriptor chosen = select(named, top.content());
      manifest = client.manifest(ref, chosen.digest(), creds);
      if (Manifests.isIndex(manifest.mediaType(), manifest.content(), "the manifest " + chosen.digest())) {
        throw BerthException.invalid("the index of " + named + " lists another index for " + platform
            + ": nested indexes are not supported");
      }
    }
    Manifests.Image image = Manifests.image(manifest.mediaType(), manifest.content(), "the manifest of " + named);
    Reference tag = ref.digest() == null ? ref : null;
    Optional<ImageRecord> before = tag == null ? Optional.empty() : store.find(tag.toString());

    try (Ingest ingest = store.ingest()) {
      String configDigest = image.config().digest();
      byte[] config = ingest.storedConfig(configDigest)
          .orElseGet(() -> client.blob(ref, configDigest, MAX_CONFIG_BYTES, creds));
      if (config.length != image.config().size()) {
        throw BerthException.invalid("the image config " + configDigest + " of " + named + " has " + config.length
            + " bytes, its manifest says " + image.config().size());
      }
      Manifests.ConfigInfo info = Manifests.config(config, "the image config of " + named);
      if (!info.os().isEmpty() && !info.os().equals(platform.os())) {
        throw BerthException.failedPrecondition("the image " + named + " is for the operating system \"" + info.os()
            + "\", which cannot be used on this platform (" + platform + ")");
      }
      if (!info.architecture().isEmpty() && !info.architecture().equals(platform.architecture())) {
        events.status("WARNING: the image's platform (" + info.os() + "/" + info.architecture()
            + ") does not match the host's (" + platform + ")");
      }
      if (info.diffIds().size() != image.layers().size()) {
        throw BerthException.invalid("the manifest of " + named + " lists " + image.layers().size()
            + " layers, but its image config " + info.diffIds().size());
      }
      Map<String, Ingest.LayerSpec> layers = new LinkedHashMap<>();
      for (int i = 0; i < image.layers().size(); i++) {
        Manifests.Descriptor d = image.layers().get(i);
        Ingest.LayerSpec spec = new Ingest.LayerSpec(d.digest(), d.size(), d.mediaType(), info.diffIds().get(i));
        Ingest.LayerSpec other = layers.putIfAbsent(d.digest(), spec);
        if (other != null && !other.diffId().equals(spec.diffId())) {
          throw BerthException.invalid("the image config of " + named + " lists two diff ids for the layer "
              + d.digest());
        }
      }
      boolean downloaded = download(ingest, ref, creds, List.copyOf(layers.values()), events);
      events.status("Digest: " + top.digest());
      ImageRecord record;
      try {
        record = ingest.commit(manifest.content(), config,
            image.layers().stream().map(Manifests.Descriptor::digest).toList(), tag, ref.name() + "@" + top.digest());
      } catch (BerthException e) {
        throw inContext(ref, e);
      }
      boolean upToDate = !downloaded && before.isPresent() && before.get().id().equals(record.id());
      events.status("Status: " + (upToDate ? "Image is up to date for " : "Downloaded newer image for ")
          + ref.familiar());
      pulled.pulled(ref.familiar(), record);
      return record;
    }
  }

  /** The manifest of the index for the platform. */
  private Manifests.Descriptor select(String named, byte[] index) {
    List<Manifests.Descriptor> entries = Manifests.index(index, "the index of " + named);
    for (Manifests.Descriptor d : entries) {
      if (d.platform() != null && platform.matches(d.platform())) {
        return d;
      }
    }
    List<String> offered = entries.stream().map(Manifests.Descriptor::platform)
        .filter(p -> p != null && !p.os().equals("unknown")).map(Platform::toString).distinct().toList();
    throw BerthException.notFound("no matching manifest for " + platform + " in the manifest list of " + named
        + ": it offers " + (offered.isEmpty() ? "no platform" : String.join(", ", offered)));
  }

  /**
   * Gets the layers into the store, on the workers; the first failure abandons the others.
   * Returns whether any was downloaded (by this pull or one it waited for).
   */
  private boolean download(Ingest ingest, Reference ref, Credentials creds, List<Ingest.LayerSpec> layers,
      Events events) {
    layers.forEach(l -> events.layer(l, 0, PullListener.State.WAITING));
    AtomicReference<RuntimeException> failure = new AtomicReference<>();
    AtomicBoolean downloaded = new AtomicBoolean();
    List<CompletableFuture<Void>> tasks = new ArrayList<>();
    for (Ingest.LayerSpec spec : layers) {
      Runnable task = () -> {
        if (failure.get() != null) {
          return;
        }
        try {
          if (fetch(ingest, ref, creds, spec, events) != Ingest.Outcome.ALREADY_EXISTS) {
            downloaded.set(true);
          }
        } catch (RuntimeException | Error e) {
          RuntimeException r = e instanceof RuntimeException re ? re
              : BerthException.internal("the download of the layer " + spec.digest() + " failed: " + e, e);
          if (failure.compareAndSet(null, r)) {
            ingest.close(); // abandons the other downloads of this pull
          }
        }
      };
      try {
        tasks.add(CompletableFuture.runAsync(task, workers));
      } catch (RejectedExecutionException e) {
        failure.compareAndSet(null, new IllegalStateException("the puller is closed"));
        ingest.close();
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
          failure.compareAndSet(null, new CancellationException("the pull of " + ref + " was interrupted"));
          ingest.close();
        } catch (ExecutionException e) {
          break; // the task records its failure itself
        }
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    if (failure.get() != null) {
      throw failure.get();
    }
    return downloaded.get();
  }

  private Ingest.Outcome fetch(Ingest ingest, Reference ref, Credentials creds, Ingest.LayerSpec spec, Events events) {
    Ingest.Outcome outcome;
    try {
      outcome = ingest.layer(spec, sink -> {
        events.layer(spec, 0, PullListener.State.DOWNLOADING);
        try {
          client.blob(ref, spec.digest(), creds, new Progress(sink, spec, events));
        } catch (BerthException e) {
          throw new FromRegistry(e);
        }
      }, phase -> events.layer(spec, spec.size(),
          phase == Ingest.Phase.VERIFYING ? PullListener.State.VERIFYING : PullListener.State.EXTRACTING));
    } catch (FromRegistry e) {
      throw e.failure;
    } catch (BerthException e) {
      throw inContext(ref, e);
    }
    events.layer(spec, spec.size(),
        outcome == Ingest.Outcome.ALREADY_EXISTS ? PullListener.State.ALREADY_EXISTS : PullListener.State.DONE);
    return outcome;
  }

  /** A failure of the content (not of the registry), named for the pull. */
  private static BerthException inContext(Reference ref, BerthException e) {
    return new BerthException(e.kind(), "cannot pull " + ref.familiar() + ": " + e.getMessage(), e);
  }

  /** Stops the workers; pulls running then fail. */
  @Override
  public void close() {
    workers.shutdownNow();
  }

  /** Carries a registry failure, which names its registry already, through the store. */
  private static final class FromRegistry extends RuntimeException {
    private static final long serialVersionUID = 1L;
    final BerthException failure;

    FromRegistry(BerthException failure) {
      super(failure.getMessage(), failure, false, false);
      this.failure = failure;
    }
  }

  /**
   * Reports the download of one layer: about every 1% (at least 64 KiB, at most 512 KiB), but
   * not more often than every {@value #PROGRESS_INTERVAL_MILLIS} ms, the first step and the
   * end at once. Docker's progress reader limits itself the same way: a terminal shows no
   * more, and on a fast link every 1% of five layers was 500 events a second for the Pull
   * stream to carry.
   */
  private static final class Progress implements Ingest.BlobSink {
    private final Ingest.BlobSink sink;
    private final Ingest.LayerSpec spec;
    private final Events events;
    private final long step;
    private long reported;
    private long reportedAt = System.nanoTime() - TimeUnit.MILLISECONDS.toNanos(PROGRESS_INTERVAL_MILLIS);

    Progress(Ingest.BlobSink sink, Ingest.LayerSpec spec, Events events) {
      this.sink = sink;
      this.spec = spec;
      this.events = events;
      this.step = Math.max(Math.min(spec.size() / 100, 512 << 10), 64 << 10);
    }

    @Override
    public void write(byte[] b, int off, int len) {
      sink.write(b, off, len);
      long done = sink.written();
      if (done == spec.size() || (done - reported >= step
          && System.nanoTime() - reportedAt >= TimeUnit.MILLISECONDS.toNanos(PROGRESS_INTERVAL_MILLIS))) {
        reported = done;
        reportedAt = System.nanoTime();
        events.layer(spec, done, PullListener.State.DOWNLOADING);
      }
    }

    @Override
    public long written() {
      return sink.written();
    }

    @Override
    public void restart() {
      sink.restart();
      reported = 0;
      events.layer(spec, 0, PullListener.State.DOWNLOADING);
    }
  }

  /** The listener, with what it throws ignored. */
  private record Events(PullListener listener) {
    void layer(Ingest.LayerSpec spec, long done, PullListener.State state) {
      try {
        listener.layer(new PullListener.LayerEvent(spec.digest(), spec.size(), done, state));
      } catch (RuntimeException e) {
        LOG.log(Level.FINE, "a pull listener failed", e);
      }
    }

    void status(String line) {
      try {
        listener.status(line);
      } catch (RuntimeException e) {
        LOG.log(Level.FINE, "a pull listener failed", e);
      }
    }
  }
}
