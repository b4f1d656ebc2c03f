package dev.berth.agent.it;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerRef;
import dev.berth.proto.v1.ContainerSpec;
import dev.berth.proto.v1.CreateContainerRequest;
import dev.berth.proto.v1.JobServiceGrpc;
import dev.berth.proto.v1.ListNodesRequest;
import dev.berth.proto.v1.Mount;
import dev.berth.proto.v1.NodeServiceGrpc;
import dev.berth.proto.v1.NodeStatus;
import dev.berth.proto.v1.RestartPolicy;
import dev.berth.proto.v1.StopJobRequest;
import dev.berth.proto.v1.SubmitJobRequest;
import io.grpc.StatusRuntimeException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A real Prometheus scrapes a three-agent cluster (a, the one server, with b and c joined to
 * it, all on 127.0.0.1), and PromQL sees each agent's part: a container holding 50 MiB on b, the
 * restarts of a crashing container on c, the scheduler's leadership and placements on a, every
 * agent up, and c's {@code up} going to 0 when it is killed. Everything is stopped and removed
 * afterwards, also on failure.
 */
@Tag("cluster")
@Timeout(240)
class MetricsClusterPrometheusLinuxTest {
  @Test
  void prometheusSeesEveryAgentOfTheCluster() throws Exception {
    assumeTrue(Linux.isRoot(), "needs root for namespaces, cgroups and mounts");
    assumeTrue(BusyboxImage.available(), "needs Debian's busybox-static at /bin/busybox");
    assumeTrue(PrometheusProcess.available(), "needs Debian's prometheus package (scripts/test.sh installs it)");
    List<AgentProcess> agents = new ArrayList<>();
    try {
      int seed = AgentProcess.freeClusterPort();
      List<Integer> metrics = new ArrayList<>();
      for (String name : List.of("a", "b", "c")) {
        int port;
        do {
          port = PrometheusProcess.freePort();
        } while (metrics.contains(port));
        metrics.add(port);
        List<String> args = new ArrayList<>(List.of("--cluster", "prom", "--node", name, "--tls-plaintext",
            "--metrics-addr", "127.0.0.1:" + port));
        if (!name.equals("a")) {
          args.addAll(List.of("--join", "127.0.0.1:" + seed));
        }
        int clusterPort = name.equals("a") ? seed : AgentProcess.freeClusterPort();
        agents.add(AgentProcess.create(clusterPort, args));
      }
      for (AgentProcess agent : agents) {
        agent.launch();
        agent.importBusybox("busybox:latest");
      }
      AgentProcess a = agents.get(0);
      AgentProcess b = agents.get(1);
      AgentProcess c = agents.get(2);
      await(90, () -> {
        try {
          var nodes = NodeServiceGrpc.newBlockingStub(a.channel()).list(ListNodesRequest.getDefaultInstance()).getNodesList();
          return nodes.size() == 3 && nodes.stream().allMatch(n -> n.getStatus() == NodeStatus.NODE_STATUS_READY);
        } catch (StatusRuntimeException e) {
          return false;
        }
      }, "three nodes ready");

      start(b, ContainerSpec.newBuilder().setImage("busybox").setName("mem")
          .addMounts(Mount.newBuilder().setType(Mount.Type.TMPFS).setTarget("/data"))
          .addAllCmd(List.of("sh", "-c", "head -c " + MetricsPrometheusLinuxTest.FIFTY_MIB
              + " /dev/zero > /data/x && exec sleep 1d")));
      start(c, ContainerSpec.newBuilder().setImage("busybox").setName("crash")
          .setRestartPolicy(RestartPolicy.newBuilder().setName("always"))
          .addAllCmd(List.of("sh", "-c", "sleep 0.2; exit 3")));
      JobServiceGrpc.newBlockingStub(a.channel()).withDeadlineAfter(30, TimeUnit.SECONDS)
          .submit(SubmitJobRequest.newBuilder().setSource("probe.yaml").setText("""
              name: probe
              groups:
                - name: probe
                  count: 3
                  image: busybox
                  command: [sleep, "3600"]
                  resources: {cpu: 10m, memory: 8m}
              """).build());

      StringBuilder targets = new StringBuilder();
      for (int port : metrics) {
        targets.append(targets.length() == 0 ? "" : ", ").append("'127.0.0.1:").append(port).append("'");
      }
      try (PrometheusProcess prom = PrometheusProcess.start("""
            - job_name: berth
              static_configs:
                - targets: [%s]
          """.formatted(targets))) {
        prom.awaitValue("count(up{job=\"berth\"} == 1)", v -> v == 3);
        double mem = prom.awaitValue("container_memory_usage_bytes{name=\"mem\",node=\"b\"}",
            v -> v >= MetricsPrometheusLinuxTest.FIFTY_MIB);
        assertTrue(mem >= MetricsPrometheusLinuxTest.FIFTY_MIB, "memory " + mem);
        double first = prom.awaitValue("container_restarts_total{name=\"crash\",node=\"c\"}", v -> v >= 1);
        prom.awaitValue("container_restarts_total{name=\"crash\",node=\"c\"}", v -> v > first);
        prom.awaitValue("berth_scheduler_leader{node=\"a\"}", v -> v == 1);
        prom.awaitValue("sum(berth_scheduler_leader)", v -> v == 1);
        prom.awaitValue("berth_scheduler_placements_total{node=\"a\"}", v -> v >= 3);
        prom.awaitValue("count(berth_store_operation_seconds_count{operation=\"compare_and_set\",table=\"allocations\"})",
            v -> v >= 1);

        c.killHard();
        prom.awaitValue("up{job=\"berth\",instance=\"127.0.0.1:" + metrics.get(2) + "\"}", v -> v == 0);
        prom.awaitValue("count(up{job=\"berth\"} == 1)", v -> v == 2);
      }
      JobServiceGrpc.newBlockingStub(a.channel()).withDeadlineAfter(30, TimeUnit.SECONDS)
          .stop(StopJobRequest.newBuilder().setName("probe").setPurge(true).build());
    } finally {
      AgentProcess.closeAll(agents);
    }
  }

  private static Container start(AgentProcess agent, ContainerSpec.Builder spec) throws Exception {
    Container c = agent.containers().create(CreateContainerRequest.newBuilder().setSpec(spec).build());
    agent.containers().start(ContainerRef.newBuilder().setId(c.getId()).build());
    return c;
  }

  private static void await(long seconds, java.util.function.BooleanSupplier condition, String what)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (!condition.getAsBoolean()) {
      assertTrue(System.nanoTime() < deadline, "not within " + seconds + " s: " + what);
      Thread.sleep(200);
    }
  }
}
