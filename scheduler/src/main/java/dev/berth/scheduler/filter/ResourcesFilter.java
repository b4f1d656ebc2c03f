package dev.berth.scheduler.filter;

import dev.berth.scheduler.FeasibilityFilter;
import dev.berth.scheduler.GroupContext;
import dev.berth.scheduler.model.Resources;

/**
 * A replica fits when the node's capacity minus what is in use (this plan's placements and stops
 * included) covers its cpu, memory and pids.
 */
public final class ResourcesFilter implements FeasibilityFilter {

  @Override
  public String name() {
    return "resources";
  }

  @Override
  public boolean isStatic() {
    return false;
  }

  @Override
  public boolean isNodeLocal() {
    return true;
  }

  @Override
  public Check prepare(GroupContext group) {
    Resources r = group.group().resources();
    long cpu = r.cpuMillis();
    long mem = r.memoryBytes();
    long pids = r.pids();
    return node -> {
      long freeMem = group.freeMemory(node);
      long freeCpu = group.freeCpu(node);
      long freePids = group.freePids(node);
      if (mem <= freeMem && cpu <= freeCpu && pids <= freePids) {
        return null;
      }
      return new Shortfall(cpu, mem, pids, freeCpu, freeMem, freePids);
    };
  }

  /**
   * What was asked and what was free when the node was checked. A record rather than a capturing
   * lambda: it is made for every node a busy cluster rejects, and a plain allocation is cheapest.
   */
  private record Shortfall(long cpu, long mem, long pids, long freeCpu, long freeMem,
      long freePids) implements Rejection {

    /** Every shortfall named, memory first: "memory 512 MiB needed, 200 MiB free; cpu …". */
    @Override
    public String reason() {
      StringBuilder b = new StringBuilder();
      if (mem > freeMem) {
        b.append("memory ").append(Resources.formatBytes(mem)).append(" needed, ")
            .append(Resources.formatBytes(Math.max(0, freeMem))).append(" free");
      }
      if (cpu > freeCpu) {
        b.append(b.length() > 0 ? "; " : "").append("cpu ").append(cpu).append("m needed, ")
            .append(Math.max(0, freeCpu)).append("m free");
      }
      if (pids > freePids) {
        b.append(b.length() > 0 ? "; " : "").append("pids ").append(pids).append(" needed, ")
            .append(Math.max(0, freePids)).append(" free");
      }
      return b.toString();
    }
  }
}
