package dev.berth.agent.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.berth.agent.runtime.RecordingSyscalls;
import dev.berth.agent.runtime.cgroup.Cgroups;
import dev.berth.proto.v1.InfoRequest;
import dev.berth.proto.v1.InfoResponse;
import dev.berth.proto.v1.SystemServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The files of deploy/ against what the agent really exports: every metric that a query of
 * the Grafana dashboard or an alert rule names is in a scrape of an agent with a container and
 * a served call; the rules load in promtool and the unit passes systemd-analyze verify (where
 * those tools are installed: scripts/test.sh installs Prometheus, systemd is the host's).
 */
class DeployFilesTest {
  static final Path DEPLOY = Path.of(System.getProperty("user.dir")).getParent().resolve("deploy");
  /** Series Prometheus makes itself for every target. */
  static final Set<String> SYNTHETIC = Set.of("up", "scrape_duration_seconds", "scrape_samples_scraped");
  static final Set<String> KEYWORDS = Set.of("and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
      "group_left", "group_right", "inf", "nan");

  @TempDir Path root;
  @TempDir Path proc;

  /** The metric names a PromQL expression reads. */
  static Set<String> metricNames(String promql) {
    String e = promql.replaceAll("\"(\\\\.|[^\"\\\\])*\"", "\"\"")       // string literals
        .replaceAll("\\{[^}]*}", " ")                                       // label matchers
        .replaceAll("\\[[^]]*]", " ")                                       // ranges
        .replaceAll("\\b(by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\)", " "); // label lists
    Set<String> names = new TreeSet<>();
    Matcher m = Pattern.compile("(?<![\\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\\s*\\()?").matcher(e);
    while (m.find()) {
      if (m.group(2) == null && !KEYWORDS.contains(m.group(1))) {
        names.add(m.group(1));
      }
    }
    return names;
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "histogram_quantile(0.95, sum by (le, method) (rate(berth_grpc_server_requests_seconds_bucket[5m]))) | berth_grpc_server_requests_seconds_bucket",
      "container_memory_working_set_bytes / on (id, node) (container_spec_memory_limit_bytes > 0) > 0.9 | container_memory_working_set_bytes container_spec_memory_limit_bytes",
      "up{job=\"berth\"} == 0 | up",
      "count(up{job=\"berth\"} == 1) | up",
      "time() - container_start_time_seconds{node=~\"$node\", name=~\"$container\"} | container_start_time_seconds",
      "sum by (node) (rate(container_cpu_usage_seconds_total{node=~\"$node\"}[5m])) | container_cpu_usage_seconds_total"})
  void extractsMetricNamesFromPromql(String expr, String names) {
    assertEquals(new TreeSet<>(List.of(names.split(" "))), metricNames(expr));
  }

  /** Every expr of the dashboard (panel targets and template queries). */
  static List<String> dashboardQueries() throws IOException {
    JsonNode d = new ObjectMapper().readTree(DEPLOY.resolve("grafana/berth.json").toFile());
    List<String> out = new ArrayList<>();
    d.findValues("expr").forEach(n -> out.add(n.asText()));
    for (JsonNode v : d.path("templating").path("list")) {
      String q = v.path("query").path("query").asText("");
      Matcher m = Pattern.compile("label_values\\((.*),\\s*\\w+\\)").matcher(q);
      if (m.matches()) {
        out.add(m.group(1));
      }
    }
    return out;
  }

  /** Every expr of the alert rules: single-line ones and block scalars (expr: |). */
  static List<String> ruleQueries() throws IOException {
    List<String> lines = Files.readAllLines(DEPLOY.resolve("prometheus/alerts.yml"));
    List<String> out = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      String l = lines.get(i).trim();
      if (!l.startsWith("expr:")) {
        continue;
      }
      String v = l.substring(5).trim();
      if (v.equals("|") || v.equals(">")) {
        int indent = lines.get(i).indexOf("expr:");
        StringBuilder b = new StringBuilder();
        while (i + 1 < lines.size() && (lines.get(i + 1).isBlank() || lines.get(i + 1).indexOf(lines.get(i + 1).trim()) > indent)) {
          b.append(lines.get(++i).trim()).append(' ');
        }
        v = b.toString();
      }
      out.add(v);
    }
    return out;
  }

  /** A scrape of an agent's metrics with one running container and one served gRPC call. */
  String realScrape() throws Exception {
    CgroupFixtures.v2Root(root);
    String id = "a".repeat(64);
    CgroupFixtures.v2Container(root, "bt/" + id, new CgroupFixtures.Usage(1 << 20, 0, 1 << 30, 100, 1, 1, 0));
    CgroupFixtures.netDev(proc, 77, 1, 1);
    ContainerTarget t = new ContainerTarget(id, "web", "busybox", "", "bt/" + id, true, 77, Instant.now(), false, 0, 0,
        1 << 30, 0, 0);
    ContainerCollector c = new ContainerCollector(() -> List.of(t),
        new ContainerSampler(Cgroups.detect(root, new RecordingSyscalls()), proc, Clock.systemUTC()), "n1", Duration.ZERO,
        System::nanoTime);
    try (AgentMetrics m = new AgentMetrics("n1", c, () -> Map.of("running", 1L), () -> Map.of("alive", 1L))) {
      String name = InProcessServerBuilder.generateName();
      Server server = InProcessServerBuilder.forName(name).addService(ServerInterceptors.intercept(
          new SystemServiceGrpc.SystemServiceImplBase() {
            @Override
            public void info(InfoRequest request, StreamObserver<InfoResponse> out) {
              out.onNext(InfoResponse.getDefaultInstance());
              out.onCompleted();
            }
          }, new GrpcMetricsInterceptor(m.registry()))).build().start();
      ManagedChannel ch = InProcessChannelBuilder.forName(name).build();
      try {
        SystemServiceGrpc.newBlockingStub(ch).info(InfoRequest.getDefaultInstance());
      } finally {
        ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
      return m.scrape();
    }
  }

  @Test
  void everyMetricOfTheDashboardAndTheAlertsIsExported() throws Exception {
    Set<String> exported = new TreeSet<>(Scrape.parse(realScrape()).names());
    exported.addAll(SYNTHETIC);
    List<String> queries = new ArrayList<>(dashboardQueries());
    queries.addAll(ruleQueries());
    assertTrue(queries.size() > 20, "queries found: " + queries);
    Set<String> used = new TreeSet<>();
    List<String> missing = new ArrayList<>();
    for (String q : queries) {
      for (String n : metricNames(q)) {
        used.add(n);
        if (!exported.contains(n)) {
          missing.add(n + " in " + q);
        }
      }
    }
    assertTrue(missing.isEmpty(), "not exported: " + missing + "\nexported: " + exported);
    assertTrue(used.contains("container_memory_usage_bytes") || used.contains("container_memory_working_set_bytes"), used.toString());
  }

  @Test
  void theCollectorsFamilyListMatchesWhatItWrites() throws Exception {
    Set<String> names = Scrape.parse(realScrape()).names();
    for (String f : ContainerCollector.familyNames()) {
      assertTrue(names.contains(f), f + " not in the scrape");
    }
  }

  @Test
  void promtoolAcceptsTheAlertRules() throws Exception {
    assumeTrue(onPath("promtool"), "needs promtool (Debian's prometheus package; scripts/test.sh installs it)");
    Run r = run("promtool", "check", "rules", DEPLOY.resolve("prometheus/alerts.yml").toString());
    assertEquals(0, r.code(), r.output());
    r = run("promtool", "check", "config", "--syntax-only", DEPLOY.resolve("prometheus/prometheus.yml").toString());
    assertEquals(0, r.code(), r.output());
  }

  @Test
  void systemdAcceptsTheUnitAndItKeepsContainersAcrossARestart() throws Exception {
    String unit = Files.readString(DEPLOY.resolve("systemd/berthd.service"));
    assertTrue(unit.lines().anyMatch(l -> l.equals("KillMode=process")), "a restart must signal berthd alone");
    assertFalse(unit.lines().anyMatch(l -> l.startsWith("PrivateTmp=") || l.startsWith("ProtectSystem=")),
        "berthd needs the host's view of mounts");
    assumeTrue(onPath("systemd-analyze"), "needs systemd-analyze (Debian's systemd package)");
    // verify wants ExecStart's program to exist: a stand-in where berthd is not installed.
    Path dir = Files.createDirectories(root.resolve("unit"));
    String exec = "/usr/local/bin/berthd";
    if (!Files.isExecutable(Path.of(exec))) {
      Path stub = dir.resolve("berthd");
      Files.writeString(stub, "#!/bin/sh\n");
      stub.toFile().setExecutable(true);
      unit = unit.replace(exec, stub.toString());
    }
    Path copy = dir.resolve("berthd.service");
    Files.writeString(copy, unit);
    Run r = run("systemd-analyze", "verify", copy.toString());
    assertEquals(0, r.code(), r.output());
    assertFalse(r.output().contains("berthd.service:"), "warnings about the unit: " + r.output());
  }

  record Run(int code, String output) {}

  static Run run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "timed out: " + List.of(cmd));
    return new Run(p.exitValue(), out);
  }

  static boolean onPath(String tool) {
    for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
      if (Files.isExecutable(Path.of(dir, tool))) {
        return true;
      }
    }
    return false;
  }
}
