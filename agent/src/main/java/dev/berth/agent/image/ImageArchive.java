package dev.berth.agent.image;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.berth.agent.BerthException;
import java.io.BufferedInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * {@code docker save} and {@code docker load}: images of an {@link ImageStore} to and from a
 * tar archive, in one of two {@link Format}s.
 *
 * <p>{@link #save} reads each image through an {@link ImageExport}, so the blobs it writes are
 * not deleted while it runs. {@link #load} is hostile-input safe: the archive is first spooled
 * entry by entry into a temporary directory of the store (names are only keys: an entry is
 * never written where its name points), refusing absolute names, {@code ..}, links that lead
 * outside the archive, device and other special entries, more than {@link LayerLimits#maxEntries}
 * entries and more than {@link LayerLimits#maxBytes} bytes in all; then every layer of every
 * image goes through an {@link Ingest} (checked against its digest and size, unpacked by the
 * {@link LayerUnpacker}'s rules, its uncompressed digest checked against the config's diff_ids),
 * and only when all are good are the images committed. A bad archive leaves nothing behind.
 */
public final class ImageArchive {
  private static final long MAX_JSON_BYTES = 16 << 20;
  private static final String REF_NAME = "org.opencontainers.image.ref.name";
  private static final String CONTAINERD_NAME = "io.containerd.image.name";
  private static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
  private static final String DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
  private static final String DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";

  private ImageArchive() {}

  /** The layout of an archive. */
  public enum Format {
    /**
     * What {@code docker save} writes: {@code manifest.json} (Config, RepoTags, Layers), each
     * config as {@code HEX.json}, each layer as an uncompressed {@code DIFFIDHEX.tar}, and
     * {@code repositories}.
     */
    DOCKER_ARCHIVE,
    /**
     * An OCI image layout ({@code oci-layout}, {@code index.json}, {@code blobs/sha256/…}) as
     * {@code podman save --format oci-archive} writes; each tag an index entry with an {@code
     * org.opencontainers.image.ref.name} annotation (the full reference). The layer blobs and
     * the manifest are the stored ones (a Docker schema 2 manifest is rewritten as an OCI one
     * over the same blobs).
     */
    OCI_ARCHIVE
  }

  /**
   * Writes the images {@code references} name (each as {@link ImageStore#get} takes it) to
   * {@code out} as a tar in {@code format}. A reference that is a tag is written with that tag;
   * one by id without a tag. {@code out} is not closed.
   *
   * @throws BerthException INVALID_ARGUMENT when no reference is given, NOT_FOUND "No such
   *     image: REF", INTERNAL when writing fails
   */
  public static void save(ImageStore store, List<String> references, Format format, OutputStream out) {
    if (references == null || references.isEmpty()) {
      throw BerthException.invalid("give at least one image to save");
    }
    Map<String, ImageExport> exports = new LinkedHashMap<>();
    Map<String, List<String>> tags = new LinkedHashMap<>();
    try {
      for (String ref : references) {
        ImageRecord image = store.get(ref);
        if (!exports.containsKey(image.id())) {
          exports.put(image.id(), store.export(image.id()));
          tags.put(image.id(), new ArrayList<>());
        }
        String tag = tagOf(ref);
        if (tag != null && image.repoTags().contains(tag) && !tags.get(image.id()).contains(tag)) {
          tags.get(image.id()).add(tag);
        }
      }
      OutputStream keepOpen = new FilterOutputStream(out) {
        @Override
        public void write(byte[] b, int off, int len) throws IOException {
          out.write(b, off, len);
        }

        @Override
        public void close() throws IOException {
          flush();
        }
      };
      try (TarArchiveOutputStream tar = new TarArchiveOutputStream(keepOpen)) {
        tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
        tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
        if (format == Format.DOCKER_ARCHIVE) {
          writeDocker(tar, exports, tags);
        } else {
          writeOci(tar, exports, tags);
        }
        tar.finish();
      }
    } catch (IOException | UncheckedIOException e) {
      throw BerthException.internal("cannot save the images: " + e.getMessage(), e);
    } finally {
      exports.values().forEach(ImageExport::close);
    }
  }

  private static String tagOf(String ref) {
    try {
      Reference r = Reference.parse(ref);
      return r.digest() == null ? r.toString() : null;
    } catch (BerthException e) {
      return null;
    }
  }

  private static void writeDocker(TarArchiveOutputStream tar, Map<String, ImageExport> exports,
      Map<String, List<String>> tags) throws IOException {
    ArrayNode manifest = OciJson.MAPPER.createArrayNode();
    ObjectNode repositories = OciJson.MAPPER.createObjectNode();
    Set<String> written = new HashSet<>();
    for (ImageExport ex : exports.values()) {
      String idHex = ContentStore.hex(ex.image().id());
      file(tar, idHex + ".json", ex.config());
      ObjectNode m = manifest.addObject();
      m.put("Config", idHex + ".json");
      ArrayNode repoTags = m.putArray("RepoTags");
      ArrayNode layers = m.putArray("Layers");
      String top = null;
      for (ImageExport.Layer l : ex.layers()) {
        String name = ContentStore.hex(l.diffId()) + ".tar";
        top = ContentStore.hex(l.diffId());
        layers.add(name);
        if (written.add(name)) {
          long size = ex.uncompressedSize(l);
          TarArchiveEntry e = entry(name, size);
          tar.putArchiveEntry(e);
          try (InputStream in = ex.openUncompressed(l)) {
            long n = in.transferTo(tar);
            if (n != size) {
              throw new IOException("the layer " + l.digest() + " changed while it was saved");
            }
          }
          tar.closeArchiveEntry();
        }
      }
      for (String t : tags.get(ex.image().id())) {
        Reference r = Reference.parse(t);
        repoTags.add(r.familiar());
        String repo = r.familiar().substring(0, r.familiar().length() - r.tag().length() - 1);
        JsonNode existing = repositories.get(repo);
        ObjectNode byTag = existing instanceof ObjectNode o ? o : repositories.putObject(repo);
        if (top != null) {
          byTag.put(r.tag(), top);
        }
      }
    }
    file(tar, "manifest.json", OciJson.MAPPER.writeValueAsBytes(manifest));
    file(tar, "repositories", OciJson.MAPPER.writeValueAsBytes(repositories));
  }

  private static void writeOci(TarArchiveOutputStream tar, Map<String, ImageExport> exports,
      Map<String, List<String>> tags) throws IOException {
    file(tar, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}".getBytes(java.nio.charset.StandardCharsets.UTF_8));
    Set<String> written = new HashSet<>();
    ObjectNode index = OciJson.MAPPER.createObjectNode();
    index.put("schemaVersion", 2);
    index.put("mediaType", OCI_INDEX);
    ArrayNode manifests = index.putArray("manifests");
    for (ImageExport ex : exports.values()) {
      for (ImageExport.Layer l : ex.layers()) {
        if (written.add(l.digest())) {
          tar.putArchiveEntry(entry("blobs/sha256/" + ContentStore.hex(l.digest()), l.size()));
          try (InputStream in = ex.openBlob(l.digest())) {
            in.transferTo(tar);
          }
          tar.closeArchiveEntry();
        }
      }
      if (written.add(ex.image().id())) {
        file(tar, "blobs/sha256/" + ContentStore.hex(ex.image().id()), ex.config());
      }
      byte[] m = ex.manifest();
      if (ex.manifestMediaType().equals(DOCKER_MANIFEST)) {
        List<ImageExport.Layer> oci = new ArrayList<>();
        for (ImageExport.Layer l : ex.layers()) {
          String type = l.mediaType().contains("gzip") || l.mediaType().contains("tar.gz")
              ? Compression.GZIP.mediaType() : Compression.NONE.mediaType();
          oci.add(new ImageExport.Layer(l.digest(), type, l.size(), l.diffId(), l.sources()));
        }
        m = ex.ociManifest(oci);
      }
      String digest = sha256(m);
      if (written.add(digest)) {
        file(tar, "blobs/sha256/" + ContentStore.hex(digest), m);
      }
      List<String> names = tags.get(ex.image().id());
      for (String t : names.isEmpty() ? java.util.Collections.<String>singletonList(null) : names) {
        ObjectNode d = manifests.addObject();
        d.put("mediaType", OciJson.MANIFEST_MEDIA_TYPE);
        d.put("digest", digest);
        d.put("size", m.length);
        if (t != null) {
          ObjectNode a = d.putObject("annotations");
          a.put(REF_NAME, t);
        }
      }
    }
    file(tar, "index.json", OciJson.MAPPER.writeValueAsBytes(index));
  }

  private static TarArchiveEntry entry(String name, long size) {
    TarArchiveEntry e = new TarArchiveEntry(name);
    e.setSize(size);
    e.setMode(0644);
    e.setModTime(new Date(0));
    return e;
  }

  private static void file(TarArchiveOutputStream tar, String name, byte[] content) throws IOException {
    tar.putArchiveEntry(entry(name, content.length));
    tar.write(content);
    tar.closeArchiveEntry();
  }

  // ---- load

  /** A layer file of the archive, with what the image says of it. */
  private record LayerFile(Path file, String digest, long size, String mediaType, String diffId) {}

  /** One image to commit. */
  private record Plan(byte[] manifest, byte[] config, List<LayerFile> layers, List<Reference> tags) {}

  /**
   * Reads a {@code docker save} or OCI archive (told by its files: {@code oci-layout} and
   * {@code index.json}, else {@code manifest.json}) from {@code tar} (read to its end, not
   * closed) and imports every image in it with its tags (tags move from images that had them).
   * Returns the images, in the archive's order.
   *
   * @throws BerthException INVALID_ARGUMENT for a malformed or hostile archive, a file it
   *     names that is not in it, content that does not match its digest or diff id;
   *     RESOURCE_EXHAUSTED beyond the store's {@link LayerLimits}; INTERNAL for the file system
   */
  public static List<ImageRecord> load(ImageStore store, InputStream tar) {
    Path dir = null;
    try {
      dir = store.newTempSnapshot();
      Map<String, Path> files = spool(tar, dir, store.limits());
      List<Plan> plans = files.containsKey("oci-layout") && files.containsKey("index.json") ? ociPlans(files)
          : files.containsKey("manifest.json") ? dockerPlans(files)
          : null;
      if (plans == null) {
        throw BerthException.invalid("the archive is neither a docker save archive (no manifest.json) nor an OCI"
            + " archive (no oci-layout and index.json)");
      }
      if (plans.isEmpty()) {
        throw BerthException.invalid("the archive holds no image");
      }
      return commit(store, plans);
    } catch (IOException | UncheckedIOException e) {
      throw BerthException.internal("cannot load the archive: " + e.getMessage(), e);
    } finally {
      if (dir != null) {
        try {
          FileTrees.deleteRecursively(dir);
        } catch (IOException e) {
          // a temporary of the store: removed when it is opened next
        }
      }
    }
  }

  private static List<ImageRecord> commit(ImageStore store, List<Plan> plans) {
    for (Plan p : plans) {
      OciJson.Config c;
      try {
        c = OciJson.parseConfig(p.config());
      } catch (IOException | RuntimeException e) {
        throw BerthException.invalid("an image config of the archive is not valid: " + e.getMessage());
      }
      List<String> diffIds = p.layers().stream().map(LayerFile::diffId).toList();
      if (!c.diffIds().equals(diffIds)) {
        throw BerthException.invalid("the image config's rootfs.diff_ids " + c.diffIds() + " do not match the layers "
            + diffIds);
      }
    }
    try (Ingest ingest = store.ingest()) {
      for (Plan p : plans) {
        for (LayerFile l : p.layers()) {
          Ingest.LayerSpec spec = new Ingest.LayerSpec(l.digest(), l.size(), l.mediaType(), l.diffId());
          ingest.layer(spec, sink -> {
            try (InputStream in = Files.newInputStream(l.file())) {
              byte[] buf = new byte[64 * 1024];
              int n;
              while ((n = in.read(buf)) >= 0) {
                sink.write(buf, 0, n);
              }
            }
          }, phase -> {});
        }
      }
      List<String> ids = new ArrayList<>();
      for (Plan p : plans) {
        List<String> digests = p.layers().stream().map(LayerFile::digest).toList();
        ImageRecord r = ingest.commit(p.manifest(), p.config(), digests, p.tags().isEmpty() ? null : p.tags().get(0),
            null);
        for (Reference t : p.tags().subList(Math.min(1, p.tags().size()), p.tags().size())) {
          ingest.commit(p.manifest(), p.config(), digests, t, null);
        }
        if (!ids.contains(r.id())) {
          ids.add(r.id());
        }
      }
      return ids.stream().map(store::get).toList();
    }
  }

  /** Copies the archive's regular files into {@code dir}; returns them by normalized name, links resolved. */
  private static Map<String, Path> spool(InputStream in, Path dir, LayerLimits limits) throws IOException {
    Map<String, Path> files = new HashMap<>();
    Map<String, String> links = new LinkedHashMap<>();
    long entries = 0;
    long bytes = 0;
    TarArchiveInputStream tar = new TarArchiveInputStream(new BufferedInputStream(in, 64 * 1024));
    TarArchiveEntry e;
    try {
      e = tar.getNextEntry();
    } catch (IOException | RuntimeException x) {
      throw BerthException.invalid("the archive is not a tar: " + x.getMessage());
    }
    while (e != null) {
      if (++entries > limits.maxEntries()) {
        throw new BerthException(BerthException.Kind.RESOURCE_EXHAUSTED, "the archive has more than "
            + limits.maxEntries() + " entries");
      }
      String name = normalize(e.getName());
      if (e.isDirectory()) {
        // nothing to keep
      } else if (e.isSymbolicLink()) {
        String parent = name.contains("/") ? name.substring(0, name.lastIndexOf('/')) : "";
        links.put(name, resolveLink(name, parent, e.getLinkName()));
      } else if (e.isLink()) {
        links.put(name, normalize(e.getLinkName()));
      } else if (e.isFile()) {
        if (files.containsKey(name) || links.containsKey(name)) {
          throw BerthException.invalid("the archive has the entry " + name + " twice");
        }
        Path to = dir.resolve("f" + files.size());
        bytes += e.getSize();
        if (bytes > limits.maxBytes()) {
          throw new BerthException(BerthException.Kind.RESOURCE_EXHAUSTED, "the archive has more than "
              + limits.maxBytes() + " bytes");
        }
        try {
          Files.copy(tar, to, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException x) {
          if (x.getMessage() != null && x.getMessage().contains("No space")) {
            throw x;
          }
          throw BerthException.invalid("the archive is truncated or damaged at " + name + ": " + x.getMessage());
        }
        files.put(name, to);
      } else {
        throw BerthException.invalid("the archive entry " + name + " is not a file, directory or link");
      }
      try {
        e = tar.getNextEntry();
      } catch (IOException | RuntimeException x) {
        throw BerthException.invalid("the archive is damaged after " + name + ": " + x.getMessage());
      }
    }
    in.transferTo(OutputStream.nullOutputStream());
    for (Map.Entry<String, String> link : links.entrySet()) {
      String target = link.getValue();
      for (int hops = 0; links.containsKey(target) && hops < 40; hops++) {
        target = links.get(target);
      }
      Path file = files.get(target);
      if (file == null) {
        throw BerthException.invalid("the archive entry " + link.getKey() + " links to " + link.getValue()
            + ", which is not a file of the archive");
      }
      files.putIfAbsent(link.getKey(), file);
    }
    return files;
  }

  /**
   * The archive name a symbolic link at {@code name} (in {@code parent}) leads to: {@code ..}
   * may climb within the archive, never out of it, and absolute targets are refused.
   */
  private static String resolveLink(String name, String parent, String target) {
    if (target.startsWith("/")) {
      throw BerthException.invalid("the archive entry " + name + " links outside the archive: " + target);
    }
    List<String> parts = new ArrayList<>(parent.isEmpty() ? List.of() : List.of(parent.split("/")));
    for (String part : target.split("/")) {
      if (part.equals("..")) {
        if (parts.isEmpty()) {
          throw BerthException.invalid("the archive entry " + name + " links outside the archive: " + target);
        }
        parts.remove(parts.size() - 1);
      } else if (!part.isEmpty() && !part.equals(".")) {
        parts.add(part);
      }
    }
    return String.join("/", parts);
  }

  /** An entry name without {@code ./} and trailing {@code /}; refused when absolute or with {@code ..}. */
  private static String normalize(String name) {
    String n = name;
    while (n.startsWith("./")) {
      n = n.substring(2);
    }
    while (n.endsWith("/")) {
      n = n.substring(0, n.length() - 1);
    }
    List<String> parts = new ArrayList<>();
    for (String part : n.split("/")) {
      if (part.equals("..")) {
        throw BerthException.invalid("the archive entry " + name + " points outside the archive");
      }
      if (!part.isEmpty() && !part.equals(".")) {
        parts.add(part);
      }
    }
    if (name.startsWith("/") || parts.isEmpty() && !name.equals("./") && !name.equals(".")) {
      throw BerthException.invalid("the archive entry \"" + name + "\" points outside the archive");
    }
    return String.join("/", parts);
  }

  private static List<Plan> dockerPlans(Map<String, Path> files) throws IOException {
    JsonNode manifest = json(files, "manifest.json");
    if (!manifest.isArray()) {
      throw BerthException.invalid("manifest.json of the archive is not a JSON array");
    }
    List<Plan> plans = new ArrayList<>();
    Map<String, String[]> layerDigests = new HashMap<>();
    for (JsonNode m : manifest) {
      String configName = m.path("Config").asText("");
      byte[] config = bytes(files, configName);
      List<String> diffIds = diffIds(config);
      JsonNode layers = m.path("Layers");
      if (layers.size() != diffIds.size()) {
        throw BerthException.invalid("manifest.json lists " + layers.size() + " layers for " + configName
            + ", its config " + diffIds.size());
      }
      List<LayerFile> layerFiles = new ArrayList<>();
      List<OciJson.LayerRef> refs = new ArrayList<>();
      for (int i = 0; i < layers.size(); i++) {
        String name = normalize(layers.get(i).asText(""));
        Path file = files.get(name);
        if (file == null) {
          throw BerthException.invalid("manifest.json names the layer " + name + ", which is not in the archive");
        }
        String[] dm = layerDigests.get(name);
        if (dm == null) {
          dm = digestAndType(file);
          layerDigests.put(name, dm);
        }
        long size = Files.size(file);
        layerFiles.add(new LayerFile(file, dm[0], size, dm[1], diffIds.get(i)));
        refs.add(new OciJson.LayerRef(dm[1], dm[0], size));
      }
      byte[] ociManifest = OciJson.manifest(new ContentStore.Descriptor(sha256(config), config.length), refs);
      List<Reference> tags = new ArrayList<>();
      for (JsonNode t : m.path("RepoTags")) {
        tags.add(tag(t.asText("")));
      }
      plans.add(new Plan(ociManifest, config, layerFiles, tags));
    }
    return plans;
  }

  private static List<Plan> ociPlans(Map<String, Path> files) throws IOException {
    JsonNode index = json(files, "index.json");
    Map<String, Plan> byManifest = new LinkedHashMap<>();
    for (JsonNode d : index.path("manifests")) {
      String digest = d.path("digest").asText("");
      byte[] content = blob(files, digest);
      JsonNode doc = parse(content, "the manifest " + digest);
      String type = doc.path("mediaType").asText(d.path("mediaType").asText(""));
      if (type.equals(OCI_INDEX) || type.equals(DOCKER_LIST) || doc.has("manifests")) {
        digest = pickFromIndex(doc, digest);
        content = blob(files, digest);
        doc = parse(content, "the manifest " + digest);
      }
      Plan plan = byManifest.get(digest);
      if (plan == null) {
        String configDigest = doc.path("config").path("digest").asText("");
        byte[] config = blob(files, configDigest);
        List<String> diffIds = diffIds(config);
        JsonNode layers = doc.path("layers");
        if (layers.size() != diffIds.size()) {
          throw BerthException.invalid("the manifest " + digest + " lists " + layers.size() + " layers, its config "
              + diffIds.size());
        }
        List<LayerFile> layerFiles = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
          JsonNode l = layers.get(i);
          String ld = l.path("digest").asText("");
          Path file = files.get(blobName(ld));
          if (file == null) {
            throw BerthException.invalid("the manifest " + digest + " names the layer " + ld
                + ", which is not in the archive");
          }
          layerFiles.add(new LayerFile(file, ld, l.path("size").asLong(-1), l.path("mediaType").asText(""),
              diffIds.get(i)));
        }
        plan = new Plan(content, config, layerFiles, new ArrayList<>());
        byManifest.put(digest, plan);
      }
      JsonNode a = d.path("annotations");
      String name = a.path(CONTAINERD_NAME).asText(a.path(REF_NAME).asText(""));
      if (!name.isEmpty()) {
        Reference t = tag(name);
        if (!plan.tags().contains(t)) {
          plan.tags().add(t);
        }
      }
    }
    return new ArrayList<>(byManifest.values());
  }

  /** The manifest of a nested index for this host: linux and the JVM's architecture, else the only one. */
  private static String pickFromIndex(JsonNode index, String digest) {
    JsonNode only = null;
    int count = 0;
    for (JsonNode m : index.path("manifests")) {
      count++;
      only = m;
      JsonNode p = m.path("platform");
      if (p.path("os").asText("").equals("linux") && p.path("architecture").asText("").equals(ImageStore.architecture())) {
        return m.path("digest").asText("");
      }
    }
    if (count == 1) {
      return only.path("digest").asText("");
    }
    throw BerthException.invalid("the index " + digest + " of the archive has no manifest for linux/"
        + ImageStore.architecture());
  }

  private static Reference tag(String name) {
    Reference r;
    try {
      r = Reference.parse(name);
    } catch (BerthException e) {
      throw BerthException.invalid("the archive tags an image with the invalid reference \"" + name + "\"");
    }
    if (r.digest() != null) {
      throw BerthException.invalid("the archive tags an image with a digest reference: " + name);
    }
    return r;
  }

  private static String blobName(String digest) {
    if (!digest.matches("sha256:[a-f0-9]{64}")) {
      throw BerthException.invalid("the archive names the unsupported digest \"" + digest + "\"");
    }
    return "blobs/sha256/" + digest.substring("sha256:".length());
  }

  /** A small blob, checked against its digest. */
  private static byte[] blob(Map<String, Path> files, String digest) throws IOException {
    byte[] content = bytes(files, blobName(digest));
    if (!sha256(content).equals(digest)) {
      throw BerthException.invalid("the blob " + digest + " of the archive does not match its digest");
    }
    return content;
  }

  private static byte[] bytes(Map<String, Path> files, String name) throws IOException {
    Path file = name.isEmpty() ? null : files.get(normalize(name));
    if (file == null) {
      throw BerthException.invalid("the archive names the file \"" + name + "\", which is not in it");
    }
    if (Files.size(file) > MAX_JSON_BYTES) {
      throw BerthException.invalid("the file " + name + " of the archive is larger than " + MAX_JSON_BYTES + " bytes");
    }
    return Files.readAllBytes(file);
  }

  private static JsonNode json(Map<String, Path> files, String name) throws IOException {
    return parse(bytes(files, name), name);
  }

  private static JsonNode parse(byte[] content, String what) {
    try {
      JsonNode n = OciJson.MAPPER.readTree(content);
      if (n == null) {
        throw BerthException.invalid(what + " of the archive is empty");
      }
      return n;
    } catch (IOException e) {
      throw BerthException.invalid(what + " of the archive is not valid JSON: " + e.getMessage());
    }
  }

  private static List<String> diffIds(byte[] config) {
    try {
      return OciJson.parseConfig(config).diffIds();
    } catch (IOException | RuntimeException e) {
      throw BerthException.invalid("an image config of the archive is not valid: " + e.getMessage());
    }
  }

  /** The sha256 of a layer file and its OCI media type (tar, tar+gzip or tar+zstd, told by its content). */
  private static String[] digestAndType(Path file) throws IOException {
    MessageDigest md = ContentStore.sha256();
    Compression c;
    try (BufferedInputStream in = new BufferedInputStream(new DigestInputStream(Files.newInputStream(file), md))) {
      c = Compression.detect(in, "a layer of the archive",
          "only gzip- or zstd-compressed and uncompressed layers are supported");
      in.transferTo(OutputStream.nullOutputStream());
    }
    return new String[] {ContentStore.digestOf(md), c.mediaType()};
  }

  private static String sha256(byte[] content) {
    MessageDigest md = ContentStore.sha256();
    md.update(content);
    return ContentStore.digestOf(md);
  }
}
