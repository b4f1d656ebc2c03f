package dev.berth.bench;

import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerServiceGrpc;
import dev.berth.proto.v1.JobRef;
import dev.berth.proto.v1.JobServiceGrpc;
import dev.berth.proto.v1.JobStatus;
import dev.berth.proto.v1.ListContainersRequest;
import dev.berth.proto.v1.ListNodesRequest;
import dev.berth.proto.v1.Node;
import dev.berth.proto.v1.NodeServiceGrpc;
import dev.berth.proto.v1.NodeStatus;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * A cluster that deploy/cluster.sh brought up, as a harness reaches it: each agent through its
 * unix socket (one {@link AgentConnection} per host, opened on first use), its pid from the
 * script's files, and the script's own commands (kill, start, wait). One harness thread drives
 * it; its calls to the agents may come from other threads too (a poller during a trial).
 */
final class LocalCluster implements AutoCloseable {
  private final Path dir;
  private final String id;
  private final Path script;
  private final Map<String, AgentConnection> agents = new java.util.concurrent.ConcurrentHashMap<>();

  LocalCluster(Path root, String id, Path script) {
    this.dir = root.resolve(id);
    this.id = id;
    this.script = script;
  }

  AgentConnection agent(String host) {
    return agents.computeIfAbsent(host, h -> new AgentConnection(dir.resolve(h).resolve("berthd.sock").toString()));
  }

  /** The job service of {@code host}, each call bounded to 30 s. */
  JobServiceGrpc.JobServiceBlockingStub jobs(String host) {
    return JobServiceGrpc.newBlockingStub(agent(host).channel()).withDeadlineAfter(30, TimeUnit.SECONDS);
  }

  /** The job's status as {@code host} answers it; empty when the job is unknown there or the call failed. */
  Optional<JobStatus> job(String host, String name) {
    try {
      return Optional.of(jobs(host).status(JobRef.newBuilder().setName(name).build()));
    } catch (StatusRuntimeException e) {
      return Optional.empty();
    }
  }

  /** Whether {@code host} answers that the job is unknown (NOT_FOUND, not merely a failed call). */
  boolean jobGone(String host, String name) {
    try {
      jobs(host).status(JobRef.newBuilder().setName(name).build());
      return false;
    } catch (StatusRuntimeException e) {
      return e.getStatus().getCode() == Status.Code.NOT_FOUND;
    }
  }

  /** The containers of {@code job} (label berth.job) on each of {@code hosts}, as each agent lists its own. */
  List<Container> jobContainers(List<String> hosts, String job) {
    List<Container> out = new ArrayList<>();
    for (String h : hosts) {
      for (Container c : ContainerServiceGrpc.newBlockingStub(agent(h).channel()).withDeadlineAfter(30, TimeUnit.SECONDS)
          .list(ListContainersRequest.newBuilder().setAll(true).build()).getContainersList()) {
        if (job.equals(c.getLabelsMap().get("berth.job"))) {
          out.add(c);
        }
      }
    }
    return out;
  }

  /** The nodes as {@code observer} reports them; empty when it does not answer. */
  List<Node> nodes(String observer) {
    try {
      return NodeServiceGrpc.newBlockingStub(agent(observer).channel()).withDeadlineAfter(5, TimeUnit.SECONDS)
          .list(ListNodesRequest.getDefaultInstance()).getNodesList();
    } catch (StatusRuntimeException e) {
      return List.of();
    }
  }

  /** The Raft leader {@code host} names (ClusterService.Status, which never waits on Raft); "" when none or no answer. */
  String raftLeader(String host) {
    try {
      return dev.berth.proto.v1.ClusterServiceGrpc.newBlockingStub(agent(host).channel()).withDeadlineAfter(2, TimeUnit.SECONDS)
          .status(dev.berth.proto.v1.ClusterStatusRequest.getDefaultInstance()).getLeader();
    } catch (StatusRuntimeException e) {
      return "";
    }
  }

  /** {@code node}'s status as {@code observer} reports it; UNSPECIFIED when it does not answer. */
  NodeStatus status(String observer, String node) {
    return nodes(observer).stream().filter(n -> n.getName().equals(node)).map(Node::getStatus).findFirst()
        .orElse(NodeStatus.NODE_STATUS_UNSPECIFIED);
  }

  /**
   * Whether {@code host}'s agent leads the scheduler, as its own log says since it last started
   * (its last "leading the scheduler" or "no longer leading the scheduler" line). The leadership
   * is an Atomix election of its own, not the Raft leader's, and no API reports it.
   */
  boolean leadsScheduler(String host) {
    try {
      List<String> lines = Files.readAllLines(dir.resolve(host).resolve("berthd.log"), StandardCharsets.UTF_8);
      boolean leads = false;
      for (String l : lines) {
        if (l.contains(" serving on ")) {
          leads = false;  // a new start: what an earlier, killed process said no longer holds
        } else if (l.contains("no longer leading the scheduler")) {
          leads = false;
        } else if (l.contains("leading the scheduler")) {
          leads = true;
        }
      }
      return leads && ProcessHandle.of(pid(host)).map(ProcessHandle::isAlive).orElse(false);
    } catch (Exception e) {
      return false;
    }
  }

  /**
   * The wall-clock time (epoch ms) of the first line of {@code host}'s log at or after {@code
   * sinceMillis} whose message passes {@code match}; -1 if none. Reads only lines stamped to the
   * millisecond as failover.sh has the agents write them ({@code TIME|LEVEL|message}).
   */
  long logged(String host, long sinceMillis, java.util.function.Predicate<String> match) {
    try {
      for (String l : Files.readAllLines(dir.resolve(host).resolve("berthd.log"), StandardCharsets.UTF_8)) {
        java.util.regex.Matcher m = STAMPED.matcher(l);
        if (!m.matches()) {
          continue;
        }
        long at = java.time.LocalDateTime.parse(m.group(1)).atZone(java.time.ZoneId.systemDefault()).toInstant().toEpochMilli();
        if (at >= sinceMillis && match.test(m.group(2))) {
          return at;
        }
      }
    } catch (Exception e) {
      // no log yet, or unreadable: not logged
    }
    return -1;
  }

  private static final java.util.regex.Pattern STAMPED =
      java.util.regex.Pattern.compile("^(\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3})\\|[A-Z]+\\|(.*)$");

  long pid(String host) throws Exception {
    return Long.parseLong(Files.readString(dir.resolve(host).resolve("pid")).trim());
  }

  /** Runs {@code cluster.sh ARGS...} and returns what it printed; throws if it fails. */
  String sh(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("sh", script.toString()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (p.waitFor() != 0) {
      throw new IllegalStateException(String.join(" ", cmd) + " failed: " + out);
    }
    return out;
  }

  String id() {
    return id;
  }

  /** Polls {@code done} every 100 ms for up to {@code seconds}; throws naming {@code what} if it never holds. */
  static void await(int seconds, BooleanSupplier done, String what) throws InterruptedException {
    await(seconds, done, () -> what);
  }

  /** As {@link #await(int, BooleanSupplier, String)}, the message made when it is thrown. */
  static void await(int seconds, BooleanSupplier done, Supplier<String> what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (!done.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("not within " + seconds + " s: " + what.get());
      }
      Thread.sleep(100);
    }
  }

  /** The 1-minute load average, as /proc/loadavg has it. */
  static String load1() {
    try {
      return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
    } catch (Exception e) {
      return "?";
    }
  }

  @Override
  public void close() {
    agents.values().forEach(AgentConnection::close);
  }
}
