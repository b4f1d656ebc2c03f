package dev.berth.agent.runtime;

import dev.berth.agent.runtime.net.Endpoint;
import java.nio.file.Path;

/**
 * A consistent snapshot of one container: its config and its state at one moment.
 *
 * @param endpoint where it sits on its bridge network while it runs; null otherwise
 */
public record ContainerView(ContainerConfig config, ContainerState state, Path rootfs, String cgroupPath, Path logPath,
    Endpoint endpoint) {
  public String id() {
    return config.id();
  }
}
