package dev.berth.scheduler.model;

import java.util.Objects;

/**
 * A host-local named volume a task group mounts. Its data lives on one host, so the group is
 * placed only on nodes that hold a volume of that name, never on one with an empty new volume.
 */
public record VolumeMount(String name, String path, boolean readOnly) {
  public VolumeMount {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(path, "path");
  }
}
