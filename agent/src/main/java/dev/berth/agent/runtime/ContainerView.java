package dev.berth.agent.runtime;

import java.nio.file.Path;

/** A consistent snapshot of one container: its config and its state at one moment. */
public record ContainerView(ContainerConfig config, ContainerState state, Path rootfs, String cgroupPath, Path logPath) {
  public String id() {
    return config.id();
  }
}
