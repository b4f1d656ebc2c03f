package dev.berth.ctl;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.berth.proto.v1.RegistryAuth;
import dev.berth.proto.v1.RegistryCredential;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * What the CLI needs of a job file before sending it: its text, the images it names, and the
 * registry credentials to send with it. The agent parses and validates the file (with the
 * scheduler's parser); this side only reads what it must, and never refuses a file for its
 * content.
 */
final class JobFiles {
  /** The source name a job file read from stdin is reported under ("<stdin>:3:5: ..."). */
  static final String STDIN = "<stdin>";

  private JobFiles() {
  }

  /** A job file's name (for the agent's error messages) and its text. */
  record Source(String name, String text) {
  }

  /** {@code file}, or stdin for "-". A missing file is a {@link CliException} with {@code exitCode}. */
  static Source read(String file, Cli cli, int exitCode) throws IOException {
    if (file.equals("-")) {
      return new Source(STDIN, new String(cli.in.readAllBytes(), StandardCharsets.UTF_8));
    }
    try {
      return new Source(file, Files.readString(Path.of(file), StandardCharsets.UTF_8));
    } catch (NoSuchFileException e) {
      throw new CliException("open " + file + ": no such file or directory", exitCode);
    }
  }

  /**
   * Every {@code image} value in the file, at any depth (only task groups have one). JSON when
   * it starts with a brace (YAML would refuse a JSON file indented with tabs), YAML otherwise.
   * A file that does not parse names no image: the agent will refuse it with a better message.
   */
  static Set<String> images(String text) {
    Set<String> out = new TreeSet<>();
    try {
      String t = text.stripLeading();
      JsonNode root = t.startsWith("{") || t.startsWith("[") ? new ObjectMapper().readTree(text) : new YAMLMapper().readTree(text);
      collectImages(root, out);
    } catch (IOException | RuntimeException e) {
      // left to the agent's parser, which says where and why
    }
    return out;
  }

  private static void collectImages(JsonNode node, Set<String> out) {
    if (node == null) {
      return;
    }
    if (node.isObject()) {
      for (Map.Entry<String, JsonNode> e : node.properties()) {
        if (e.getKey().equals("image") && e.getValue().isTextual() && !e.getValue().asText().isBlank()) {
          out.add(e.getValue().asText().trim());
        } else {
          collectImages(e.getValue(), out);
        }
      }
    } else if (node.isArray()) {
      node.forEach(n -> collectImages(n, out));
    }
  }

  /**
   * {@code --registry-auth REGISTRY=USER:PASS} values by registry (normalized as `login` stores
   * them). A malformed one is an {@link IllegalArgumentException} naming it.
   */
  static Map<String, RegistryCredential> parseRegistryAuth(List<String> flags) {
    Map<String, RegistryCredential> out = new TreeMap<>();
    for (String flag : flags) {
      int eq = flag.indexOf('=');
      int colon = eq < 0 ? -1 : flag.indexOf(':', eq + 1);
      if (eq <= 0 || colon < 0 || colon == eq + 1 || colon == flag.length() - 1) {
        throw new IllegalArgumentException("invalid --registry-auth \"" + redact(flag)
            + "\": expected REGISTRY=USER:PASSWORD");
      }
      String registry = Credentials.normalize(flag.substring(0, eq));
      out.put(registry, RegistryCredential.newBuilder().setRegistry(registry)
          .setUsername(flag.substring(eq + 1, colon)).setPassword(flag.substring(colon + 1)).build());
    }
    return out;
  }

  /** The flag with what follows the first ':' of its value hidden: it may be a password. */
  private static String redact(String flag) {
    int eq = flag.indexOf('=');
    int colon = flag.indexOf(':', Math.max(eq, 0));
    return colon < 0 ? flag : flag.substring(0, colon + 1) + "***";
  }

  /**
   * The credentials to send: the {@code explicit} ones, then, when {@code withStored}, those
   * `berth login` stored for the registry of each of {@code images} (docker's rule: docker.io
   * unless the reference starts with a host), an explicit one winning for its registry.
   * Registries without stored credentials are left out: their images are pulled anonymously.
   * Sorted by registry.
   */
  static List<RegistryCredential> credentials(Map<String, RegistryCredential> explicit, boolean withStored,
      Collection<String> images, Credentials stored) throws IOException {
    Map<String, RegistryCredential> out = new TreeMap<>(explicit);
    if (withStored) {
      for (String image : images) {
        String registry = Credentials.registryOf(image);
        if (!out.containsKey(registry)) {
          RegistryAuth a = stored.get(registry);
          if (!a.getUsername().isEmpty()) {
            out.put(registry, RegistryCredential.newBuilder().setRegistry(registry)
                .setUsername(a.getUsername()).setPassword(a.getPassword()).build());
          }
        }
      }
    }
    return new ArrayList<>(out.values());
  }
}
