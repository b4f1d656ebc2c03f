package dev.berth.agent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerRef;
import dev.berth.proto.v1.ContainerSpec;
import dev.berth.proto.v1.CreateContainerRequest;
import dev.berth.proto.v1.ContainerStats;
import dev.berth.proto.v1.ContainerStatsRequest;
import dev.berth.proto.v1.ContainerTopRequest;
import dev.berth.proto.v1.DiskUsageCategory;
import dev.berth.proto.v1.DiskUsageRequest;
import dev.berth.proto.v1.Mount;
import dev.berth.proto.v1.SystemServiceGrpc;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A real Prometheus (Debian's package) scrapes a real berthd on 127.0.0.1, and PromQL through
 * Prometheus' HTTP API sees what happened: a container that holds 50 MiB in a tmpfs shows at
 * least that in container_memory_usage_bytes, the agent's {@code up} is 1, and 0 once it is
 * killed; stats, top and system df through the API show the same container. Everything it starts (Prometheus, berthd, the container) is stopped and its files
 * removed, also when it fails.
 */
@Tag("linux")
@Timeout(180)
class MetricsPrometheusLinuxTest {
  static final long FIFTY_MIB = 50L << 20;

  @Test
  void prometheusSeesContainerMemoryAndTheAgentGoingDown() throws Exception {
    assumeTrue(Linux.isRoot(), "needs root for namespaces, cgroups and mounts");
    assumeTrue(BusyboxImage.available(), "needs Debian's busybox-static at /bin/busybox");
    assumeTrue(PrometheusProcess.available(), "needs Debian's prometheus package (scripts/test.sh installs it)");
    int metricsPort = PrometheusProcess.freePort();
    try (AgentProcess agent = AgentProcess.create(AgentProcess.freeClusterPort(),
        List.of("--node", "metrics-test", "--metrics-addr", "127.0.0.1:" + metricsPort))) {
      agent.launch();
      agent.importBusybox("busybox:latest");
      Container c = agent.containers().create(CreateContainerRequest.newBuilder().setSpec(ContainerSpec.newBuilder()
          .setImage("busybox").setName("mem")
          .addMounts(Mount.newBuilder().setType(Mount.Type.TMPFS).setTarget("/data"))
          .addAllCmd(List.of("sh", "-c", "head -c " + FIFTY_MIB + " /dev/zero > /data/x && exec sleep 1d"))).build());
      agent.containers().start(ContainerRef.newBuilder().setId(c.getId()).build());

      try (PrometheusProcess prom = PrometheusProcess.start("""
            - job_name: berth
              static_configs:
                - targets: ['127.0.0.1:%d']
          """.formatted(metricsPort))) {
        prom.awaitValue("up{job=\"berth\"}", v -> v == 1);
        double mem = prom.awaitValue("container_memory_usage_bytes{job=\"berth\",name=\"mem\",node=\"metrics-test\"}",
            v -> v >= FIFTY_MIB);
        assertTrue(mem >= FIFTY_MIB, "memory " + mem);
        prom.awaitValue("container_spec_memory_limit_bytes{name=\"mem\"}", v -> v == 0);
        // The same readings through the API: berth stats, top and system df.
        var system = SystemServiceGrpc.newBlockingStub(agent.channel()).withDeadlineAfter(30, TimeUnit.SECONDS);
        ContainerStats stats = system.containerStats(ContainerStatsRequest.newBuilder().addIds("mem").build()).getStats(0);
        assertTrue(stats.getRunning() && stats.getMemoryUsageBytes() >= FIFTY_MIB, stats.toString());
        assertTrue(stats.getProcesses() >= 1 && stats.getPids() >= 1, stats.toString());
        var top = system.containerTop(ContainerTopRequest.newBuilder().setId("mem").build());
        assertTrue(top.getProcessesList().stream().anyMatch(p -> p.getCommand().equals("sleep 1d") && p.getUser().equals("root")),
            top.toString());
        var df = system.diskUsage(DiskUsageRequest.getDefaultInstance());
        assertEquals(List.of("Images", "Containers", "Local Volumes"),
            df.getCategoriesList().stream().map(DiskUsageCategory::getType).toList());
        assertEquals(1, df.getCategories(1).getTotal());
        assertEquals(1, df.getCategories(1).getActive());
        prom.awaitValue("berth_containers{state=\"running\"}", v -> v == 1);
        prom.awaitValue("sum(berth_grpc_server_requests_seconds_count{method=\"berth.v1.ContainerService/Start\",status=\"OK\"})",
            v -> v >= 1);

        agent.killHard();
        prom.awaitValue("up{job=\"berth\"}", v -> v == 0);
      }
    }
  }
}
