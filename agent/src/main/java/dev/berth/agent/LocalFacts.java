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

  private final dev.berth.agent.runtime.VolumeStore volumes;
  private final java.util.Map<String, String> attributes;

  LocalFacts(String node, ContainerRuntime runtime, ImageStore images, dev.berth.agent.runtime.VolumeStore volumes) {
    this.node = node;
    this.runtime = runtime;
    this.images = images;
    this.volumes = volumes;
    this.attributes = attributes(cpus);
  }

  /**
   * What constraints may test as {@code attr.NAME}: {@code os}, {@code arch} (as images name
   * it), {@code kernel.release} and {@code kernel.version} (its leading numbers, for the version
   * operator), {@code cpu.count}. Fixed while the agent runs.
   */
  static java.util.Map<String, String> attributes(int cpus) {
    java.util.Map<String, String> a = new java.util.TreeMap<>();
    a.put("os", "linux");
    a.put("arch", ImageStore.architecture());
    a.put("cpu.count", Integer.toString(cpus));
    try {
      String release = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/sys/kernel/osrelease")).trim();
      a.put("kernel.release", release);
      java.util.regex.Matcher m = java.util.regex.Pattern.compile("^\\d+(\\.\\d+)*").matcher(release);
      if (m.find()) {
        a.put("kernel.version", m.group());
      }
    } catch (java.io.IOException e) {
      // Not Linux's procfs: the kernel attributes are simply absent.
    }
    return java.util.Map.copyOf(a);
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
    // Ids and references (as stored and as users write them): placement prefers a node that
    // holds a job's image under whichever name the job file gives.
    java.util.SortedSet<String> digests = new java.util.TreeSet<>();
    for (ImageRecord image : images.list()) {
      digests.add(image.id());
      for (String tag : image.repoTags()) {
        digests.add(tag);
        String familiar = dev.berth.agent.image.Reference.parse(tag).familiar();
        digests.add(familiar);
        if (familiar.endsWith(":latest")) {
          digests.add(familiar.substring(0, familiar.length() - ":latest".length()));
        }
      }
    }
    List<String> held = volumes.list().stream().map(v -> v.name()).sorted().toList();
    return new NodeFacts(node, cpus, memory, Math.max(0, cpus - usedCpus), Math.max(0, memory - usedMemory), containers,
        List.copyOf(digests), System.currentTimeMillis(), held, attributes);
  }
}
