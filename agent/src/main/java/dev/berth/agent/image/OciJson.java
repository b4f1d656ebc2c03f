package dev.berth.agent.image;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** The OCI image config and manifest documents, written and read with Jackson's tree model. */
final class OciJson {
  static final ObjectMapper MAPPER = new ObjectMapper();
  static final String CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json";
  static final String MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json";

  private OciJson() {}

  /** What Berth reads from an image config. */
  record Config(ImageConfig config, String os, String architecture, Instant created, List<String> diffIds) {}

  /** A layer as a manifest lists it. */
  record LayerRef(String mediaType, String digest, long size) {}

  static byte[] config(Config c, String createdBy, String comment) throws IOException {
    ObjectNode root = MAPPER.createObjectNode();
    root.put("created", c.created().toString());
    root.put("architecture", c.architecture());
    root.put("os", c.os());
    ObjectNode conf = root.putObject("config");
    ImageConfig ic = c.config();
    putString(conf, "User", ic.user());
    putSet(conf, "ExposedPorts", ic.exposedPorts());
    putList(conf, "Env", ic.env());
    putList(conf, "Entrypoint", ic.entrypoint());
    putList(conf, "Cmd", ic.cmd());
    putSet(conf, "Volumes", ic.volumes());
    putString(conf, "WorkingDir", ic.workingDir());
    if (!ic.labels().isEmpty()) {
      ObjectNode labels = conf.putObject("Labels");
      new TreeMap<>(ic.labels()).forEach(labels::put);
    }
    putString(conf, "StopSignal", ic.stopSignal());
    putHealthcheck(conf, ic.healthcheck());
    ObjectNode rootfs = root.putObject("rootfs");
    rootfs.put("type", "layers");
    c.diffIds().forEach(rootfs.putArray("diff_ids")::add);
    ObjectNode history = root.putArray("history").addObject();
    history.put("created", c.created().toString());
    history.put("created_by", createdBy);
    history.put("comment", comment);
    return MAPPER.writeValueAsBytes(root);
  }

  static Config parseConfig(byte[] json) throws IOException {
    JsonNode root = MAPPER.readTree(json);
    if (root == null || !root.isObject()) {
      throw new IOException("an image config must be a JSON object");
    }
    JsonNode c = root.path("config");
    Map<String, String> labels = new LinkedHashMap<>();
    c.path("Labels").properties().forEach(f -> labels.put(f.getKey(), f.getValue().asText()));
    ImageConfig config = new ImageConfig(strings(c.path("Entrypoint")), strings(c.path("Cmd")), strings(c.path("Env")),
        c.path("WorkingDir").asText(""), c.path("User").asText(""), labels, c.path("StopSignal").asText(""),
        keys(c.path("ExposedPorts")), keys(c.path("Volumes")), healthcheck(c.path("Healthcheck")));
    String created = root.path("created").asText("");
    Instant when = created.isEmpty() ? Instant.EPOCH : OffsetDateTime.parse(created).toInstant();
    if (!"layers".equals(root.path("rootfs").path("type").asText())) {
      throw new IOException("the image config's rootfs.type must be \"layers\"");
    }
    return new Config(config, root.path("os").asText(""), root.path("architecture").asText(""), when,
        strings(root.path("rootfs").path("diff_ids")));
  }

  static byte[] manifest(ContentStore.Descriptor config, List<LayerRef> layers) throws IOException {
    ObjectNode root = MAPPER.createObjectNode();
    root.put("schemaVersion", 2);
    root.put("mediaType", MANIFEST_MEDIA_TYPE);
    descriptor(root.putObject("config"), CONFIG_MEDIA_TYPE, config.digest(), config.size());
    ArrayNode list = root.putArray("layers");
    layers.forEach(l -> descriptor(list.addObject(), l.mediaType(), l.digest(), l.size()));
    return MAPPER.writeValueAsBytes(root);
  }

  private static void descriptor(ObjectNode n, String mediaType, String digest, long size) {
    n.put("mediaType", mediaType);
    n.put("digest", digest);
    n.put("size", size);
  }

  /** As Docker writes it: Test, then the durations in nanoseconds and Retries, each only when set. */
  private static void putHealthcheck(ObjectNode conf, Healthcheck h) {
    if (h == null) {
      return;
    }
    ObjectNode n = conf.putObject("Healthcheck");
    putList(n, "Test", h.test());
    putNanos(n, "Interval", h.interval());
    putNanos(n, "Timeout", h.timeout());
    putNanos(n, "StartPeriod", h.startPeriod());
    if (h.retries() != 0) {
      n.put("Retries", h.retries());
    }
  }

  private static void putNanos(ObjectNode n, String key, Duration d) {
    if (!d.isZero()) {
      n.put(key, d.toNanos());
    }
  }

  /** The config's Healthcheck; null when absent or null. */
  private static Healthcheck healthcheck(JsonNode h) {
    if (!h.isObject()) {
      return null;
    }
    return new Healthcheck(strings(h.path("Test")), Duration.ofNanos(h.path("Interval").asLong(0)),
        Duration.ofNanos(h.path("Timeout").asLong(0)), Duration.ofNanos(h.path("StartPeriod").asLong(0)),
        h.path("Retries").asInt(0));
  }

  private static void putString(ObjectNode n, String key, String value) {
    if (!value.isEmpty()) {
      n.put(key, value);
    }
  }

  private static void putList(ObjectNode n, String key, List<String> values) {
    if (!values.isEmpty()) {
      values.forEach(n.putArray(key)::add);
    }
  }

  /** Docker writes sets as objects with empty values: {"80/tcp": {}}. */
  private static void putSet(ObjectNode n, String key, List<String> values) {
    if (!values.isEmpty()) {
      ObjectNode set = n.putObject(key);
      values.forEach(v -> set.putObject(v));
    }
  }

  private static List<String> strings(JsonNode array) {
    List<String> out = new ArrayList<>();
    array.forEach(v -> out.add(v.asText()));
    return out;
  }

  private static List<String> keys(JsonNode object) {
    List<String> out = new ArrayList<>();
    object.properties().forEach(f -> out.add(f.getKey()));
    return out;
  }
}
