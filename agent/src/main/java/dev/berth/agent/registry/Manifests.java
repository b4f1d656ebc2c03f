package dev.berth.agent.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.berth.agent.BerthException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/** Reads OCI and Docker schema 2 manifests, indexes and manifest lists; what Berth cannot use is refused here. */
final class Manifests {
  static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
  static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
  static final String DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
  static final String DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
  /** What a pull accepts, in the order of preference sent in {@code Accept}. */
  static final List<String> ACCEPTED = List.of(OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST);

  private static final Set<String> CONFIGS =
      Set.of("application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json");
  private static final Set<String> LAYERS = Set.of(
      "application/vnd.oci.image.layer.v1.tar",
      "application/vnd.oci.image.layer.v1.tar+gzip",
      "application/vnd.oci.image.layer.v1.tar+zstd",
      "application/vnd.oci.image.layer.nondistributable.v1.tar",
      "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
      "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
      "application/vnd.docker.image.rootfs.diff.tar.gzip",
      "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip");
  private static final Pattern DIGEST = Pattern.compile("sha256:[a-f0-9]{64}");
  private static final ObjectMapper MAPPER = new ObjectMapper();

  private Manifests() {}

  /** A content descriptor; {@code platform} is set for the entries of an index that give one. */
  record Descriptor(String mediaType, String digest, long size, Platform platform) {}

  /** An image manifest: its config and its layers, lowest first. */
  record Image(Descriptor config, List<Descriptor> layers) {}

  /** What the image config says that a pull needs before unpacking. */
  record ConfigInfo(String os, String architecture, List<String> diffIds) {}

  /** Whether the document is an index or manifest list (told by its media type, or else by its shape). */
  static boolean isIndex(String mediaType, byte[] content, String what) {
    String type = effectiveType(mediaType, content, what);
    return type.equals(OCI_INDEX) || type.equals(DOCKER_LIST);
  }

  /** The entries of an index or manifest list. */
  static List<Descriptor> index(byte[] content, String what) {
    JsonNode root = json(content, what);
    List<Descriptor> out = new ArrayList<>();
    for (JsonNode m : root.path("manifests")) {
      JsonNode p = m.path("platform");
      Platform platform = p.isObject()
          ? new Platform(p.path("os").asText(""), p.path("architecture").asText(""), p.path("variant").asText(""))
          : null;
      out.add(new Descriptor(m.path("mediaType").asText(""), digest(m, what), m.path("size").asLong(-1), platform));
    }
    return out;
  }

  /**
   * The config and layers of an image manifest.
   *
   * @throws BerthException INVALID_ARGUMENT for schema 1, an artifact that is not a container
   *     image, an unknown layer type (gzip, zstd and uncompressed tars are known), or a
   *     malformed document
   */
  static Image image(String mediaType, byte[] content, String what) {
    String type = effectiveType(mediaType, content, what);
    if (!type.equals(OCI_MANIFEST) && !type.equals(DOCKER_MANIFEST)) {
      throw BerthException.invalid(what + " is not an image manifest (media type " + type + ")");
    }
    JsonNode root = json(content, what);
    JsonNode c = root.path("config");
    if (!c.isObject()) {
      throw BerthException.invalid(what + " has no config");
    }
    Descriptor config = new Descriptor(c.path("mediaType").asText(""), digest(c, what), size(c, what), null);
    if (!CONFIGS.contains(config.mediaType())) {
      throw BerthException.invalid(what + " is not a container image: its config is of type \""
          + config.mediaType() + "\"");
    }
    List<Descriptor> layers = new ArrayList<>();
    for (JsonNode l : root.path("layers")) {
      Descriptor d = new Descriptor(l.path("mediaType").asText(""), digest(l, what), size(l, what), null);
      if (!LAYERS.contains(d.mediaType())) {
        throw BerthException.invalid(what + " has the layer " + d.digest() + " of the unsupported type \""
            + d.mediaType() + "\"");
      }
      layers.add(d);
    }
    return new Image(config, layers);
  }

  /** Reads what a pull needs from an image config. */
  static ConfigInfo config(byte[] content, String what) {
    JsonNode root = json(content, what);
    List<String> diffIds = new ArrayList<>();
    for (JsonNode d : root.path("rootfs").path("diff_ids")) {
      String id = d.asText("");
      if (!DIGEST.matcher(id).matches()) {
        throw BerthException.invalid(what + " lists the invalid diff id \"" + id + "\"");
      }
      diffIds.add(id);
    }
    return new ConfigInfo(root.path("os").asText(""), root.path("architecture").asText(""), diffIds);
  }

  private static String effectiveType(String mediaType, byte[] content, String what) {
    String type = mediaType == null ? "" : mediaType.split(";", 2)[0].trim();
    if (type.startsWith("application/vnd.docker.distribution.manifest.v1")) {
      throw BerthException.invalid(what + " is a Docker schema 1 manifest, which Berth does not read: push the image"
          + " again with a current client");
    }
    if (ACCEPTED.contains(type)) {
      return type;
    }
    JsonNode root = json(content, what); // no or a generic content type: the document tells
    String declared = root.path("mediaType").asText("");
    if (ACCEPTED.contains(declared)) {
      return declared;
    }
    if (root.path("schemaVersion").asInt() == 1) {
      return effectiveType("application/vnd.docker.distribution.manifest.v1+json", content, what);
    }
    if (root.has("manifests")) {
      return OCI_INDEX;
    }
    if (root.has("config") && root.has("layers")) {
      return OCI_MANIFEST;
    }
    throw BerthException.invalid(what + " is of the unsupported type \"" + (declared.isEmpty() ? type : declared) + "\"");
  }

  private static JsonNode json(byte[] content, String what) {
    try {
      JsonNode root = MAPPER.readTree(content);
      if (root == null || !root.isObject()) {
        throw BerthException.invalid(what + " is not a JSON object");
      }
      return root;
    } catch (IOException e) {
      throw BerthException.invalid(what + " is not valid JSON: " + e.getMessage());
    }
  }

  private static String digest(JsonNode descriptor, String what) {
    String d = descriptor.path("digest").asText("");
    if (!DIGEST.matcher(d).matches()) {
      throw BerthException.invalid(what + " has the unsupported digest \"" + d + "\": only sha256 is supported");
    }
    return d;
  }

  private static long size(JsonNode descriptor, String what) {
    long size = descriptor.path("size").asLong(-1);
    if (size < 0) {
      throw BerthException.invalid(what + " has a descriptor without a valid size");
    }
    return size;
  }
}
