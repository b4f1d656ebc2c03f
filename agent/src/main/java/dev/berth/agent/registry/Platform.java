package dev.berth.agent.registry;

import dev.berth.agent.image.ImageStore;
import java.util.Objects;

/**
 * An OCI platform: what an image index offers one manifest for, and what a pull picks.
 *
 * @param variant e.g. {@code v8}; empty when not given. It only has to match when both
 *     sides give one.
 */
public record Platform(String os, String architecture, String variant) {
  public Platform {
    Objects.requireNonNull(os, "os");
    Objects.requireNonNull(architecture, "architecture");
    variant = variant == null ? "" : variant;
  }

  /** linux and the JVM's architecture (amd64, arm64, …), no variant. */
  public static Platform host() {
    return new Platform("linux", ImageStore.architecture(), "");
  }

  /** Whether an index entry for {@code offered} is for this platform. */
  public boolean matches(Platform offered) {
    return os.equals(offered.os()) && architecture.equals(offered.architecture())
        && (variant.isEmpty() || offered.variant().isEmpty() || variant.equals(offered.variant()));
  }

  /** {@code os/architecture[/variant]}, as Docker writes it. */
  @Override
  public String toString() {
    return os + "/" + architecture + (variant.isEmpty() ? "" : "/" + variant);
  }
}
