package dev.berth.agent;

import dev.berth.agent.cluster.NodeFacts;
import dev.berth.agent.image.ImageRecord;
import dev.berth.agent.image.ImageStore;
import dev.berth.agent.runtime.ContainerRuntime;
import dev.berth.agent.runtime.ContainerState;
import dev.berth.agent.runtime.ContainerView;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * This host's {@link NodeFacts}, taken from the runtime and the image store for the cluster to
 * gossip: the composition root's glue, so that {@code cluster} depends on neither.
 *
 * <p>Free cpu and memory are the host's capacity minus the limits of running containers
 * (reservations, as a scheduler counts them), not measured use; a container without a limit
 * reserves nothing. Called on the cluster's timer thread about once a second; reads only
 * in-memory state.
 */
final class LocalFacts implements Supplier<NodeFacts> {
  private final String node;
  private final ContainerRuntime runtime;
  private final ImageStore images;
  private final int cpus = Runtime.getRuntime().availableProcessors();
  private final long memory = ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
      ? os.getTotalMemorySize() : 0;

  LocalFacts(String node, ContainerRuntime runtime, ImageStore images) {
    this.node = node;
    this.runtime = runtime;
    this.images = images;
  }

  @Override
  public NodeFacts get() {
    double usedCpus = 0;
    long usedMemory = 0;
    List<NodeFacts.ContainerFact> containers = new ArrayList<>();
    for (ContainerView c : runtime.list(true)) {
      containers.add(new NodeFacts.ContainerFact(c.id(), c.config().name(), c.config().image(),
          c.state().status().name().toLowerCase(Locale.ROOT)));
      if (c.state().status() == ContainerState.Status.RUNNING) {
        if (c.config().cpuQuotaMicros() > 0 && c.config().cpuPeriodMicros() > 0) {
          usedCpus += (double) c.config().cpuQuotaMicros() / c.config().cpuPeriodMicros();
        }
        usedMemory += Math.max(0, c.config().memoryBytes());
      }
    }
    List<String> digests = images.list().stream().map(ImageRecord::id).sorted().toList();
    return new NodeFacts(node, cpus, memory, Math.max(0, cpus - usedCpus), Math.max(0, memory - usedMemory), containers,
        digests, System.currentTimeMillis());
  }
}
