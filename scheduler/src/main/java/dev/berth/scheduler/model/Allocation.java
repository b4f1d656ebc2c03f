package dev.berth.scheduler.model;

import java.util.List;
import java.util.Objects;

/**
 * One replica of a task group placed on one node.
 *
 * @param id         unique in the cluster
 * @param job        the job's name
 * @param taskGroup  the task group's name
 * @param index      the replica's index in its group, 0-based; a replacement keeps it
 * @param node       the node's id
 * @param resources  what it holds on the node while it {@linkplain AllocationStatus#holdsResources
 *                   holds resources}
 * @param ports      host ports it holds on the node
 * @param generation 0 for the first allocation of an index, one more for each replacement; a
 *                   node that comes back after its allocation was replaced stops the copy whose
 *                   generation is older
 * @param status     where it is in its life
 */
public record Allocation(String id, String job, String taskGroup, int index, String node,
    Resources resources, List<PortMapping> ports, long generation, AllocationStatus status) {

  public Allocation {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(job, "job");
    Objects.requireNonNull(taskGroup, "taskGroup");
    Objects.requireNonNull(node, "node");
    Objects.requireNonNull(resources, "resources");
    ports = List.copyOf(ports == null ? List.of() : ports);
    Objects.requireNonNull(status, "status");
  }

  public Allocation withStatus(AllocationStatus status) {
    return new Allocation(id, job, taskGroup, index, node, resources, ports, generation, status);
  }

  /** Whether it belongs to the given job and task group. */
  public boolean of(String job, String taskGroup) {
    return this.job.equals(job) && this.taskGroup.equals(taskGroup);
  }
}
