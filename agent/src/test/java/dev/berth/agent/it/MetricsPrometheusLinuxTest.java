package dev.berth.agent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.DoublePredicate;
import java.util.stream.Stream;
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
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  final ObjectMapper json = new ObjectMapper();

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  @Test
  void prometheusSeesContainerMemoryAndTheAgentGoingDown() throws Exception {
    assumeTrue(Linux.isRoot(), "needs root for namespaces, cgroups and mounts");
    assumeTrue(BusyboxImage.available(), "needs Debian's busybox-static at /bin/busybox");
    assumeTrue(Files.isExecutable(Path.of("/usr/bin/prometheus")), "needs Debian's prometheus package (scripts/test.sh installs it)");
    int metricsPort = freePort();
    Path dir = Files.createTempDirectory(Path.of("/tmp"), "bprom");
    Process prometheus = null;
    try (AgentProcess agent = AgentProcess.create(AgentProcess.freeClusterPort(),
        List.of("--node", "metrics-test", "--metrics-addr", "127.0.0.1:" + metricsPort))) {
      agent.launch();
      agent.importBusybox("busybox:latest");
      Container c = agent.containers().create(CreateContainerRequest.newBuilder().setSpec(ContainerSpec.newBuilder()
          .setImage("busybox").setName("mem")
          .addMounts(Mount.newBuilder().setType(Mount.Type.TMPFS).setTarget("/data"))
          .addAllCmd(List.of("sh", "-c", "head -c " + FIFTY_MIB + " /dev/zero > /data/x && exec sleep 1d"))).build());
      agent.containers().start(ContainerRef.newBuilder().setId(c.getId()).build());

      int promPort = freePort();
      Files.writeString(dir.resolve("prometheus.yml"), """
          global:
            scrape_interval: 1s
            scrape_timeout: 1s
          scrape_configs:
            - job_name: berth
              static_configs:
                - targets: ['127.0.0.1:%d']
          """.formatted(metricsPort));
      prometheus = new ProcessBuilder("/usr/bin/prometheus", "--config.file=" + dir.resolve("prometheus.yml"),
          "--storage.tsdb.path=" + dir.resolve("data"), "--web.listen-address=127.0.0.1:" + promPort)
          .redirectErrorStream(true).redirectOutput(dir.resolve("prometheus.log").toFile()).start();
      String base = "http://127.0.0.1:" + promPort;

      awaitValue(base, "up{job=\"berth\"}", v -> v == 1, dir);
      double mem = awaitValue(base, "container_memory_usage_bytes{job=\"berth\",name=\"mem\",node=\"metrics-test\"}",
          v -> v >= FIFTY_MIB, dir);
      assertTrue(mem >= FIFTY_MIB, "memory " + mem);
      awaitValue(base, "container_spec_memory_limit_bytes{name=\"mem\"}", v -> v == 0, dir);
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
      awaitValue(base, "berth_containers{state=\"running\"}", v -> v == 1, dir);
      awaitValue(base, "sum(berth_grpc_server_requests_seconds_count{method=\"berth.v1.ContainerService/Start\",status=\"OK\"})",
          v -> v >= 1, dir);

      agent.killHard();
      awaitValue(base, "up{job=\"berth\"}", v -> v == 0, dir);
    } finally {
      if (prometheus != null) {
        prometheus.destroy();
        if (!prometheus.waitFor(10, TimeUnit.SECONDS)) {
          prometheus.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
      }
      try (Stream<Path> w = Files.walk(dir)) {
        for (Path p : (Iterable<Path>) w.sorted(Comparator.reverseOrder())::iterator) {
          Files.deleteIfExists(p);
        }
      }
    }
  }

  /** Polls an instant query until its single result satisfies {@code ok}; returns that value. */
  double awaitValue(String base, String query, DoublePredicate ok, Path dir) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    String last = "";
    while (System.nanoTime() < deadline) {
      try {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/api/v1/query?query="
            + URLEncoder.encode(query, StandardCharsets.UTF_8))).timeout(Duration.ofSeconds(5)).build(),
            HttpResponse.BodyHandlers.ofString());
        last = r.body();
        JsonNode result = json.readTree(r.body()).path("data").path("result");
        if (result.size() == 1) {
          double v = Double.parseDouble(result.get(0).path("value").get(1).asText());
          if (ok.test(v)) {
            return v;
          }
        }
      } catch (IOException e) {
        last = e.toString(); // Prometheus still starting
      }
      Thread.sleep(500);
    }
    String log = Files.exists(dir.resolve("prometheus.log")) ? Files.readString(dir.resolve("prometheus.log")) : "";
    throw new AssertionError("no satisfying value for " + query + " within 60 s; last answer: " + last
        + "\nprometheus log tail: " + log.substring(Math.max(0, log.length() - 2000)));
  }
}
