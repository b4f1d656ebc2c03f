package dev.berth.scheduler.jobfile;

import dev.berth.scheduler.model.ClusterSnapshot;
import dev.berth.scheduler.model.Node;
import dev.berth.scheduler.model.Resources;
import dev.berth.scheduler.model.TaskGroup;
import java.util.Map;

/**
 * A parsed job file: the job, and where in the file each part of it was, so that checks made
 * after parsing can still name a line.
 *
 * @param source    the file's name as the user gave it
 * @param job       the job
 * @param locations by path: {@code groups.web}, {@code groups.web.resources},
 *                  {@code groups.web.resources.memory}, …
 */
public record JobFile(String source, dev.berth.scheduler.model.Job job,
    Map<String, Location> locations) {

  public JobFile {
    locations = Map.copyOf(locations);
  }

  /**
   * Refuses a job that asks for what no node of the cluster could ever give: a task group whose
   * resources fit in no node's capacity, even an empty one. An empty cluster refuses nothing
   * (nodes may yet join).
   *
   * @throws JobFileException naming the group's resources line and the largest node
   */
  public void validateAgainst(ClusterSnapshot snapshot) {
    if (snapshot.nodes().isEmpty()) {
      return;
    }
    long maxCpu = 0;
    long maxMem = 0;
    long maxPids = 0;
    for (Node n : snapshot.nodes()) {
      maxCpu = Math.max(maxCpu, n.capacity().cpuMillis());
      maxMem = Math.max(maxMem, n.capacity().memoryBytes());
      maxPids = Math.max(maxPids, n.capacity().pids());
    }
    for (TaskGroup g : job.groups()) {
      Resources r = g.resources();
      String where = "task group \"" + g.name() + "\"";
      if (r.memoryBytes() > maxMem) {
        throw refuse(g, "memory", where + " needs memory " + Resources.formatBytes(r.memoryBytes())
            + ", more than any node has (the largest has " + Resources.formatBytes(maxMem) + ")");
      }
      if (r.cpuMillis() > maxCpu) {
        throw refuse(g, "cpu", where + " needs cpu " + r.cpuMillis()
            + "m, more than any node has (the largest has " + maxCpu + "m)");
      }
      if (r.pids() > maxPids) {
        throw refuse(g, "pids", where + " needs " + r.pids()
            + " pids, more than any node has (the largest has " + maxPids + ")");
      }
      boolean fits = snapshot.nodes().stream().anyMatch(n -> n.capacity().fits(r));
      if (!fits) {
        throw refuse(g, null, where + " needs " + r
            + " on one node, and no node has all of that together");
      }
    }
  }

  private JobFileException refuse(TaskGroup g, String field, String reason) {
    String base = "groups." + g.name() + ".resources";
    Location at = field == null ? null : locations.get(base + "." + field);
    if (at == null) {
      at = locations.get(base);
    }
    if (at == null) {
      at = locations.getOrDefault("groups." + g.name(), new Location(0, 0));
    }
    return new JobFileException(source, at.line(), at.column(), "impossible request: " + reason);
  }
}
