package dev.berth.agent.jobs;

import dev.berth.agent.it.AgentProcess;
import dev.berth.agent.it.BusyboxImage;
import dev.berth.agent.it.ScriptCluster;
import dev.berth.proto.v1.AllocationInfo;
import dev.berth.proto.v1.AllocationState;
import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerServiceGrpc;
import dev.berth.proto.v1.JobRef;
import dev.berth.proto.v1.JobServiceGrpc;
import dev.berth.proto.v1.JobStatus;
import dev.berth.proto.v1.ListContainersRequest;
import dev.berth.proto.v1.ListNodesRequest;
import dev.berth.proto.v1.NodeServiceGrpc;
import dev.berth.proto.v1.NodeStatus;
import dev.berth.proto.v1.StopJobRequest;
import dev.berth.proto.v1.SubmitJobRequest;
import io.grpc.StatusRuntimeException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * What the self-healing cluster tests share: a script cluster with busybox on every host, and
 * the calls they make through its agents (job status, each host's own container list).
 */
final class NetnsJobs implements AutoCloseable {
  static final int START_SECONDS = 120;
  /**
   * A service that ends on SIGTERM (a shell waiting in {@code sleep} as PID 1 would not, and each
   * stop would wait the 10 s stop timeout out): within a second of being asked.
   */
  static final String SERVICE = "[sh, -c, \"trap 'exit 0' TERM; while :; do sleep 1; done\"]";

  final ScriptCluster cluster;
  final List<String> hosts;

  private NetnsJobs(ScriptCluster cluster) {
    this.cluster = cluster;
    this.hosts = cluster.hosts();
  }

  /** A cluster of {@code hosts} agents, the first {@code servers} Raft servers, each ready, with busybox. */
  static NetnsJobs up(int hosts, int servers, String... extra) throws Exception {
    ScriptCluster c = ScriptCluster.up(hosts, servers, START_SECONDS, extra);
    NetnsJobs n = new NetnsJobs(c);
    try {
      for (String h : n.hosts) {
        AgentProcess.importTar(c.channel(h), "busybox", BusyboxImage.tar());
      }
      for (String h : n.hosts) {
        String[] seen = {"nothing yet"};
        c.await(START_SECONDS, () -> {
          try {
            var nodes = NodeServiceGrpc.newBlockingStub(c.channel(h)).withDeadlineAfter(10, TimeUnit.SECONDS)
                .list(ListNodesRequest.getDefaultInstance()).getNodesList();
            seen[0] = nodes.stream().map(x -> x.getName() + " " + x.getStatus() + " registered=" + x.getRegistered()
                + " cpus=" + x.getCpus() + " images=" + x.getImageDigestsList()).toList().toString();
            return nodes.size() == hosts && nodes.stream().allMatch(x -> x.getStatus() == NodeStatus.NODE_STATUS_READY
                && x.getCpus() > 0 && x.getImageDigestsList().contains("busybox:latest"));
          } catch (StatusRuntimeException e) {
            seen[0] = e.getStatus().toString();
            return false;
          }
        }, () -> "every node ready, its capacity and images gossiped, as seen from " + h + "; last seen: " + seen[0]);
      }
      return n;
    } catch (Exception | AssertionError e) {
      try {
        c.close();
      } catch (Exception | AssertionError suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  JobServiceGrpc.JobServiceBlockingStub jobs(String host) {
    return JobServiceGrpc.newBlockingStub(cluster.channel(host)).withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  NodeServiceGrpc.NodeServiceBlockingStub nodes(String host) {
    return NodeServiceGrpc.newBlockingStub(cluster.channel(host)).withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  void submit(String via, String name, String text) {
    jobs(via).submit(SubmitJobRequest.newBuilder().setSource(name + ".yaml").setText(text).build());
  }

  /**
   * As {@link ScriptCluster#await}, a call that fails UNAVAILABLE (the cluster electing a leader,
   * a host cut off) counting as "not yet".
   */
  void await(long seconds, java.util.function.BooleanSupplier condition, java.util.function.Supplier<String> what)
      throws InterruptedException {
    cluster.await(seconds, () -> {
      try {
        return condition.getAsBoolean();
      } catch (StatusRuntimeException e) {
        if (e.getStatus().getCode() == io.grpc.Status.Code.UNAVAILABLE) {
          return false;
        }
        throw e;
      }
    }, what);
  }

  /** {@code call}'s answer, asked again for up to 30 s while it fails UNAVAILABLE (an election under way). */
  <T> T retrying(java.util.function.Supplier<T> call) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (true) {
      try {
        return call.get();
      } catch (StatusRuntimeException e) {
        if (e.getStatus().getCode() != io.grpc.Status.Code.UNAVAILABLE || System.nanoTime() > deadline) {
          throw e;
        }
        Thread.sleep(500);
      }
    }
  }

  /** As {@link #submit}, tried again while the cluster answers UNAVAILABLE (a Raft election under way). */
  void submitRetrying(String via, String name, String text, long seconds) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (true) {
      try {
        submit(via, name, text);
        return;
      } catch (StatusRuntimeException e) {
        if (e.getStatus().getCode() != io.grpc.Status.Code.UNAVAILABLE || System.nanoTime() > deadline) {
          throw e;
        }
        Thread.sleep(500);
      }
    }
  }

  JobStatus status(String via, String job) {
    return jobs(via).status(JobRef.newBuilder().setName(job).build());
  }

  /**
   * A service whose replicas all run on {@code host}: placed there by a constraint, which a second
   * version drops (a placement rule, so nothing is replaced): what comes next may use any host.
   *
   * @param extra job-level keys (update, stop_after_disconnect, …), each line ending in a newline
   */
  void pinned(String via, String name, int count, String host, String extra) throws InterruptedException {
    String v2 = "name: " + name + "\ntype: service\n" + extra + "groups:\n  - name: " + name + "\n    count: " + count
        + "\n    image: busybox\n    command: " + SERVICE + "\n    resources: {cpu: 10m, memory: 8m}\n";
    String v1 = v2 + "    constraints: [{attribute: node.name, value: " + host + "}]\n";
    submit(via, name, v1);
    cluster.await(60, () -> running(status(via, name)).size() == count, name + " running on " + host);
    submit(via, name, v2);
    cluster.await(30, () -> !status(via, name).getDeployment().equals("running"), name + "'s version 2 rolled out");
    java.util.Set<String> on = new java.util.HashSet<>();
    running(status(via, name)).forEach(a -> on.add(a.getNode()));
    if (!on.equals(java.util.Set.of(host))) {
      throw new AssertionError(name + " runs on " + on + ", not only on " + host);
    }
  }

  /** The latest allocation of each replica that should run and runs, by node. */
  static List<AllocationInfo> running(JobStatus s) {
    Map<String, AllocationInfo> latest = new HashMap<>();
    for (AllocationInfo a : s.getAllocationsList()) {
      latest.merge(a.getGroup() + "/" + a.getIndex(), a, (x, y) -> y.getGeneration() > x.getGeneration() ? y : x);
    }
    return latest.values().stream().filter(a -> a.getDesiredRunning() && a.getState() == AllocationState.ALLOCATION_RUNNING)
        .toList();
  }

  /** The host's containers, as its own agent lists them (works while it is cut off). */
  List<Container> containers(String host) {
    return ContainerServiceGrpc.newBlockingStub(cluster.channel(host)).withDeadlineAfter(20, TimeUnit.SECONDS)
        .list(ListContainersRequest.newBuilder().setAll(true).build()).getContainersList();
  }

  /** The job's containers on the host that are running. */
  List<Container> runningOn(String host, String job) {
    return containers(host).stream().filter(c -> job.equals(c.getLabelsMap().get("berth.job"))
        && c.getStatus() == dev.berth.proto.v1.ContainerStatus.RUNNING).toList();
  }

  /** Per replica index, how many containers of the job run on all hosts together. */
  Map<String, Integer> copies(String job) {
    Map<String, Integer> out = new HashMap<>();
    for (String h : hosts) {
      for (Container c : runningOn(h, job)) {
        out.merge(c.getLabelsMap().get("berth.index"), 1, Integer::sum);
      }
    }
    return out;
  }

  /** Stops and forgets the job, and waits until none of its containers is left. */
  void purge(String via, String job) throws InterruptedException {
    retrying(() -> jobs(via).stop(StopJobRequest.newBuilder().setName(job).setPurge(true).build()));
    cluster.await(60, () -> {
      for (String h : hosts) {
        if (containers(h).stream().anyMatch(c -> job.equals(c.getLabelsMap().get("berth.job")))) {
          return false;
        }
      }
      return true;
    }, job + "'s containers gone");
  }

  /** A job's allocations, for failure messages (made when the message is). */
  Object describe(String via, String job) {
    return new Object() {
      @Override
      public String toString() {
        StringBuilder b = new StringBuilder();
        try {
          for (AllocationInfo a : status(via, job).getAllocationsList()) {
            b.append("\n  ").append(a.getGroup()).append('[').append(a.getIndex()).append("] g").append(a.getGeneration())
                .append(' ').append(a.getNode()).append(' ').append(a.getState()).append(a.getDesiredRunning() ? " run" : " stop")
                .append(a.getHealthy() ? " healthy " : " ").append(a.getMessage());
          }
        } catch (StatusRuntimeException e) {
          b.append("\n  status: ").append(e.getStatus());
        }
        return b.toString();
      }
    };
  }

  /** Log lines of one host's agent that contain {@code text}. */
  List<String> log(String host, String text) {
    List<String> out = new ArrayList<>();
    try {
      for (String line : java.nio.file.Files.readAllLines(
          ScriptCluster.ROOT.resolve(cluster.id()).resolve(host).resolve("berthd.log"))) {
        if (line.contains(text)) {
          out.add(line);
        }
      }
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    return out;
  }

  /**
   * The server leading the scheduler now, as the servers' logs say (the last word since its agent
   * last started: a killed leader's log still ends with its old claim), or null when none does.
   */
  String schedulerLeader(List<String> servers) {
    for (String h : servers) {
      if (cluster.agentPid(h).isEmpty()) {
        continue;
      }
      String last = null;
      for (String line : log(h, "")) {
        if (line.contains("berthd ") && line.contains(" serving on ")) {
          last = null; // a new start: what the agent said before is of a former life
        } else if (line.contains("leading the scheduler")) {
          last = line;
        }
      }
      if (last != null && !last.contains("no longer")) {
        return h;
      }
    }
    return null;
  }

  /** Every agent that runs ready again (cluster.sh wait), e.g. after a start. */
  void awaitReady() throws Exception {
    ScriptCluster.Result r = cluster.run(START_SECONDS + 30, "wait", String.valueOf(START_SECONDS));
    if (r.code() != 0) {
      throw new AssertionError("the agents were not ready again: " + r.output() + cluster.logs());
    }
  }

  @Override
  public void close() throws Exception {
    cluster.close();
  }
}
