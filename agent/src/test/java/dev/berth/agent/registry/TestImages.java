package dev.berth.agent.registry;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.berth.agent.it.BusyboxImage;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Test images in an OCI layout, built with umoci, pushed with skopeo:
 *
 * <ul>
 *   <li>{@code 1}: two layers, the busybox rootfs plus {@code /etc/gone}, then a layer that
 *       deletes {@code /etc/gone} (a whiteout); cmd {@code /bin/sh};
 *   <li>{@code multi}: an OCI index of that image for linux/amd64 and linux/arm64/v8 (the same
 *       layers, configs that differ in their architecture), the host's platform listed last;
 *   <li>{@code lying}: the layers of {@code 1}, but a config that lists the second layer's diff
 *       id for the first too (blobs that match their digests, a layer that is not its diff id).
 * </ul>
 */
final class TestImages {
  static final Path UMOCI = Path.of("/usr/bin/umoci");
  static final Path SKOPEO = Path.of("/usr/bin/skopeo");
  static final String GONE = "etc/gone";
  private static final ObjectMapper JSON = new ObjectMapper();

  private TestImages() {}

  /** What {@link #build} made. */
  record Layout(Path dir, String manifestDigest, String configDigest, List<String> layerDigests, String indexDigest,
      Map<String, String> configByArchitecture) {}

  /** Skips the calling test (class) unless the registry, umoci, skopeo and busybox are there. */
  static void assumeTools() {
    assumeTrue(TestRegistry.available(), "skipped: /usr/bin/docker-registry (Debian docker-registry) is not installed");
    assumeTrue(Files.isExecutable(UMOCI), "skipped: /usr/bin/umoci is not installed");
    assumeTrue(Files.isExecutable(SKOPEO), "skipped: /usr/bin/skopeo is not installed");
    assumeTrue(BusyboxImage.available(), "skipped: /bin/busybox (busybox-static) is not installed");
  }

  static Layout build(Path dir) throws IOException, InterruptedException {
    Path layout = dir.resolve("oci");
    String image = layout + ":1";
    umoci("init", "--layout", layout.toString());
    umoci("new", "--image", image);

    Path first = dir.resolve("bundle-1");
    umoci("unpack", "--rootless", "--image", image, first.toString());
    Path tar = dir.resolve("busybox.tar");
    try (OutputStream out = Files.newOutputStream(tar)) {
      BusyboxImage.writeTar(out);
    }
    TestRegistry.run(List.of("tar", "-xf", tar.toString(), "--no-same-owner", "-C", first.resolve("rootfs").toString()));
    Files.writeString(first.resolve("rootfs").resolve(GONE), "deleted by the second layer\n");
    umoci("repack", "--image", image, first.toString());

    Path second = dir.resolve("bundle-2");
    umoci("unpack", "--rootless", "--image", image, second.toString());
    Files.delete(second.resolve("rootfs").resolve(GONE));
    umoci("repack", "--image", image, second.toString());
    umoci("config", "--image", image, "--config.cmd", "/bin/sh");

    ObjectNode index = (ObjectNode) JSON.readTree(layout.resolve("index.json").toFile());
    String manifestDigest = null;
    for (JsonNode m : index.path("manifests")) {
      if ("1".equals(m.path("annotations").path("org.opencontainers.image.ref.name").asText())) {
        manifestDigest = m.path("digest").asText();
      }
    }
    JsonNode manifest = JSON.readTree(blob(layout, manifestDigest));
    String configDigest = manifest.path("config").path("digest").asText();
    List<String> layers = new ArrayList<>();
    manifest.path("layers").forEach(l -> layers.add(l.path("digest").asText()));

    // The index: the same layers for two architectures, the host's last.
    JsonNode config = JSON.readTree(blob(layout, configDigest));
    String host = Platform.host().architecture();
    List<String[]> platforms = new ArrayList<>(List.of(new String[] {"amd64", ""}, new String[] {"arm64", "v8"}));
    platforms.sort((a, b) -> Boolean.compare(a[0].equals(host), b[0].equals(host)));
    ObjectNode indexDoc = JSON.createObjectNode();
    indexDoc.put("schemaVersion", 2);
    indexDoc.put("mediaType", Manifests.OCI_INDEX);
    ArrayNode entries = indexDoc.putArray("manifests");
    Map<String, String> configs = new java.util.HashMap<>();
    for (String[] p : platforms) {
      ObjectNode c = config.deepCopy();
      c.put("architecture", p[0]);
      if (!p[1].isEmpty()) {
        c.put("variant", p[1]);
      }
      byte[] cBytes = JSON.writeValueAsBytes(c);
      String cDigest = writeBlob(layout, cBytes);
      configs.put(p[0], cDigest);
      ObjectNode m = manifest.deepCopy();
      ((ObjectNode) m.get("config")).put("digest", cDigest).put("size", cBytes.length);
      byte[] mBytes = JSON.writeValueAsBytes(m);
      ObjectNode e = entries.addObject();
      e.put("mediaType", Manifests.OCI_MANIFEST);
      e.put("digest", writeBlob(layout, mBytes));
      e.put("size", mBytes.length);
      ObjectNode platform = e.putObject("platform");
      platform.put("architecture", p[0]);
      platform.put("os", "linux");
      if (!p[1].isEmpty()) {
        platform.put("variant", p[1]);
      }
    }
    // "lying": the same layers, but the config lists the second layer's diff id for the first.
    ObjectNode lyingConfig = config.deepCopy();
    ArrayNode diffIds = (ArrayNode) lyingConfig.path("rootfs").path("diff_ids");
    diffIds.set(0, diffIds.get(1));
    byte[] lcBytes = JSON.writeValueAsBytes(lyingConfig);
    ObjectNode lying = manifest.deepCopy();
    ((ObjectNode) lying.get("config")).put("digest", writeBlob(layout, lcBytes)).put("size", lcBytes.length);
    byte[] lyingBytes = JSON.writeValueAsBytes(lying);
    ObjectNode lyingRef = ((ArrayNode) index.get("manifests")).addObject();
    lyingRef.put("mediaType", Manifests.OCI_MANIFEST);
    lyingRef.put("digest", writeBlob(layout, lyingBytes));
    lyingRef.put("size", lyingBytes.length);
    lyingRef.putObject("annotations").put("org.opencontainers.image.ref.name", "lying");

    byte[] indexBytes = JSON.writeValueAsBytes(indexDoc);
    String indexDigest = writeBlob(layout, indexBytes);
    ObjectNode ref = ((ArrayNode) index.get("manifests")).addObject();
    ref.put("mediaType", Manifests.OCI_INDEX);
    ref.put("digest", indexDigest);
    ref.put("size", indexBytes.length);
    ref.putObject("annotations").put("org.opencontainers.image.ref.name", "multi");
    Files.write(layout.resolve("index.json"), JSON.writeValueAsBytes(index));
    return new Layout(layout, manifestDigest, configDigest, List.copyOf(layers), indexDigest, Map.copyOf(configs));
  }

  /** Makes a layer blob of a layer tar. */
  interface Compressor {
    byte[] compress(byte[] tar) throws IOException;
  }

  /** gzip, as most registries serve layers. */
  static final Compressor GZIP = tar -> {
    java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
    try (OutputStream gz = new java.util.zip.GZIPOutputStream(b)) {
      gz.write(tar);
    }
    return b.toByteArray();
  };

  /**
   * An OCI layout at {@code dir} with one image tagged {@code tag}: a layer per tar, each made
   * by {@code compressor} and declared as {@code layerMediaType}, and a config for the host's
   * platform that lists their diff ids, with cmd {@code /bin/sh}. Written here rather than by
   * umoci, which makes only gzip layers and one per repack.
   */
  static Layout layered(Path dir, String tag, List<byte[]> tars, String layerMediaType, Compressor compressor)
      throws IOException {
    Files.createDirectories(dir.resolve("blobs/sha256"));
    Files.writeString(dir.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
    ObjectNode manifest = JSON.createObjectNode();
    manifest.put("schemaVersion", 2);
    manifest.put("mediaType", Manifests.OCI_MANIFEST);
    ObjectNode config = JSON.createObjectNode();
    config.put("architecture", Platform.host().architecture());
    config.put("os", "linux");
    config.putObject("config").putArray("Cmd").add("/bin/sh");
    ObjectNode rootfs = config.putObject("rootfs");
    rootfs.put("type", "layers");
    ArrayNode diffIds = rootfs.putArray("diff_ids");
    ArrayNode layerList = JSON.createArrayNode();
    List<String> layerDigests = new ArrayList<>();
    for (byte[] tar : tars) {
      diffIds.add(RegistryClient.sha256(tar));
      byte[] blob = compressor.compress(tar);
      String digest = writeBlob(dir, blob);
      layerDigests.add(digest);
      layerList.addObject().put("mediaType", layerMediaType).put("digest", digest).put("size", blob.length);
    }
    byte[] configBytes = JSON.writeValueAsBytes(config);
    String configDigest = writeBlob(dir, configBytes);
    manifest.putObject("config").put("mediaType", "application/vnd.oci.image.config.v1+json")
        .put("digest", configDigest).put("size", configBytes.length);
    manifest.set("layers", layerList);
    byte[] manifestBytes = JSON.writeValueAsBytes(manifest);
    String manifestDigest = writeBlob(dir, manifestBytes);
    ObjectNode index = JSON.createObjectNode();
    index.put("schemaVersion", 2);
    ObjectNode entry = index.putArray("manifests").addObject();
    entry.put("mediaType", Manifests.OCI_MANIFEST).put("digest", manifestDigest).put("size", manifestBytes.length);
    entry.putObject("annotations").put("org.opencontainers.image.ref.name", tag);
    Files.write(dir.resolve("index.json"), JSON.writeValueAsBytes(index));
    return new Layout(dir, manifestDigest, configDigest, List.copyOf(layerDigests), null, Map.of());
  }

  /** A layer tar of one regular file. */
  static byte[] tarOf(String name, byte[] content) throws IOException {
    java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
    try (var tar = new org.apache.commons.compress.archivers.tar.TarArchiveOutputStream(b)) {
      var e = new org.apache.commons.compress.archivers.tar.TarArchiveEntry(name);
      e.setSize(content.length);
      e.setMode(0644);
      tar.putArchiveEntry(e);
      tar.write(content);
      tar.closeArchiveEntry();
    }
    return b.toByteArray();
  }

  /**
   * Pushes {@code tag} of the layout to {@code dest} ({@code host:port/repo:tag}) with skopeo;
   * {@code options} e.g. {@code --format v2s2}, {@code --all}, {@code --dest-creds u:p}.
   */
  static void push(Layout layout, String tag, String dest, String... options) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of(SKOPEO.toString(), "copy", "--dest-tls-verify=false"));
    cmd.addAll(List.of(options));
    cmd.add("oci:" + layout.dir() + ":" + tag);
    cmd.add("docker://" + dest);
    TestRegistry.run(cmd);
  }

  static byte[] blob(Path layout, String digest) throws IOException {
    return Files.readAllBytes(layout.resolve("blobs/sha256").resolve(digest.substring("sha256:".length())));
  }

  private static String writeBlob(Path layout, byte[] content) throws IOException {
    String digest = RegistryClient.sha256(content);
    Files.write(layout.resolve("blobs/sha256").resolve(digest.substring("sha256:".length())), content);
    return digest;
  }

  private static void umoci(String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of(UMOCI.toString()));
    cmd.addAll(List.of(args));
    TestRegistry.run(cmd);
  }
}
