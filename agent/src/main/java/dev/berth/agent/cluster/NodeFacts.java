package dev.berth.agent.cluster;

import java.util.List;

/**
 * A node's fast-changing facts, as it gossips them about once a second: hints for placement and
 * views for {@code nodes}/{@code ps}, never authoritative.
 *
 * @param node node name
 * @param cpus logical cpus of the host
 * @param memoryBytes memory of the host
 * @param freeCpus cpus not reserved by containers (fractional)
 * @param freeMemoryBytes memory not reserved by containers
 * @param containers its containers and their states
 * @param imageDigests the images it holds: their ids (sha256 digests) and references
 * @param updatedAtMillis the node's wall-clock time when it made these facts
 * @param volumes the named volumes it holds
 * @param attributes facts constraints test as {@code attr.NAME} (os, arch, kernel.version, …)
 */
public record NodeFacts(String node, int cpus, long memoryBytes, double freeCpus, long freeMemoryBytes,
    List<ContainerFact> containers, List<String> imageDigests, long updatedAtMillis, List<String> volumes,
    java.util.Map<String, String> attributes) {
  public NodeFacts {
    containers = List.copyOf(containers == null ? List.of() : containers);
    imageDigests = List.copyOf(imageDigests == null ? List.of() : imageDigests);
    volumes = List.copyOf(volumes == null ? List.of() : volumes);
    attributes = java.util.Map.copyOf(attributes == null ? java.util.Map.of() : attributes);
  }

  /** Facts without volumes or attributes (as an agent before them gossiped). */
  public NodeFacts(String node, int cpus, long memoryBytes, double freeCpus, long freeMemoryBytes,
      List<ContainerFact> containers, List<String> imageDigests, long updatedAtMillis) {
    this(node, cpus, memoryBytes, freeCpus, freeMemoryBytes, containers, imageDigests, updatedAtMillis, List.of(),
        java.util.Map.of());
  }

  /** One container of the node. */
  public record ContainerFact(String id, String name, String image, String state) {}
}
