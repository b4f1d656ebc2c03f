package dev.berth.agent.jobs;

import dev.berth.proto.v1.AllocationState;
import dev.berth.proto.v1.StoredAllocation;
import dev.berth.proto.v1.StoredJob;
import dev.berth.proto.v1.StoredPort;
import dev.berth.scheduler.jobfile.JobFileParser;
import dev.berth.scheduler.model.Allocation;
import dev.berth.scheduler.model.AllocationStatus;
import dev.berth.scheduler.model.Job;
import dev.berth.scheduler.model.PortMapping;
import dev.berth.scheduler.model.Resources;
import dev.berth.scheduler.model.TaskGroup;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.TreeMap;

/** Between what the store keeps (protobuf) and what the placement engine reasons about (records). */
public final class JobCodec {
  private JobCodec() {}

  /**
   * The job a stored one means: its file parsed again (the parser is the one definition of a
   * job), with the counts set by scale and the stopped flag applied.
   */
  public static Job job(StoredJob s) {
    Job j = JobFileParser.parse(s.getSource(), s.getText()).job();
    List<TaskGroup> groups = j.groups().stream()
        .map(g -> s.getCountsMap().containsKey(g.name()) ? g.withCount(s.getCountsOrThrow(g.name())) : g)
        .toList();
    return j.withGroups(groups).withStopped(s.getStopped());
  }

  public static Allocation allocation(StoredAllocation a) {
    return new Allocation(a.getId(), a.getJob(), a.getGroup(), a.getIndex(), a.getNode(),
        new Resources(a.getCpuMillis(), a.getMemoryBytes(), a.getPids()),
        a.getPortsList().stream().map(p -> new PortMapping(p.getLabel(), p.getHost(), p.getTo(), p.getDynamic())).toList(),
        a.getGeneration(), status(a));
  }

  /** A new placement as the leader stores it: pending, to be run by its node. */
  public static StoredAllocation placed(Allocation a, long jobVersion, String spec, long nowMillis) {
    StoredAllocation.Builder b = StoredAllocation.newBuilder()
        .setId(a.id()).setJob(a.job()).setGroup(a.taskGroup()).setIndex(a.index()).setNode(a.node())
        .setCpuMillis(a.resources().cpuMillis()).setMemoryBytes(a.resources().memoryBytes())
        .setPids(a.resources().pids()).setGeneration(a.generation())
        .setState(AllocationState.ALLOCATION_PENDING_VALUE).setUpdatedAtMillis(nowMillis)
        .setJobVersion(jobVersion).setSpec(spec).setCreatedAtMillis(nowMillis);
    for (PortMapping p : a.ports()) {
      b.addPorts(StoredPort.newBuilder().setLabel(p.label()).setHost(p.host()).setTo(p.to()).setDynamic(p.dynamic()));
    }
    return b.build();
  }

  /**
   * The engine's status of a stored allocation. One asked to stop keeps holding its node's
   * resources until the node says it stopped.
   */
  public static AllocationStatus status(StoredAllocation a) {
    return switch (AllocationState.forNumber(a.getState()) == null ? AllocationState.ALLOCATION_PENDING
        : AllocationState.forNumber(a.getState())) {
      case ALLOCATION_RUNNING -> AllocationStatus.RUNNING;
      case ALLOCATION_COMPLETE -> AllocationStatus.COMPLETE;
      case ALLOCATION_FAILED -> AllocationStatus.FAILED;
      case ALLOCATION_LOST -> AllocationStatus.LOST;
      case ALLOCATION_STOPPED -> AllocationStatus.STOPPED;
      default -> AllocationStatus.PENDING;
    };
  }

  /** Whether the allocation is over: its node has nothing left to run or stop for it. */
  public static boolean terminal(StoredAllocation a) {
    return !status(a).holdsResources();
  }

  /**
   * A digest of what a task group's containers are made of (image, command, env, resources,
   * ports, volumes, health check, restart rules): two versions of a job with the same digest for a group need no
   * replacement of its allocations; placement rules, counts, stop_after_disconnect and the
   * update and reschedule policies are not part of it. (A group without a health check or restart block digests
   * as it did before those existed, so an upgrade replaces nothing.)
   */
  public static String spec(TaskGroup g) {
    String canonical = String.join("\u0000", g.image(), String.join("\u0001", g.command()),
        new TreeMap<>(g.env()).toString(), g.resources().toString(), g.ports().toString(), g.volumes().toString());
    if (g.health() != null) {
      canonical += "\u0000" + g.health();
    }
    if (g.restart() != null) {
      // A node applies the restart rules of the version an allocation was placed by: a change
      // takes effect through a replacement.
      canonical += "\u0000restart " + g.restart();
    }
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(canonical.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(d, 0, 8);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is part of every JDK", e);
    }
  }
}
