package dev.berth.agent.image;

import com.fasterxml.jackson.databind.JsonNode;
import dev.berth.agent.BerthException;
import java.io.BufferedInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.zip.GZIPOutputStream;

/**
 * One image of an {@link ImageStore} opened for reading its content (a push, a save): its
 * manifest and config as stored, and its layer blobs, which the export holds so that no
 * {@code rmi} or prune deletes them while it is open. From {@link ImageStore#export}; close it
 * (try-with-resources). Layers recompressed with {@link #gzipped} are temporaries of the
 * store, deleted on close (or when the store is opened next, after a crash).
 *
 * <p>Thread-safe for reading; {@link #close} once the readers are done.
 */
public final class ImageExport implements AutoCloseable {
  /**
   * A layer blob.
   *
   * @param mediaType as the stored manifest gives it (for an imported layer, tar or tar+gzip as
   *     its content is)
   * @param size the blob's size in bytes
   * @param diffId the digest of the uncompressed tar
   * @param sources the repositories ({@code registry/path}) the images with this blob were
   *     pulled from: where a push may mount it from
   */
  public record Layer(String digest, String mediaType, long size, String diffId, List<String> sources) {
    public Layer {
      sources = List.copyOf(sources);
    }
  }

  private final ImageStore store;
  private final Ingest lease;
  private final ImageRecord image;
  private final String manifestDigest;
  private final byte[] manifest;
  private final byte[] config;
  private final List<Layer> layers;
  private final List<String> sources;
  private final Map<String, ContentStore.Writer> temporaries = new ConcurrentHashMap<>();

  ImageExport(ImageStore store, Ingest lease, ImageRecord image, String manifestDigest, byte[] manifest, byte[] config,
      List<Layer> layers, List<String> sources) {
    this.store = store;
    this.lease = lease;
    this.image = image;
    this.manifestDigest = manifestDigest;
    this.manifest = manifest;
    this.config = config;
    this.layers = List.copyOf(layers);
    this.sources = List.copyOf(sources);
  }

  /** The image as the store had it when the export was opened. */
  public ImageRecord image() {
    return image;
  }

  /** The digest of the stored manifest. */
  public String manifestDigest() {
    return manifestDigest;
  }

  /** The stored manifest, byte for byte (for a pulled image: as the registry served it). */
  public byte[] manifest() {
    return manifest.clone();
  }

  /** The media type of the stored manifest: its {@code mediaType}, else the OCI manifest's. */
  public String manifestMediaType() {
    try {
      JsonNode root = OciJson.MAPPER.readTree(manifest);
      String type = root == null ? "" : root.path("mediaType").asText("");
      return type.isEmpty() ? OciJson.MANIFEST_MEDIA_TYPE : type;
    } catch (IOException e) {
      return OciJson.MANIFEST_MEDIA_TYPE;
    }
  }

  /** The image config blob; its digest is the image id. */
  public byte[] config() {
    return config.clone();
  }

  /** The layers, lowest first, as the stored manifest lists them. */
  public List<Layer> layers() {
    return layers;
  }

  /** The repositories ({@code registry/path}) the image was pulled from; empty for an imported image. */
  public List<String> sources() {
    return sources;
  }

  /** The content of a layer blob of this export (one of {@link #layers} or of {@link #gzipped}). */
  public InputStream openBlob(String digest) throws IOException {
    ContentStore.Writer tmp = temporaries.get(digest);
    if (tmp != null) {
      return tmp.openSealed();
    }
    if (layers.stream().noneMatch(l -> l.digest().equals(digest))) {
      throw new IllegalArgumentException("not a layer of the image " + image.id() + ": " + digest);
    }
    return Files.newInputStream(store.content().path(digest));
  }

  /** Whether the blob of {@code layer} is gzip-compressed (told by its content). */
  public boolean isGzip(Layer layer) throws IOException {
    try (BufferedInputStream in = new BufferedInputStream(openBlob(layer.digest()))) {
      return Compression.detect(in, "the layer " + layer.digest(), "") == Compression.GZIP;
    }
  }

  /** The layer's tar, uncompressed. */
  public InputStream openUncompressed(Layer layer) throws IOException {
    BufferedInputStream in = new BufferedInputStream(openBlob(layer.digest()), 64 * 1024);
    return Compression.detect(in, "the layer " + layer.digest(), "").decompress(in);
  }

  /** The size of the layer's uncompressed tar (reads it through when it is compressed, gzip or zstd). */
  public long uncompressedSize(Layer layer) throws IOException {
    boolean plain;
    try (BufferedInputStream in = new BufferedInputStream(openBlob(layer.digest()))) {
      plain = Compression.detect(in, "the layer " + layer.digest(), "") == Compression.NONE;
    }
    if (plain) {
      return layer.size();
    }
    try (InputStream in = openUncompressed(layer)) {
      return in.transferTo(OutputStream.nullOutputStream());
    }
  }

  /**
   * The layer as a gzip-compressed blob: itself when it is one, else its tar compressed now
   * into a temporary of the store (deterministically: the same tar gives the same blob), which
   * {@link #openBlob} reads until the export is closed. The diff id is unchanged.
   */
  public Layer gzipped(Layer layer) throws IOException {
    if (isGzip(layer)) {
      return layer;
    }
    ContentStore.Writer w = store.content().writer();
    try {
      OutputStream keepOpen = new FilterOutputStream(w) {
        @Override
        public void write(byte[] b, int off, int len) throws IOException {
          out.write(b, off, len);
        }

        @Override
        public void close() throws IOException {
          flush();
        }
      };
      try (InputStream in = openUncompressed(layer); GZIPOutputStream gz = new GZIPOutputStream(keepOpen, 64 * 1024)) {
        in.transferTo(gz);
      }
      ContentStore.Descriptor d = w.seal(null);
      ContentStore.Writer before = temporaries.putIfAbsent(d.digest(), w);
      if (before != null) {
        w.close();
      }
      return new Layer(d.digest(), Compression.GZIP.mediaType(), d.size(), layer.diffId(), layer.sources());
    } catch (IOException | RuntimeException e) {
      w.close();
      throw e;
    }
  }

  /** An OCI image manifest over this image's config and {@code layers}. */
  public byte[] ociManifest(List<Layer> layers) {
    List<OciJson.LayerRef> refs = new ArrayList<>();
    layers.forEach(l -> refs.add(new OciJson.LayerRef(l.mediaType(), l.digest(), l.size())));
    try {
      return OciJson.manifest(new ContentStore.Descriptor(image.id(), config.length), refs);
    } catch (IOException e) {
      throw BerthException.internal("cannot write a manifest: " + e.getMessage(), e);
    }
  }

  /** Lets go of the layers and deletes the temporaries. Idempotent. */
  @Override
  public void close() {
    for (ContentStore.Writer w : temporaries.values()) {
      try {
        w.close();
      } catch (IOException e) {
        // a temporary: removed when the store is opened next
      }
    }
    temporaries.clear();
    lease.close();
  }
}
