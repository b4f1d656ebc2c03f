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
 * @param imageDigests the image ids (sha256 digests) it holds
 * @param updatedAtMillis the node's wall-clock time when it made these facts
 */
public record NodeFacts(String node, int cpus, long memoryBytes, double freeCpus, long freeMemoryBytes,
    List<ContainerFact> containers, List<String> imageDigests, long updatedAtMillis) {
  public NodeFacts {
    containers = List.copyOf(containers == null ? List.of() : containers);
    imageDigests = List.copyOf(imageDigests == null ? List.of() : imageDigests);
  }

  /** One container of the node. */
  public record ContainerFact(String id, String name, String image, String state) {}
}
