package dev.berth.ctl;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.berth.proto.v1.RegistryAuth;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Base64;
import java.util.Locale;
import java.util.Map;

/**
 * Registry credentials of `berth login`, in {@code $BERTH_CONFIG/config.json} (default
 * {@code ~/.berth}), as docker keeps them: {@code {"auths": {"HOST": {"auth": base64(user:pass)}}}}.
 * The directory is 0700 and the file 0600 from the moment they exist, and the file is
 * replaced atomically.
 */
final class Credentials {
  static final String DOCKER_HUB = "docker.io";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path file;

  Credentials(Map<String, String> env) {
    String dir = env.getOrDefault("BERTH_CONFIG", env.getOrDefault("HOME", "/root") + "/.berth");
    this.file = Path.of(dir, "config.json");
  }

  /** The registry host of an image reference, as docker decides it: docker.io unless the first part names a host. */
  static String registryOf(String reference) {
    int slash = reference.indexOf('/');
    if (slash < 0) {
      return DOCKER_HUB;
    }
    String first = reference.substring(0, slash);
    boolean host = first.contains(".") || first.contains(":") || first.equals("localhost")
        || !first.equals(first.toLowerCase(Locale.ROOT));
    return host ? normalize(first) : DOCKER_HUB;
  }

  /** index.docker.io and registry-1.docker.io are docker.io. */
  static String normalize(String server) {
    String s = server.replaceFirst("^https?://", "").replaceAll("/+$", "");
    return s.isEmpty() || s.equals("index.docker.io") || s.equals("registry-1.docker.io")
        || s.startsWith("index.docker.io/") ? DOCKER_HUB : s;
  }

  /** The stored credentials for {@code server}, or an empty auth. */
  RegistryAuth get(String server) throws IOException {
    ObjectNode auths = auths();
    String b64 = auths.path(normalize(server)).path("auth").asText("");
    if (b64.isEmpty()) {
      return RegistryAuth.getDefaultInstance();
    }
    String pair = new String(Base64.getDecoder().decode(b64), StandardCharsets.UTF_8);
    int colon = pair.indexOf(':');
    if (colon < 0) {
      throw new IOException(file + ": the credentials of " + server + " are damaged; run berth login again");
    }
    return RegistryAuth.newBuilder().setUsername(pair.substring(0, colon)).setPassword(pair.substring(colon + 1)).build();
  }

  void put(String server, RegistryAuth auth) throws IOException {
    ObjectNode root = read();
    ObjectNode auths = root.with("auths");
    String pair = auth.getUsername() + ":" + auth.getPassword();
    auths.putObject(normalize(server)).put("auth", Base64.getEncoder().encodeToString(pair.getBytes(StandardCharsets.UTF_8)));
    write(root);
  }

  /** Returns false when nothing was stored for {@code server}. */
  boolean remove(String server) throws IOException {
    ObjectNode root = read();
    boolean had = root.with("auths").remove(normalize(server)) != null;
    if (had) {
      write(root);
    }
    return had;
  }

  private ObjectNode auths() throws IOException {
    return read().with("auths");
  }

  private ObjectNode read() throws IOException {
    if (!Files.exists(file)) {
      return JSON.createObjectNode();
    }
    try {
      return (ObjectNode) JSON.readTree(file.toFile());
    } catch (IOException | ClassCastException e) {
      throw new IOException(file + " is not a berth config file: " + e.getMessage(), e);
    }
  }

  private void write(ObjectNode root) throws IOException {
    Path dir = file.getParent();
    if (!Files.isDirectory(dir)) {
      Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    }
    Path tmp = Files.createTempFile(dir, ".config", ".tmp",
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    try {
      Files.write(tmp, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(root));
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }
}
