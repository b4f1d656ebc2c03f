package dev.berth.agent.image;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.berth.agent.AtomicFiles;
import dev.berth.agent.BerthException;
import dev.berth.agent.runtime.Syscalls;
import java.io.BufferedInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import java.util.regex.Pattern;

/**
 * The images of one agent: {@code docker import}, {@code pull} (through {@link #ingest}),
 * {@code images}, {@code inspect}, {@code tag} and {@code rmi}. Laid out as an OCI content
 * store:
 *
 * <pre>
 * ROOT/blobs/sha256/HEX        layer blobs as given (or pulled), image configs, manifests
 * ROOT/snapshots/DIFFID-HEX/   each layer unpacked once, shared by the images that have it;
 *                              an overlayfs lower dir, never written after it is complete
 * ROOT/images.json             the index: id, manifest, tags, repo digests and layers of
 *                              every image
 * </pre>
 *
 * An image's id is the digest of its config blob; its tags are normalized references ({@link
 * Reference}); a tag names one image at a time. Blobs and snapshots are complete before the
 * index refers to them (temporaries, {@code .tmp-*}, are renamed into place), and the index is
 * replaced atomically, so after kill -9 or a power loss the store holds what the last finished
 * call left; what a crash leaves unreferenced is deleted when the store is opened.
 *
 * <p>Thread-safe. An import or pull reads, hashes and unpacks its layers without holding the
 * store's lock, so they run in parallel and do not hold up readers; every change of what the
 * store holds (adopting a snapshot or blob, the index, deleting) happens under one lock, so a
 * layer is never deleted while an import adopts it and readers always see a consistent store.
 * A layer an open {@link Ingest} holds is not deleted either, even before an image refers to
 * it.
 *
 * <p>Failures are {@link BerthException}s: INVALID_ARGUMENT (bad reference, hostile or
 * malformed tar), NOT_FOUND, FAILED_PRECONDITION (image in use), RESOURCE_EXHAUSTED (layer
 * limits), INTERNAL (the file system). A failed call leaves the store as it was, with no
 * snapshot, blob or temporary of its own behind.
 */
public final class ImageStore {
  private static final String INDEX = "images.json";
  private static final String TEMP = ContentStore.TEMP_PREFIX;
  private static final Pattern HEX_PREFIX = Pattern.compile("[a-f0-9]{4,64}");
  private static final Pattern ID_PREFIX = Pattern.compile("sha256:[a-f0-9]{4,64}");

  private final Path root;
  private final Path snapshots;
  private final Path index;
  private final ContentStore content;
  private final LayerUnpacker unpacker;
  private final LayerLimits limits;
  private final Object lock = new Object();
  /** By id, oldest first. Replaced as a whole, never changed in place. Guarded by lock. */
  private Map<String, Entry> images;

  /**
   * Hot metadata, bounded: what a reference string resolved to (an image id and the tag), and
   * image config blobs by id. Both are dropped whenever the index changes (tag, remove, import,
   * pull, prune), under the lock, so a reader never sees a stale resolution.
   */
  private final Cache<String, Resolution> resolutions = Caffeine.newBuilder().maximumSize(4_096).build();
  private final Cache<String, byte[]> configs = Caffeine.newBuilder()
      .maximumWeight(32L << 20).weigher((String k, byte[] v) -> v.length).build();

  private record Resolution(String id, String tag) {}

  /** Claims of ingests, by layer blob digest. Guarded by lock. */
  private final Map<String, Claim> claims = new HashMap<>();

  private record Layer(String diffId, String digest, String mediaType, long size, long unpackedSize) {}

  /**
   * One image. {@code sources} are the repositories ({@code registry/path}) it was pulled
   * from, kept for cross-repository mounts when its layers are pushed.
   */
  private record Entry(ImageRecord record, String manifest, List<Layer> layers, List<String> sources) {
    Entry(ImageRecord record, String manifest, List<Layer> layers) {
      this(record, manifest, layers, List.of());
    }

    Entry withSource(String source) {
      if (sources.contains(source)) {
        return this;
      }
      List<String> more = new ArrayList<>(sources);
      more.add(source);
      return new Entry(record, manifest, layers, List.copyOf(more));
    }

    Entry withTags(List<String> tags) {
      return with(tags, record.repoDigests());
    }

    Entry withRepoDigests(List<String> repoDigests) {
      return with(record.repoTags(), repoDigests);
    }

    private Entry with(List<String> tags, List<String> repoDigests) {
      ImageRecord r = record;
      return new Entry(new ImageRecord(r.id(), tags, r.diffIds(), r.config(), r.sizeBytes(), r.created(), r.os(),
          r.architecture(), repoDigests), manifest, layers, sources);
    }
  }

  /**
   * A layer blob that {@link Ingest}s hold: it is kept (blob and snapshot) while any holds it,
   * even before an image refers to it. {@code layer} is set once the layer is in the store;
   * until then {@code fetch} is the download in flight (or the one that failed). Guarded by
   * lock, except {@code holders}, which the downloading thread reads to notice that nobody
   * wants the layer any more.
   */
  static final class Claim {
    final String digest;
    final AtomicInteger holders = new AtomicInteger();
    private Layer layer;
    private CompletableFuture<Void> fetch;

    private Claim(String digest) {
      this.digest = digest;
    }

    boolean abandoned() {
      return holders.get() == 0;
    }
  }

  /** What {@link #claim} found. */
  enum ClaimKind {
    /** The layer is in the store. */
    PRESENT,
    /** The caller downloads the layer and completes {@code fetch} (through {@link #install} or {@link #fetchFailed}). */
    FETCH,
    /** Another ingest is downloading the layer: wait for {@code fetch}, then claim again. */
    JOIN
  }

  record ClaimResult(Claim claim, ClaimKind kind, CompletableFuture<Void> fetch) {}

  /** An image found by a reference; {@code tag} is set when the reference was a tag. */
  private record Resolved(Entry entry, String tag) {}

  /**
   * Opens (or creates) the store at {@code root}: reads the index, deletes temporaries and
   * whatever no image refers to.
   *
   * @throws BerthException INTERNAL when the store cannot be read, or is damaged
   */
  public ImageStore(Path root, Syscalls syscalls, LayerLimits limits) {
    this.root = root;
    this.snapshots = root.resolve("snapshots");
    this.index = root.resolve(INDEX);
    this.unpacker = new LayerUnpacker(syscalls, limits);
    this.limits = limits;
    try {
      Files.createDirectories(snapshots);
      this.content = new ContentStore(root);
      content.removeTemporaries();
      deleteTemporaries(snapshots, TEMP + "*");
      deleteTemporaries(root, "." + INDEX + ".tmp-*");
      synchronized (lock) {
        images = load();
        Set<String> layers = new HashSet<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(snapshots)) {
          s.forEach(p -> layers.add("sha256:" + p.getFileName()));
        }
        for (Path trash : release(images, layers, content.digests(), new ArrayList<>())) {
          FileTrees.deleteRecursively(trash);
        }
      }
    } catch (IOException | UncheckedIOException e) {
      throw BerthException.internal("cannot open the image store at " + root + ": " + e.getMessage(), e);
    }
  }

  /**
   * Creates an image of one layer from a tar (plain or gzip, told by its first bytes), tagged
   * {@code req.reference()} (the tag moves from any image that had it). The layer is stored as
   * given; its diff id is the sha256 of the uncompressed tar, and a layer stored before (same
   * diff id) is reused. {@code tar} is read to its end and not closed.
   */
  public ImageRecord importTar(InputStream tar, ImportRequest req) {
    Reference ref = req.reference().isBlank() ? null : Reference.parse(req.reference());
    if (ref != null && ref.digest() != null) {
      throw BerthException.invalid("cannot import as " + req.reference() + ": give a name[:tag], not a digest");
    }
    for (String e : req.env()) {
      if (e.indexOf('=') <= 0) {
        throw BerthException.invalid("invalid environment variable \"" + e + "\": use KEY=VALUE");
      }
    }
    for (String p : req.exposedPorts()) {
      if (!p.matches("[0-9]{1,5}(/(tcp|udp))?")) {
        throw BerthException.invalid("invalid exposed port \"" + p + "\": use PORT or PORT/tcp or PORT/udp");
      }
    }
    ImageConfig config = new ImageConfig(req.entrypoint(), req.cmd(), req.env(), req.workingDir(), req.user(), null,
        null, req.exposedPorts().stream().map(p -> p.contains("/") ? p : p + "/tcp").toList(), null);
    try {
      return addLayer(tar, null, config, ref, "berth import", "imported from a tar");
    } catch (IOException | UncheckedIOException e) {
      throw BerthException.internal("cannot import the image: " + e.getMessage(), e);
    }
  }

  /**
   * A new image of {@code base}'s layers and {@code layer} on top, with {@code config}: what
   * {@code berth commit} makes of a container's writable layer. The layer is unpacked into
   * its snapshot like any other.
   *
   * @param base the image the container runs (id or reference)
   * @param reference name[:tag] for the new image, or blank for an untagged one
   * @throws BerthException NOT_FOUND when the base is gone, INVALID_ARGUMENT for a bad
   *     reference or layer
   */
  public ImageRecord commit(String base, InputStream layer, ImageConfig config, String reference, String comment) {
    Reference ref = reference == null || reference.isBlank() ? null : Reference.parse(reference);
    if (ref != null && ref.digest() != null) {
      throw BerthException.invalid("cannot commit as " + reference + ": give a name[:tag], not a digest");
    }
    Entry baseEntry;
    synchronized (lock) {
      baseEntry = images.get(get(base).id());
    }
    try {
      return addLayer(layer, baseEntry, config, ref, "berth commit", comment);
    } catch (IOException | UncheckedIOException e) {
      throw BerthException.internal("cannot commit the image: " + e.getMessage(), e);
    }
  }

  private ImageRecord addLayer(InputStream tar, Entry base, ImageConfig config, Reference ref, String createdBy,
      String comment) throws IOException {
    Path tmp = snapshots.resolve(TEMP + Long.toHexString(ThreadLocalRandom.current().nextLong()));
    boolean adopted = false;
    try (ContentStore.Writer blob = content.writer()) {
      Files.createDirectory(tmp);
      Files.setAttribute(tmp, "unix:mode", 0755); // the container's "/" unless the tar has "./"
      BufferedInputStream raw = new BufferedInputStream(new Tee(tar, blob), 64 * 1024);
      Compression compression = Compression.detect(raw);
      MessageDigest diff = ContentStore.sha256();
      LayerUnpacker.Stats stats;
      try (InputStream plain = new DigestInputStream(compression.decompress(raw), diff)) {
        stats = unpacker.unpack(plain, tmp);
        raw.transferTo(OutputStream.nullOutputStream()); // the blob is the input as given, all of it
      } catch (IOException e) {
        throw BerthException.invalid("cannot read the tar: " + e.getMessage());
      }
      String diffId = ContentStore.digestOf(diff);
      ContentStore.Descriptor blobDesc = blob.seal(null);
      FileTrees.syncTree(tmp);
      Layer layer = new Layer(diffId, blobDesc.digest(), compression.mediaType(), blobDesc.size(), stats.contentBytes());
      List<Layer> layers = new ArrayList<>(base == null ? List.of() : base.layers());
      layers.add(layer);
      List<String> diffIds = layers.stream().map(Layer::diffId).toList();
      OciJson.Config oci = new OciJson.Config(config, "linux", architecture(), Instant.now(), diffIds);
      byte[] configJson = OciJson.config(oci, createdBy, comment);

      List<Path> trash = List.of();
      synchronized (lock) {
        Set<String> blobs = new HashSet<>(Set.of(blobDesc.digest()));
        try {
          Path snapshot = snapshots.resolve(ContentStore.hex(diffId));
          if (!Files.isDirectory(snapshot, LinkOption.NOFOLLOW_LINKS)) {
            AtomicFiles.rename(tmp, snapshot);
            adopted = true;
          }
          if (base != null && !images.containsKey(base.record().id())) {
            // Its layers may be gone with it: nothing may be built on them now.
            throw BerthException.notFound("the image " + base.record().id() + " was removed while the commit ran");
          }
          blob.install();
          ContentStore.Descriptor cfg = content.put(configJson);
          blobs.add(cfg.digest());
          ContentStore.Descriptor manifest = content.put(OciJson.manifest(cfg, layers.stream()
              .map(l -> new OciJson.LayerRef(l.mediaType(), l.digest(), l.size())).toList()));
          blobs.add(manifest.digest());
          ImageRecord record = new ImageRecord(cfg.digest(), List.of(), diffIds, config,
              layers.stream().mapToLong(Layer::unpackedSize).sum(), oci.created(), oci.os(), oci.architecture());
          Map<String, Entry> next = new LinkedHashMap<>(images);
          next.putIfAbsent(record.id(), new Entry(record, manifest.digest(), List.copyOf(layers)));
          if (ref != null) {
            next = withTag(next, record.id(), ref.toString());
          }
          persist(next);
          setImages(next);
          return next.get(record.id()).record();
        } catch (IOException | RuntimeException e) {
          try {
            trash = release(images, Set.of(diffId), blobs, new ArrayList<>());
          } catch (RuntimeException cleanup) {
            e.addSuppressed(cleanup);
          }
          throw e;
        } finally {
          deleteQuietly(trash);
        }
      }
    } finally {
      if (!adopted) {
        deleteQuietly(List.of(tmp));
      }
    }
  }

  /**
   * The image {@code ref} names: name[:tag] (or name@digest), the full id {@code sha256:…},
   * the bare hex id or a unique prefix of it (at least 4 hex digits). A name is looked up
   * first, as Docker does.
   *
   * @throws BerthException NOT_FOUND "No such image: REF"; INVALID_ARGUMENT for an invalid
   *     reference or an ambiguous id prefix
   */
  public ImageRecord get(String ref) {
    return find(ref).orElseThrow(() -> BerthException.notFound("No such image: " + ref));
  }

  /** Like {@link #get}, empty when there is no such image. */
  public Optional<ImageRecord> find(String ref) {
    synchronized (lock) {
      return resolve(ref).map(r -> r.entry().record());
    }
  }

  /** All images, newest first. */
  public List<ImageRecord> list() {
    synchronized (lock) {
      return images.values().stream().map(Entry::record)
          .sorted(Comparator.comparing(ImageRecord::created).reversed().thenComparing(ImageRecord::id))
          .toList();
    }
  }

  /**
   * The snapshot directories of {@code image}'s layers, lowest first: the overlayfs lower
   * dirs (overlayfs wants them highest first).
   *
   * @throws BerthException FAILED_PRECONDITION when a layer is gone (the image was removed)
   */
  public List<Path> layerDirs(ImageRecord image) {
    List<Path> dirs = new ArrayList<>();
    for (String diffId : image.diffIds()) {
      Path dir = snapshots.resolve(ContentStore.hex(diffId));
      if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
        throw BerthException.failedPrecondition("the layer " + diffId + " of the image " + image.id()
            + " is not in the store any more: the image was removed");
      }
      dirs.add(dir);
    }
    return dirs;
  }

  /**
   * Tags the image {@code src} names (see {@link #get}) as {@code newRef}, moving the tag
   * from the image that had it.
   */
  public ImageRecord tag(String src, String newRef) {
    Reference ref = Reference.parse(newRef);
    if (ref.digest() != null) {
      throw BerthException.invalid("cannot tag as " + newRef + ": a tag is name[:tag], not a digest");
    }
    synchronized (lock) {
      Entry e = resolve(src).orElseThrow(() -> BerthException.notFound("No such image: " + src)).entry();
      if (e.record().repoTags().contains(ref.toString())) {
        return e.record();
      }
      Map<String, Entry> next = withTag(images, e.record().id(), ref.toString());
      persist(next);
      setImages(next);
      return next.get(e.record().id()).record();
    }
  }

  /**
   * {@code docker rmi}. A tag of an image with other tags is only untagged. Otherwise the
   * image goes, with its tags, config and manifest and the layers no other image uses,
   * unless a container uses it ({@code imageInUse}, given the image id, says so) or, for a
   * removal by id, its tags span several repositories. {@code force} overrides the second;
   * for an image in use it removes the names only, and the image stays (dangling) for its
   * containers, as with {@code docker rmi -f}. {@code imageInUse}
   * is called with the store's lock held: it must not call back into the store.
   *
   * @throws BerthException NOT_FOUND, or FAILED_PRECONDITION "conflict: …"
   */
  public RemoveResult remove(String ref, boolean force, Predicate<String> imageInUse) {
    List<Path> trash;
    RemoveResult result;
    synchronized (lock) {
      Resolved r = resolve(ref).orElseThrow(() -> BerthException.notFound("No such image: " + ref));
      ImageRecord image = r.entry().record();
      if (r.tag() != null && image.repoTags().size() > 1) {
        Map<String, Entry> next = withoutTag(images, r.tag());
        persist(next);
        setImages(next);
        return new RemoveResult(List.of(r.tag()), List.of());
      }
      if (!force && r.tag() == null && image.repoTags().stream().map(ImageStore::repository).distinct().count() > 1) {
        throw BerthException.failedPrecondition("conflict: unable to delete " + image.shortId()
            + " (must be forced) - image is referenced in multiple repositories");
      }
      if (imageInUse.test(image.id())) {
        if (!force) {
          throw BerthException.failedPrecondition("conflict: unable to remove image " + ref + ": it is used by a container");
        }
        // As docker rmi -f: the names go, the image stays (dangling) for the containers built on it.
        Map<String, Entry> next = images;
        for (String tag : image.repoTags()) {
          next = withoutTag(next, tag);
        }
        persist(next);
        setImages(next);
        return new RemoveResult(List.copyOf(image.repoTags()), List.of());
      }
      Map<String, Entry> next = new LinkedHashMap<>(images);
      next.remove(image.id());
      persist(next);
      setImages(next);
      List<String> deleted = new ArrayList<>(List.of(image.id()));
      Set<String> blobs = new HashSet<>(Set.of(image.id(), r.entry().manifest()));
      r.entry().layers().forEach(l -> blobs.add(l.digest()));
      trash = release(next, image.diffIds(), blobs, deleted);
      List<String> untagged = new ArrayList<>(image.repoTags());
      untagged.addAll(image.repoDigests());
      result = new RemoveResult(untagged, deleted);
    }
    deleteQuietly(trash);
    return result;
  }

  // ---- ingests (pulls)

  /**
   * Starts adding an image whose content comes from elsewhere (a registry): see {@link
   * Ingest}. Close it when done, whether it committed or not.
   */
  public Ingest ingest() {
    return new Ingest(this);
  }

  ContentStore content() {
    return content;
  }

  LayerLimits limits() {
    return limits;
  }

  LayerUnpacker unpacker() {
    return unpacker;
  }

  /** A new empty temporary snapshot directory (mode 0755); one left behind by a crash goes when the store is opened. */
  Path newTempSnapshot() throws IOException {
    Path tmp = snapshots.resolve(TEMP + Long.toHexString(ThreadLocalRandom.current().nextLong()));
    Files.createDirectory(tmp);
    Files.setAttribute(tmp, "unix:mode", 0755);
    return tmp;
  }

  /** The config blob of the image {@code id}, if the store has that image. */
  Optional<byte[]> imageConfig(String id) {
    synchronized (lock) {
      if (!images.containsKey(id)) {
        return Optional.empty();
      }
      byte[] cached = configs.getIfPresent(id);
      if (cached != null) {
        return Optional.of(cached.clone());
      }
      try {
        byte[] read = content.read(id);
        configs.put(id, read.clone());
        return Optional.of(read);
      } catch (IOException e) {
        return Optional.empty();
      }
    }
  }

  /** Replaces the index in memory (after {@link #persist}) and drops what was cached of the old one. Under lock. */
  private void setImages(Map<String, Entry> next) {
    images = next;
    resolutions.invalidateAll();
    configs.asMap().keySet().retainAll(next.keySet());
  }

  // ---- export (push, save)

  /**
   * Opens the image {@code ref} names (see {@link #get}) to read its content: its manifest and
   * config as stored, and its layer blobs, which are held (like an {@link Ingest}'s) so that no
   * {@code rmi} or prune deletes them until the export is closed. Close it when done.
   *
   * @throws BerthException NOT_FOUND "No such image: REF"
   */
  public ImageExport export(String ref) {
    Ingest lease = ingest();
    try {
      synchronized (lock) {
        Entry e = resolve(ref).orElseThrow(() -> BerthException.notFound("No such image: " + ref)).entry();
        List<ImageExport.Layer> layers = new ArrayList<>();
        for (Layer l : e.layers()) {
          ClaimResult c = claim(lease, l.digest(), l.diffId());
          if (c.kind() != ClaimKind.PRESENT) {
            throw BerthException.failedPrecondition("the layer " + l.digest() + " of the image " + e.record().id()
                + " is not in the store");
          }
          Set<String> sources = new java.util.TreeSet<>();
          for (Entry other : images.values()) {
            if (other.layers().stream().anyMatch(x -> x.digest().equals(l.digest()))) {
              sources.addAll(other.sources());
            }
          }
          layers.add(new ImageExport.Layer(l.digest(), l.mediaType(), l.size(), l.diffId(), List.copyOf(sources)));
        }
        return new ImageExport(this, lease, e.record(), e.manifest(), content.read(e.manifest()),
            content.read(e.record().id()), layers, e.sources());
      }
    } catch (IOException e) {
      lease.close();
      throw BerthException.internal("cannot read the image " + ref + ": " + e.getMessage(), e);
    } catch (RuntimeException e) {
      lease.close();
      throw e;
    }
  }

  // ---- prune

  /**
   * {@code docker image prune}: deletes the dangling (untagged) images, or with {@code all}
   * every image, that no container uses ({@code imageInUse}, given the image id, says so; it
   * is called with the store's lock held and must not call back into the store); then deletes
   * every blob and snapshot that no image refers to and no {@link Ingest} or {@link
   * ImageExport} holds.
   *
   * <p>Locking: the images to delete are chosen, the index is replaced and the unreferenced
   * blobs and snapshots are found and moved aside all under the store's one lock, under which
   * imports, pulls and exports also adopt or claim what they hold; so a layer a pull in progress
   * has stored (or found) is never deleted, and a download still in flight has only
   * temporaries, which are not touched. The moved-aside snapshots are deleted after the lock
   * is released.
   */
  public PruneResult prune(boolean all, Predicate<String> imageInUse) {
    List<String> deleted = new ArrayList<>();
    List<Path> trash;
    long bytes = 0;
    synchronized (lock) {
      Map<String, Entry> next = new LinkedHashMap<>(images);
      for (Entry e : images.values()) {
        String id = e.record().id();
        if ((all || e.record().repoTags().isEmpty()) && !imageInUse.test(id)) {
          next.remove(id);
          deleted.add(id);
        }
      }
      if (!deleted.isEmpty()) {
        persist(next);
        setImages(next);
      }
      try {
        Map<String, Long> blobSizes = new HashMap<>();
        for (String d : content.digests()) {
          blobSizes.put(d, Files.size(content.path(d)));
        }
        Set<String> layers = new HashSet<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(snapshots)) {
          for (Path p : s) {
            String name = p.getFileName().toString();
            if (HEX_PREFIX.matcher(name).matches() && name.length() == 64) {
              layers.add("sha256:" + name);
            }
          }
        }
        trash = release(next, layers, blobSizes.keySet(), new ArrayList<>());
        for (Map.Entry<String, Long> b : blobSizes.entrySet()) {
          if (!content.contains(b.getKey())) {
            bytes += b.getValue();
          }
        }
      } catch (IOException e) {
        throw BerthException.internal("cannot prune the image store: " + e.getMessage(), e);
      }
    }
    for (Path p : trash) {
      bytes += treeSize(p);
    }
    deleteQuietly(trash);
    return new PruneResult(deleted, bytes);
  }

  private static long treeSize(Path dir) {
    try (java.util.stream.Stream<Path> s = Files.walk(dir)) {
      return s.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)).mapToLong(p -> {
        try {
          return Files.size(p);
        } catch (IOException e) {
          return 0;
        }
      }).sum();
    } catch (IOException | UncheckedIOException e) {
      return 0;
    }
  }

  /**
   * Makes {@code who} hold the layer blob {@code digest}, whose unpacked content the image
   * config says is {@code diffId}, and tells what to do next. Claiming again what {@code who}
   * holds does not count twice.
   *
   * @throws CancellationException when {@code who} is closed
   * @throws BerthException INVALID_ARGUMENT when the store has that blob with another diff id
   */
  ClaimResult claim(Ingest who, String digest, String diffId) {
    synchronized (lock) {
      if (who.closed) {
        throw new CancellationException("the pull was abandoned");
      }
      Claim c = claims.get(digest);
      if (c == null) {
        c = new Claim(digest);
        c.layer = storedLayer(digest);
        claims.put(digest, c);
      }
      if (who.claimed.add(digest)) {
        c.holders.incrementAndGet();
      }
      if (c.layer != null) {
        if (!c.layer.diffId().equals(diffId)) {
          throw BerthException.invalid("the layer " + digest + " unpacks to " + c.layer.diffId()
              + ", but the image config lists " + diffId + " for it");
        }
        return new ClaimResult(c, ClaimKind.PRESENT, null);
      }
      if (c.fetch == null || c.fetch.isCompletedExceptionally()) {
        c.fetch = new CompletableFuture<>();
        return new ClaimResult(c, ClaimKind.FETCH, c.fetch);
      }
      return new ClaimResult(c, ClaimKind.JOIN, c.fetch);
    }
  }

  /** A layer of an image in the store with this blob digest, whose blob and snapshot are there. Under lock. */
  private Layer storedLayer(String digest) {
    for (Entry e : images.values()) {
      for (Layer l : e.layers()) {
        if (l.digest().equals(digest) && content.contains(digest)
            && Files.isDirectory(snapshots.resolve(ContentStore.hex(l.diffId())), LinkOption.NOFOLLOW_LINKS)) {
          return l;
        }
      }
    }
    return null;
  }

  /**
   * Moves a downloaded, verified and unpacked layer into the store for {@code c}: the sealed
   * {@code blob}, and the snapshot {@code tmp} unless the store has {@code diffId} unpacked
   * already. Returns whether {@code tmp} was adopted; if not, the caller deletes it.
   *
   * @throws CancellationException when nobody holds {@code c} any more: nothing was installed
   */
  boolean install(Claim c, ContentStore.Writer blob, Path tmp, String diffId, String mediaType, long unpackedSize)
      throws IOException {
    synchronized (lock) {
      if (claims.get(c.digest) != c || c.abandoned()) {
        throw new CancellationException("the pull was abandoned");
      }
      ContentStore.Descriptor desc = blob.seal(c.digest);
      Path snapshot = snapshots.resolve(ContentStore.hex(diffId));
      boolean adopted = false;
      List<Path> trash = List.of();
      try {
        if (!Files.isDirectory(snapshot, LinkOption.NOFOLLOW_LINKS)) {
          AtomicFiles.rename(tmp, snapshot);
          adopted = true;
        }
        blob.install();
      } catch (IOException | RuntimeException e) {
        if (adopted) {
          trash = release(images, List.of(diffId), List.of(), new ArrayList<>());
        }
        throw e;
      } finally {
        deleteQuietly(trash);
      }
      c.layer = new Layer(diffId, c.digest, mediaType, desc.size(), unpackedSize);
      c.fetch.complete(null);
      return adopted;
    }
  }

  boolean isClosed(Ingest who) {
    synchronized (lock) {
      return who.closed;
    }
  }

  /** Ends the download of {@code c} in failure: whoever waits for it tries again or fails. */
  void fetchFailed(Claim c, Throwable failure) {
    synchronized (lock) {
      if (c.fetch != null) {
        c.fetch.completeExceptionally(failure);
      }
    }
  }

  /**
   * Closes {@code who}: it holds nothing any more, and what nobody holds or refers to (layers
   * it stored for an image it did not commit) is deleted. Idempotent.
   */
  void close(Ingest who) {
    List<Path> trash;
    synchronized (lock) {
      who.closed = true;
      List<String> diffIds = new ArrayList<>();
      List<String> blobs = new ArrayList<>();
      for (String digest : who.claimed) {
        Claim c = claims.get(digest);
        if (c.holders.decrementAndGet() == 0) {
          claims.remove(digest);
          if (c.layer != null) {
            diffIds.add(c.layer.diffId());
            blobs.add(digest);
          }
        }
      }
      who.claimed.clear();
      trash = release(images, diffIds, blobs, new ArrayList<>());
    }
    deleteQuietly(trash);
  }

  /**
   * Adds the image of {@code config}, whose layers are the blobs {@code layerDigests} (lowest
   * first) that {@code who} holds, with its {@code manifest}; tags it {@code tag} (when not
   * null: the tag moves from any image that had it) and gives it {@code repoDigest} (when not
   * null). An image with that config already in the store keeps its manifest and layers and
   * only gets the tag and repo digest.
   *
   * @throws BerthException INVALID_ARGUMENT when the config is not valid or its
   *     rootfs.diff_ids are not the layers' diff ids
   */
  ImageRecord commit(Ingest who, byte[] manifest, byte[] config, List<String> layerDigests, Reference tag,
      String repoDigest) {
    OciJson.Config oci;
    try {
      oci = OciJson.parseConfig(config);
    } catch (IOException | RuntimeException e) {
      throw BerthException.invalid("the image config is not valid: " + e.getMessage());
    }
    synchronized (lock) {
      if (who.closed) {
        throw new CancellationException("the pull was abandoned");
      }
      List<Layer> layers = new ArrayList<>();
      for (String digest : layerDigests) {
        Claim c = claims.get(digest);
        if (c == null || c.layer == null || !who.claimed.contains(digest)) {
          throw new IllegalStateException("the layer " + digest + " was not added by this ingest");
        }
        layers.add(c.layer);
      }
      List<String> diffIds = layers.stream().map(Layer::diffId).toList();
      if (!diffIds.equals(oci.diffIds())) {
        throw BerthException.invalid("the image config's rootfs.diff_ids " + oci.diffIds()
            + " are not the digests of its unpacked layers " + diffIds);
      }
      Set<String> blobs = new HashSet<>();
      List<Path> trash = List.of();
      try {
        ContentStore.Descriptor cfg = content.put(config);
        blobs.add(cfg.digest());
        Map<String, Entry> next = new LinkedHashMap<>(images);
        if (!next.containsKey(cfg.digest())) {
          ContentStore.Descriptor m = content.put(manifest);
          blobs.add(m.digest());
          long size = layers.stream().mapToLong(Layer::unpackedSize).sum();
          ImageRecord record = new ImageRecord(cfg.digest(), List.of(), diffIds, oci.config(), size, oci.created(),
              oci.os(), oci.architecture(), List.of());
          next.put(record.id(), new Entry(record, m.digest(), List.copyOf(layers)));
        }
        if (tag != null) {
          next = withTag(next, cfg.digest(), tag.toString());
        }
        if (repoDigest != null) {
          next = withRepoDigest(next, cfg.digest(), repoDigest);
          next.put(cfg.digest(), next.get(cfg.digest()).withSource(repoDigest.substring(0, repoDigest.indexOf('@'))));
        }
        persist(next);
        setImages(next);
        return next.get(cfg.digest()).record();
      } catch (RuntimeException e) {
        try {
          trash = release(images, List.of(), blobs, new ArrayList<>());
        } catch (RuntimeException cleanup) {
          e.addSuppressed(cleanup);
        }
        throw e;
      } finally {
        deleteQuietly(trash);
      }
    }
  }

  // ---- lookup

  private Optional<Resolved> resolve(String ref) {
    if (ref == null || ref.isBlank()) {
      throw BerthException.invalid("an image reference is required");
    }
    Resolution known = resolutions.getIfPresent(ref);
    if (known != null && images.containsKey(known.id())) {
      return Optional.of(new Resolved(images.get(known.id()), known.tag()));
    }
    Optional<Resolved> found = resolveUncached(ref);
    found.ifPresent(r -> resolutions.put(ref, new Resolution(r.entry().record().id(), r.tag())));
    return found;
  }

  private Optional<Resolved> resolveUncached(String ref) {
    if (ID_PREFIX.matcher(ref).matches()) {
      return byIdPrefix(ref, ref.substring("sha256:".length()));
    }
    boolean hex = HEX_PREFIX.matcher(ref).matches();
    Reference parsed;
    try {
      parsed = Reference.parse(ref);
    } catch (BerthException e) {
      if (!hex) {
        throw e;
      }
      return byIdPrefix(ref, ref); // 64 hex digits are an id, never a name
    }
    if (parsed.digest() != null) {
      String repo = parsed.name() + ":";
      String repoDigest = parsed.name() + "@" + parsed.digest();
      return images.values().stream()
          .filter(e -> e.record().repoDigests().contains(repoDigest)
              || (e.manifest().equals(parsed.digest()) || e.record().id().equals(parsed.digest()))
                  && e.record().repoTags().stream().anyMatch(t -> t.startsWith(repo)))
          .findFirst().map(e -> new Resolved(e, null));
    }
    String tag = parsed.toString();
    for (Entry e : images.values()) {
      if (e.record().repoTags().contains(tag)) {
        return Optional.of(new Resolved(e, tag));
      }
    }
    return hex ? byIdPrefix(ref, ref) : Optional.empty();
  }

  private Optional<Resolved> byIdPrefix(String ref, String hexPrefix) {
    List<Entry> matches = images.values().stream()
        .filter(e -> e.record().id().startsWith("sha256:" + hexPrefix)).toList();
    if (matches.size() > 1) {
      throw BerthException.invalid("the image id prefix " + ref + " is ambiguous: it matches " + matches.size()
          + " images; give more digits");
    }
    return matches.stream().findFirst().map(e -> new Resolved(e, null));
  }

  private static String repository(String tag) {
    return tag.substring(0, tag.lastIndexOf(':'));
  }

  private static Map<String, Entry> withoutTag(Map<String, Entry> from, String tag) {
    Map<String, Entry> next = new LinkedHashMap<>();
    from.forEach((id, e) -> next.put(id, e.record().repoTags().contains(tag)
        ? e.withTags(e.record().repoTags().stream().filter(t -> !t.equals(tag)).toList())
        : e));
    return next;
  }

  private static Map<String, Entry> withTag(Map<String, Entry> from, String id, String tag) {
    Map<String, Entry> next = withoutTag(from, tag);
    Entry e = next.get(id);
    List<String> tags = new ArrayList<>(e.record().repoTags());
    tags.add(tag);
    next.put(id, e.withTags(tags));
    return next;
  }

  /** Gives {@code id} the repo digest {@code name@sha256:…}, taking it from any other image. */
  private static Map<String, Entry> withRepoDigest(Map<String, Entry> from, String id, String repoDigest) {
    Map<String, Entry> next = new LinkedHashMap<>();
    from.forEach((i, e) -> next.put(i, !i.equals(id) && e.record().repoDigests().contains(repoDigest)
        ? e.withRepoDigests(e.record().repoDigests().stream().filter(d -> !d.equals(repoDigest)).toList())
        : e));
    Entry e = next.get(id);
    if (!e.record().repoDigests().contains(repoDigest)) {
      List<String> digests = new ArrayList<>(e.record().repoDigests());
      digests.add(repoDigest);
      next.put(id, e.withRepoDigests(digests));
    }
    return next;
  }

  // ---- storage

  /**
   * Of the {@code diffIds} and {@code blobs} given, deletes those neither {@code state} nor a
   * claim refers to: blobs at once, snapshots by renaming them to temporaries, returned for the caller to
   * delete outside the lock. The diff ids of deleted snapshots are added to {@code deleted}.
   */
  private List<Path> release(Map<String, Entry> state, Collection<String> diffIds, Collection<String> blobs,
      List<String> deleted) {
    Set<String> usedLayers = new HashSet<>();
    Set<String> usedBlobs = new HashSet<>();
    for (Entry e : state.values()) {
      usedBlobs.add(e.record().id());
      usedBlobs.add(e.manifest());
      e.layers().forEach(l -> {
        usedLayers.add(l.diffId());
        usedBlobs.add(l.digest());
      });
    }
    for (Claim c : claims.values()) {
      if (c.layer != null) {
        usedLayers.add(c.layer.diffId());
        usedBlobs.add(c.layer.digest());
      }
    }
    List<Path> trash = new ArrayList<>();
    try {
      for (String diffId : diffIds) {
        Path dir = snapshots.resolve(diffId.substring("sha256:".length()));
        if (!usedLayers.contains(diffId) && Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
          Path to = snapshots.resolve(TEMP + "rm-" + Long.toHexString(ThreadLocalRandom.current().nextLong()));
          AtomicFiles.rename(dir, to);
          trash.add(to);
          deleted.add(diffId);
        }
      }
      for (String digest : blobs) {
        if (!usedBlobs.contains(digest)) {
          content.delete(digest);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return trash;
  }

  private static void deleteQuietly(List<Path> paths) {
    for (Path p : paths) {
      try {
        FileTrees.deleteRecursively(p);
      } catch (IOException e) {
        // a temporary: removed when the store is opened next
      }
    }
  }

  private static void deleteTemporaries(Path dir, String glob) throws IOException {
    try (DirectoryStream<Path> s = Files.newDirectoryStream(dir, glob)) {
      for (Path p : s) {
        FileTrees.deleteRecursively(p);
      }
    }
  }

  private void persist(Map<String, Entry> state) {
    ObjectNode doc = OciJson.MAPPER.createObjectNode();
    doc.put("version", 1);
    ArrayNode list = doc.putArray("images");
    for (Entry e : state.values()) {
      ObjectNode n = list.addObject();
      n.put("id", e.record().id());
      n.put("manifest", e.manifest());
      e.record().repoTags().forEach(n.putArray("repoTags")::add);
      if (!e.sources().isEmpty()) {
        e.sources().forEach(n.putArray("sources")::add);
      }
      if (!e.record().repoDigests().isEmpty()) {
        e.record().repoDigests().forEach(n.putArray("repoDigests")::add);
      }
      ArrayNode layers = n.putArray("layers");
      for (Layer l : e.layers()) {
        ObjectNode ln = layers.addObject();
        ln.put("diffId", l.diffId());
        ln.put("digest", l.digest());
        ln.put("mediaType", l.mediaType());
        ln.put("size", l.size());
        ln.put("unpackedSize", l.unpackedSize());
      }
    }
    try {
      AtomicFiles.write(index, OciJson.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(doc));
    } catch (IOException | UncheckedIOException e) {
      throw BerthException.internal("cannot write the image index " + index + ": " + e.getMessage(), e);
    }
  }

  private Map<String, Entry> load() throws IOException {
    Map<String, Entry> loaded = new LinkedHashMap<>();
    if (!Files.exists(index)) {
      return loaded;
    }
    JsonNode doc = OciJson.MAPPER.readTree(Files.readAllBytes(index));
    for (JsonNode n : doc.path("images")) {
      String id = n.path("id").asText();
      List<Layer> layers = new ArrayList<>();
      for (JsonNode l : n.path("layers")) {
        layers.add(new Layer(l.path("diffId").asText(), l.path("digest").asText(), l.path("mediaType").asText(),
            l.path("size").asLong(), l.path("unpackedSize").asLong()));
      }
      OciJson.Config c;
      try {
        c = OciJson.parseConfig(content.read(id));
      } catch (IOException | RuntimeException e) {
        throw new IOException("the store is damaged: the config of image " + id + " cannot be read: " + e, e);
      }
      if (!c.diffIds().equals(layers.stream().map(Layer::diffId).toList())) {
        throw new IOException("the store is damaged: the index and the config of image " + id + " list other layers");
      }
      List<String> tags = new ArrayList<>();
      n.path("repoTags").forEach(t -> tags.add(t.asText()));
      List<String> repoDigests = new ArrayList<>();
      n.path("repoDigests").forEach(t -> repoDigests.add(t.asText()));
      List<String> sources = new ArrayList<>();
      n.path("sources").forEach(t -> sources.add(t.asText()));
      long size = layers.stream().mapToLong(Layer::unpackedSize).sum();
      loaded.put(id, new Entry(new ImageRecord(id, tags, c.diffIds(), c.config(), size, c.created(), c.os(),
          c.architecture(), repoDigests), n.path("manifest").asText(), layers, List.copyOf(sources)));
    }
    return loaded;
  }

  /** The OCI name of the JVM's architecture: amd64, arm64, 386, or os.arch as it is. */
  public static String architecture() {
    String arch = System.getProperty("os.arch");
    return switch (arch) {
      case "amd64", "x86_64" -> "amd64";
      case "aarch64" -> "arm64";
      case "x86", "i386", "i686" -> "386";
      default -> arch;
    };
  }

  /** Copies what is read from {@code in} into {@code out}; closing it leaves {@code in} open. */
  private static final class Tee extends FilterInputStream {
    private final OutputStream out;

    Tee(InputStream in, OutputStream out) {
      super(in);
      this.out = out;
    }

    @Override
    public int read() throws IOException {
      int b = in.read();
      if (b >= 0) {
        copy(new byte[] {(byte) b}, 0, 1);
      }
      return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int n = in.read(b, off, len);
      if (n > 0) {
        copy(b, off, n);
      }
      return n;
    }

    @Override
    public long skip(long n) throws IOException {
      byte[] discard = new byte[(int) Math.min(Math.max(n, 0), 8192)];
      return Math.max(read(discard, 0, discard.length), 0);
    }

    @Override
    public boolean markSupported() {
      return false;
    }

    /** A failure to write the blob is the store's, not the tar's: it must not read as a bad tar. */
    private void copy(byte[] b, int off, int len) {
      try {
        out.write(b, off, len);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot write the layer blob: " + e.getMessage(), e);
      }
    }

    @Override
    public void close() {
      // the caller's stream stays open
    }
  }
}
