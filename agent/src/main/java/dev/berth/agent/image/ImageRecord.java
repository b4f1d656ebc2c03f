package dev.berth.agent.image;

import java.time.Instant;
import java.util.List;

/**
 * One image of the local store, as {@code docker images} and {@code docker inspect} show it.
 * A snapshot: tagging or removing later does not change a record already handed out.
 *
 * @param id {@code sha256:} and the hex digest of the image's OCI config blob
 * @param repoTags normalized full references, e.g. {@code docker.io/library/busybox:latest};
 *     empty for an untagged (dangling) image
 * @param diffIds the layers' uncompressed digests, lowest first
 * @param sizeBytes the unpacked size of all layers (file content bytes)
 * @param repoDigests {@code name@sha256:…} of each registry manifest (or index) the image was
 *     pulled by, e.g. {@code docker.io/library/busybox@sha256:…}; empty for an imported image
 */
public record ImageRecord(
    String id,
    List<String> repoTags,
    List<String> diffIds,
    ImageConfig config,
    long sizeBytes,
    Instant created,
    String os,
    String architecture,
    List<String> repoDigests) {
  public ImageRecord {
    repoTags = List.copyOf(repoTags);
    diffIds = List.copyOf(diffIds);
    repoDigests = repoDigests == null ? List.of() : List.copyOf(repoDigests);
  }

  /** An image without repo digests (imported, not pulled). */
  public ImageRecord(String id, List<String> repoTags, List<String> diffIds, ImageConfig config, long sizeBytes,
      Instant created, String os, String architecture) {
    this(id, repoTags, diffIds, config, sizeBytes, created, os, architecture, List.of());
  }

  /** The first 12 hex digits of the id, as Docker shows it. */
  public String shortId() {
    return id.substring("sha256:".length(), "sha256:".length() + 12);
  }
}
