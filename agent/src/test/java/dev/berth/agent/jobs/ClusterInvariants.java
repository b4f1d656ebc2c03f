package dev.berth.agent.jobs;

import dev.berth.agent.task.AllocationRunner;
import dev.berth.proto.v1.AllocationInfo;
import dev.berth.proto.v1.AllocationState;
import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerStatus;
import dev.berth.proto.v1.GroupStatus;
import dev.berth.proto.v1.JobRef;
import dev.berth.proto.v1.JobStatus;
import dev.berth.proto.v1.JobSummary;
import dev.berth.proto.v1.ListJobsRequest;
import dev.berth.proto.v1.ListNodesRequest;
import dev.berth.proto.v1.Node;
import dev.berth.proto.v1.NodeStatus;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

/**
 * What must hold on a script cluster once it has converged, read from everything there is: the
 * jobs and their allocations (JobService, through a live agent), each live host's containers as
 * its own agent lists them on its local socket (with their {@code berth.*} labels), and the hosts'
 * real processes, mounts and cgroups. {@link #check} polls until nothing is off or the deadline
 * passes, and then reports everything that is off at once:
 *
 * <ul>
 *   <li><b>nothing lost</b>: each service group has its desired count of replicas, each with one
 *       allocation that should run, runs, and is on a live node (agent running, node ready);
 *   <li><b>nothing duplicated</b>: each job/group/index has at most one running container on all
 *       hosts together, and no host whose agent is down still runs container processes (nobody
 *       would ever stop them);
 *   <li><b>nodes match allocations</b>, both ways: each live host's running containers of jobs are
 *       exactly the allocations that should run there, and each such allocation's container runs
 *       there;
 *   <li><b>containers are real</b>: each running container's init pid is alive and in the
 *       container's own cgroup;
 *   <li><b>nothing leaks</b>: a live host's mounts (below its directory) and cgroups (below its
 *       agent's prefix) are those of its running containers (rootfs and network namespace; the
 *       launchers' cgroup), no more.
 * </ul>
 *
 * <p>Test code: reads only, changes nothing. Jobs that are meant not to converge (a crash loop)
 * must be gone before a check.
 */
final class ClusterInvariants {
  /** Long enough for a lost host's replicas to be placed again and a returned host's copies stopped, on a busy machine. */
  static final long DEFAULT_SECONDS = 60;

  private final NetnsJobs c;

  private ClusterInvariants(NetnsJobs c) {
    this.c = c;
  }

  /** Waits up to {@link #DEFAULT_SECONDS} for every invariant to hold; fails listing all that do not. */
  static void check(NetnsJobs c) throws InterruptedException {
    check(c, DEFAULT_SECONDS);
  }

  /** Waits up to {@code seconds} for every invariant to hold; fails listing all that do not, with the agents' logs. */
  static void check(NetnsJobs c, long seconds) throws InterruptedException {
    ClusterInvariants inv = new ClusterInvariants(c);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    List<String> off;
    while (true) {
      off = inv.violations();
      if (off.isEmpty()) {
        return;
      }
      if (System.nanoTime() > deadline) {
        break;
      }
      Thread.sleep(500);
    }
    throw new AssertionError("cluster invariants still broken after " + seconds + " s:\n  - "
        + String.join("\n  - ", off) + c.cluster.logs());
  }

  /** Everything that is off now on {@code c}'s cluster; empty when it is as it should be. */
  static List<String> violations(NetnsJobs c) {
    return new ClusterInvariants(c).violations();
  }

  private List<String> violations() {
    List<String> off = new ArrayList<>();
    Set<String> agents = new TreeSet<>();
    for (String h : c.cluster.hosts()) {
      if (c.cluster.agentPid(h).isPresent()) {
        agents.add(h);
      } else {
        // A host without its agent: nothing of it may run on, unseen and never to be stopped.
        SortedSet<Long> pids = c.cluster.cgroupPids(h);
        if (!pids.isEmpty()) {
          off.add(h + "'s agent is down, but processes of its containers still run: " + pids);
        }
      }
    }
    if (agents.isEmpty()) {
      off.add("no agent runs");
      return off;
    }
    // The view of the first live agent that answers for the cluster.
    String via = null;
    List<Node> nodes = null;
    List<JobStatus> jobs = new ArrayList<>();
    for (String h : agents) {
      try {
        nodes = c.nodes(h).list(ListNodesRequest.getDefaultInstance()).getNodesList();
        jobs.clear();
        for (JobSummary s : c.jobs(h).list(ListJobsRequest.getDefaultInstance()).getJobsList()) {
          jobs.add(c.jobs(h).status(JobRef.newBuilder().setName(s.getName()).build()));
        }
        via = h;
        break;
      } catch (StatusRuntimeException e) {
        off.add(h + " does not answer for the cluster: " + e.getStatus());
      }
    }
    if (via == null) {
      return off;
    }
    off.clear(); // one agent answered: the others' silence is no fault of the cluster's state
    Set<String> live = new TreeSet<>();
    for (Node n : nodes) {
      if (n.getStatus() == NodeStatus.NODE_STATUS_READY && agents.contains(n.getName())) {
        live.add(n.getName());
      }
    }
    for (String h : agents) {
      if (!live.contains(h)) {
        off.add(h + "'s agent runs but " + via + " does not see its node ready");
      }
    }

    // Each live host's containers, by its own agent.
    Map<String, List<Container>> containers = new TreeMap<>();
    for (String h : live) {
      try {
        containers.put(h, c.containers(h));
      } catch (StatusRuntimeException e) {
        off.add(h + " does not list its containers: " + e.getStatus());
      }
    }

    // Allocations that should run, by node: alloc id -> "job/group[index]".
    Map<String, Map<String, String>> wanted = new HashMap<>();
    for (JobStatus j : jobs) {
      Map<String, List<AllocationInfo>> byReplica = new TreeMap<>();
      for (AllocationInfo a : j.getAllocationsList()) {
        if (a.getDesiredRunning() && !isFinished(a)) {
          byReplica.computeIfAbsent(a.getGroup() + "[" + a.getIndex() + "]", k -> new ArrayList<>()).add(a);
        }
      }
      for (var e : byReplica.entrySet()) {
        String replica = j.getName() + "/" + e.getKey();
        if (e.getValue().size() > 1) {
          off.add(replica + " has " + e.getValue().size() + " allocations that should run: " + describe(e.getValue()));
        }
        for (AllocationInfo a : e.getValue()) {
          if (a.getState() != AllocationState.ALLOCATION_RUNNING) {
            off.add(replica + " should run but is " + a.getState() + " on " + a.getNode() + " (" + a.getMessage() + ")");
          } else if (!live.contains(a.getNode())) {
            off.add(replica + " counts as running on " + a.getNode() + ", which is not live");
          }
          wanted.computeIfAbsent(a.getNode(), k -> new HashMap<>()).put(a.getId(), replica);
        }
      }
      if (j.getType().equals("service") && !j.getStopped()) {
        for (GroupStatus g : j.getGroupsList()) {
          long running = byReplica.entrySet().stream().filter(e -> e.getKey().startsWith(g.getName() + "["))
              .filter(e -> e.getValue().stream().anyMatch(a -> a.getState() == AllocationState.ALLOCATION_RUNNING
                  && live.contains(a.getNode())))
              .count();
          if (running != g.getDesired()) {
            off.add(j.getName() + "/" + g.getName() + ": " + running + " of " + g.getDesired()
                + " replicas running on live nodes (pending " + g.getPending() + ": " + g.getPendingReason() + ")");
          }
        }
      }
      if (j.getStopped() && !byReplica.isEmpty()) {
        off.add(j.getName() + " is stopped but has allocations that should run: " + byReplica.keySet());
      }
    }

    // Containers against allocations, both ways, and each one against the kernel.
    Map<String, List<String>> copies = new TreeMap<>();
    for (var e : containers.entrySet()) {
      String h = e.getKey();
      Map<String, String> mine = wanted.getOrDefault(h, Map.of());
      Set<String> seen = new HashSet<>();
      Set<String> keep = new HashSet<>(); // what may be mounted and have a cgroup
      for (Container ct : e.getValue()) {
        Map<String, String> l = ct.getLabelsMap();
        String alloc = l.get(AllocationRunner.LABEL_ALLOC);
        boolean running = ct.getStatus() == ContainerStatus.RUNNING;
        if (running) {
          keep.add(ct.getId());
          String problem = process(ct);
          if (problem != null) {
            off.add(h + ": container " + ct.getName() + " is running but " + problem);
          }
        }
        // A container labelled as a job's replica counts as a copy of it, with or without an
        // allocation: one without is a copy that no allocation accounts for.
        if ((alloc == null && l.get(AllocationRunner.LABEL_JOB) == null) || !running) {
          continue;
        }
        String replica = l.get(AllocationRunner.LABEL_JOB) + "/" + l.get(AllocationRunner.LABEL_GROUP) + "["
            + l.get(AllocationRunner.LABEL_INDEX) + "]";
        copies.computeIfAbsent(replica, k -> new ArrayList<>()).add(h + ":" + ct.getName() + " g"
            + l.get(AllocationRunner.LABEL_GENERATION));
        if (alloc != null && mine.containsKey(alloc)) {
          seen.add(alloc);
        } else {
          off.add(h + " runs " + ct.getName() + " of " + replica + " ("
              + (alloc == null ? "no allocation" : "allocation " + alloc) + "), which should not run there");
        }
      }
      for (var w : mine.entrySet()) {
        if (!seen.contains(w.getKey())) {
          off.add(w.getValue() + " (allocation " + w.getKey() + ") should run on " + h + ", which runs no container of it");
        }
      }
      off.addAll(leaks(h, keep));
    }
    copies.forEach((replica, where) -> {
      if (where.size() > 1) {
        off.add(replica + " runs " + where.size() + " times: " + where);
      }
    });
    return off;
  }

  /** Why a running container's process is not real, or null when its init is alive in its own cgroup. */
  private static String process(Container ct) {
    if (ct.getPid() <= 0) {
      return "has no pid";
    }
    Path proc = Path.of("/proc", String.valueOf(ct.getPid()));
    try {
      String cgroups = Files.readString(proc.resolve("cgroup"));
      String status = Files.readString(proc.resolve("status"));
      if (status.lines().anyMatch(x -> x.startsWith("State:") && x.contains("Z"))) {
        return "its init (pid " + ct.getPid() + ") is a zombie";
      }
      if (!ct.getCgroupPath().isEmpty() && !cgroups.contains(ct.getCgroupPath())) {
        return "pid " + ct.getPid() + " is not in its cgroup " + ct.getCgroupPath() + " (a recycled pid)";
      }
      return null;
    } catch (IOException e) {
      return "its init (pid " + ct.getPid() + ") is gone";
    }
  }

  /** What host {@code h} has mounted or in cgroups that belongs to none of its running containers {@code keep}. */
  private List<String> leaks(String h, Set<String> keep) {
    List<String> off = new ArrayList<>();
    Set<String> shortIds = new HashSet<>();
    keep.forEach(id -> shortIds.add(id.substring(0, Math.min(12, id.length()))));
    for (String m : c.cluster.mounts(h)) {
      // data/containers/<short id>/rootfs and .../netns, while its container runs
      String[] parts = c.cluster.dir(h).relativize(Path.of(m)).toString().split("/");
      boolean ours = parts.length == 4 && parts[0].equals("data") && parts[1].equals("containers")
          && (shortIds.contains(parts[2]) || keep.stream().anyMatch(id -> id.equals(parts[2])));
      if (!ours) {
        off.add(h + " has " + m + " mounted, which belongs to no running container");
      }
    }
    for (String g : c.cluster.cgroups(h)) {
      if (!g.equals("shims") && !keep.contains(g)) {
        off.add(h + " has the cgroup " + c.cluster.prefix(h) + "/" + g + ", which belongs to no running container");
      }
    }
    return off;
  }

  /**
   * An allocation that has ended for good (a batch replica that completed, one that failed): it
   * keeps desired_running, but no longer stands for its replica; a failed one's replacement does.
   */
  private static boolean isFinished(AllocationInfo a) {
    return a.getState() == AllocationState.ALLOCATION_COMPLETE || a.getState() == AllocationState.ALLOCATION_FAILED;
  }

  private static String describe(List<AllocationInfo> as) {
    StringBuilder b = new StringBuilder();
    for (AllocationInfo a : as) {
      b.append(a.getId(), 0, Math.min(12, a.getId().length())).append(" g").append(a.getGeneration()).append(" on ")
          .append(a.getNode()).append(' ').append(a.getState()).append("; ");
    }
    return b.toString();
  }
}
