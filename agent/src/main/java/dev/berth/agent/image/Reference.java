package dev.berth.agent.image;

import dev.berth.agent.BerthException;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * An image reference as Docker users write it, normalized: {@code busybox} is
 * {@code docker.io/library/busybox:latest}, {@code user/app:1} is {@code docker.io/user/app:1},
 * {@code host:5000/repo:tag} and {@code localhost/x} keep their registry, and
 * {@code repo@sha256:<64 hex>} names content by digest (a reference without tag and digest
 * gets the tag {@code latest}).
 *
 * <p>The first path component is a registry when it contains a dot or a colon, is
 * {@code localhost} or has an uppercase letter (Docker's rule); the repository path must be
 * lowercase. Immutable; equal when their {@link #toString() full forms} are equal.
 */
public final class Reference {
  /** Docker Hub, the registry of names without one. */
  public static final String DOCKER_HUB = "docker.io";

  private static final int MAX_NAME_LENGTH = 255;
  private static final Pattern DOMAIN_COMPONENT = Pattern.compile("[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?");
  private static final Pattern DOMAIN =
      Pattern.compile("(?:" + DOMAIN_COMPONENT + "(?:\\." + DOMAIN_COMPONENT + ")*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?");
  private static final Pattern PATH_COMPONENT = Pattern.compile("[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*");
  private static final Pattern TAG = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
  private static final Pattern SHA256 = Pattern.compile("sha256:[a-f0-9]{64}");
  private static final Pattern HEX64 = Pattern.compile("[a-f0-9]{64}");

  private final String domain;
  private final String path;
  private final String tag;
  private final String digest;

  private Reference(String domain, String path, String tag, String digest) {
    this.domain = domain;
    this.path = path;
    this.tag = tag;
    this.digest = digest;
  }

  /**
   * Parses and normalizes {@code ref}.
   *
   * @throws BerthException INVALID_ARGUMENT naming the reference and what is wrong with it
   */
  public static Reference parse(String ref) {
    if (ref == null || ref.isEmpty()) {
      throw BerthException.invalid("invalid reference: it is empty");
    }
    String rest = ref;
    String digest = null;
    int at = rest.indexOf('@');
    if (at >= 0) {
      digest = rest.substring(at + 1);
      rest = rest.substring(0, at);
      if (!SHA256.matcher(digest).matches()) {
        throw invalid(ref, digest.startsWith("sha256:")
            ? "invalid digest \"" + digest + "\": sha256 needs 64 lowercase hex digits"
            : "invalid digest \"" + digest + "\": only sha256:<64 hex digits> is supported");
      }
    }
    String tag = null;
    int colon = rest.lastIndexOf(':');
    if (colon > rest.lastIndexOf('/')) {
      tag = rest.substring(colon + 1);
      rest = rest.substring(0, colon);
      if (!TAG.matcher(tag).matches()) {
        throw invalid(ref, "invalid tag \"" + tag + "\": a tag is 1 to 128 of [A-Za-z0-9_.-], not starting with . or -");
      }
    }
    if (rest.isEmpty()) {
      throw invalid(ref, "the repository name is empty");
    }
    if (HEX64.matcher(rest).matches()) {
      throw invalid(ref, "a repository name cannot be 64 hex digits: that is an image id");
    }
    String domain = DOCKER_HUB;
    String path = rest;
    int slash = rest.indexOf('/');
    if (slash >= 0) {
      String first = rest.substring(0, slash);
      if (first.contains(".") || first.contains(":") || first.equals("localhost") || !first.equals(first.toLowerCase())) {
        domain = first;
        path = rest.substring(slash + 1);
        if (!DOMAIN.matcher(domain).matches()) {
          throw invalid(ref, "invalid registry \"" + domain + "\"");
        }
      }
    }
    if (domain.equals("index.docker.io")) {
      domain = DOCKER_HUB;
    }
    if (!path.equals(path.toLowerCase())) {
      throw invalid(ref, "the repository name must be lowercase");
    }
    for (String component : path.split("/", -1)) {
      if (!PATH_COMPONENT.matcher(component).matches()) {
        throw invalid(ref, component.isEmpty()
            ? "the repository name has an empty path component"
            : "invalid repository name component \"" + component + "\": use [a-z0-9] separated by . _ __ or -");
      }
    }
    if (domain.equals(DOCKER_HUB) && !path.contains("/")) {
      path = "library/" + path;
    }
    if (domain.length() + 1 + path.length() > MAX_NAME_LENGTH) {
      throw invalid(ref, "the repository name is longer than " + MAX_NAME_LENGTH + " characters");
    }
    if (tag == null && digest == null) {
      tag = "latest";
    }
    return new Reference(domain, path, tag, digest);
  }

  private static BerthException invalid(String ref, String reason) {
    return BerthException.invalid("invalid reference \"" + ref + "\": " + reason);
  }

  /** The registry, e.g. {@code docker.io} or {@code host:5000}. */
  public String domain() {
    return domain;
  }

  /** The repository path within the registry, e.g. {@code library/busybox}. */
  public String path() {
    return path;
  }

  /** The repository: registry and path, e.g. {@code docker.io/library/busybox}. */
  public String name() {
    return domain + "/" + path;
  }

  /** The tag, or null for a digest reference given without one. */
  public String tag() {
    return tag;
  }

  /** The digest ({@code sha256:…}), or null. */
  public String digest() {
    return digest;
  }

  /** The short form Docker shows: {@code busybox:latest}, {@code user/app:1}, {@code host:5000/repo:tag}. */
  public String familiar() {
    String name = name();
    if (domain.equals(DOCKER_HUB)) {
      name = path.startsWith("library/") && path.indexOf('/', "library/".length()) < 0
          ? path.substring("library/".length())
          : path;
    }
    return withSuffix(name);
  }

  private String withSuffix(String name) {
    return name + (tag != null ? ":" + tag : "") + (digest != null ? "@" + digest : "");
  }

  /** The full normalized form, e.g. {@code docker.io/library/busybox:latest}. */
  @Override
  public String toString() {
    return withSuffix(name());
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Reference r && r.toString().equals(toString());
  }

  @Override
  public int hashCode() {
    return Objects.hash(domain, path, tag, digest);
  }
}
