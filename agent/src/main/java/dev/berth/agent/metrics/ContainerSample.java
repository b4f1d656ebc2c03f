package dev.berth.agent.metrics;

import dev.berth.agent.runtime.cgroup.CgroupStats;
import java.util.List;

/**
 * One reading of one running container.
 *
 * @param target the container
 * @param cgroup its cgroup's statistics
 * @param interfaces the interfaces of its network namespace, loopback left out
 * @param readAtNanos wall-clock time of the reading, in nanoseconds since the epoch
 */
public record ContainerSample(ContainerTarget target, CgroupStats cgroup, List<NetDev.Interface> interfaces,
    long readAtNanos) {
  public long rxBytes() {
    return interfaces.stream().mapToLong(NetDev.Interface::rxBytes).sum();
  }

  public long txBytes() {
    return interfaces.stream().mapToLong(NetDev.Interface::txBytes).sum();
  }
}
