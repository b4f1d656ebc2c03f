package dev.berth.ctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerProcess;
import dev.berth.proto.v1.ContainerStats;
import dev.berth.proto.v1.ContainerStatsRequest;
import dev.berth.proto.v1.ContainerStatsResponse;
import dev.berth.proto.v1.ContainerStatus;
import dev.berth.proto.v1.ContainerTopRequest;
import dev.berth.proto.v1.DiskUsageCategory;
import dev.berth.proto.v1.DiskUsageResponse;
import dev.berth.proto.v1.Node;
import dev.berth.proto.v1.NodeRole;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** stats, top, system df and nodes --format prometheus-sd: requests made and what the user sees. */
class StatsCommandsTest {
  static final String ID = "4f1c2b9a7d3e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8";
  final CliRunner cli = newCli();

  static CliRunner newCli() {
    try {
      return new CliRunner();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  @AfterEach
  void close() {
    cli.close();
  }

  static ContainerStats.Builder web(long readNanos, long cpuNanos) {
    return ContainerStats.newBuilder().setId(ID).setName("web").setRunning(true).setReadUnixNanos(readNanos)
        .setCpuUsageNanos(cpuNanos).setMemoryUsageBytes(60L << 20).setMemoryWorkingSetBytes(50L << 20)
        .setMemoryLimitBytes(200L << 20).setPids(7).setNetRxBytes(1_500).setNetTxBytes(648);
  }

  static ContainerStatsResponse reply(ContainerStats.Builder... s) {
    ContainerStatsResponse.Builder b = ContainerStatsResponse.newBuilder().setHostCpus(2).setHostMemoryBytes(8L << 30);
    for (ContainerStats.Builder x : s) {
      b.addStats(x);
    }
    return b.build();
  }

  @Test
  void statsNoStreamComputesCpuFromTwoReadingsAndFormatsAsDocker() {
    // 0.75 s of CPU over 1 s of wall time: 75%.
    cli.daemon.statsReplies.add(reply(web(1_000_000_000L, 2_000_000_000L)));
    cli.daemon.statsReplies.add(reply(web(2_000_000_000L, 2_750_000_000L)));
    CliRunner.Result r = cli.run("stats", "--no-stream", "--interval-ms", "0");
    assertEquals(0, r.code(), r.err());
    assertEquals(List.of(
        "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O        PIDS",
        "4f1c2b9a7d3e   web       75.00%    50MiB / 200MiB      25.00%    1.5kB / 648B   7"), r.out().lines().toList());
    assertEquals(2, cli.daemon.requests(ContainerStatsRequest.class).size());
  }

  @Test
  void statsWithoutALimitShowsTheHostsMemoryAndJsonHasDockersKeys() {
    cli.daemon.statsReplies.add(reply(web(1, 0).setMemoryLimitBytes(0)));
    CliRunner.Result r = cli.run("stats", "--no-stream", "--interval-ms", "0", "--format", "json", "web");
    assertEquals(0, r.code(), r.err());
    assertEquals("{\"CPUPerc\":\"0.00%\",\"Container\":\"4f1c2b9a7d3e\",\"ID\":\"" + ID + "\",\"MemPerc\":\"0.61%\","
        + "\"MemUsage\":\"50MiB / 8GiB\",\"Name\":\"web\",\"NetIO\":\"1.5kB / 648B\",\"PIDs\":\"7\"}", r.out().trim());
    assertEquals(List.of("web"), cli.daemon.requests(ContainerStatsRequest.class).get(0).getIdsList());
  }

  @Test
  void statsOfAStoppedContainerAreZeros() {
    cli.daemon.statsReplies.add(reply(ContainerStats.newBuilder().setId(ID).setName("old")));
    CliRunner.Result r = cli.run("stats", "--no-stream", "--interval-ms", "0", "-a");
    assertTrue(r.out().contains("old       0.00%     0B / 0B             0.00%     0B / 0B   0"), r.out());
    assertTrue(cli.daemon.requests(ContainerStatsRequest.class).get(0).getAll());
  }

  @Test
  void topPrintsPsColumns() {
    cli.daemon.containers.put(ID, Container.newBuilder().setId(ID).setName("web").setStatus(ContainerStatus.RUNNING).build());
    long today = CliRunner.NOW.getEpochSecond() - 3600;
    cli.daemon.processes.add(ContainerProcess.newBuilder().setPid(4242).setPpid(4240).setUser("root")
        .setCpuMillis(3_723_000).setStartedUnixSeconds(today).setCommand("httpd -f -p 80").build());
    cli.daemon.processes.add(ContainerProcess.newBuilder().setPid(4250).setPpid(4242).setUser("1000")
        .setCpuMillis(90_061_000).setStartedUnixSeconds(today - 86_400 * 3).setCommand("[sh]").build());
    CliRunner.Result r = cli.run("top", "web");
    assertEquals(0, r.code(), r.err());
    assertEquals(List.of(
        "UID       PID       PPID      STIME     TIME         CMD",
        "root      4242      4240      11:00     01:02:03     httpd -f -p 80",
        "1000      4250      4242      Apr28     1-01:01:01   [sh]"), r.out().lines().toList());
    assertEquals("web", cli.daemon.requests(ContainerTopRequest.class).get(0).getId());
  }

  @Test
  void topOfAnUnknownContainerFails() {
    CliRunner.Result r = cli.run("top", "nope");
    assertEquals(1, r.code());
    assertTrue(r.err().contains("No such container: nope"), r.err());
  }

  @Test
  void systemDfIsDockersTable() {
    cli.daemon.diskUsage = DiskUsageResponse.newBuilder()
        .addCategories(DiskUsageCategory.newBuilder().setType("Images").setTotal(5).setActive(2).setSizeBytes(16_430_000)
            .setReclaimableBytes(11_630_000))
        .addCategories(DiskUsageCategory.newBuilder().setType("Containers").setTotal(2).setActive(0))
        .addCategories(DiskUsageCategory.newBuilder().setType("Local Volumes").setTotal(2).setActive(1).setSizeBytes(36))
        .build();
    CliRunner.Result r = cli.run("system", "df");
    assertEquals(0, r.code(), r.err());
    assertEquals(List.of(
        "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE",
        "Images          5         2         16.4MB    11.6MB (70%)",
        "Containers      2         0         0B        0B",
        "Local Volumes   2         1         36B       0B (0%)"), r.out().lines().toList());
  }

  @Test
  void systemInfoIsInfo() {
    CliRunner.Result r = cli.run("system", "info");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains(" Server Version: 0.1.0-fake"), r.out());
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({"0, 00:00:00", "59999, 00:00:59", "3723000, 01:02:03", "90061000, 1-01:01:01"})
  void cpuTimeIsPsTime(long millis, String expected) {
    assertEquals(expected, StatsCommands.cpuTime(millis));
  }

  @Test
  void nodesAsPrometheusTargetsUseEachNodesHostAndTheMetricsPort() {
    cli.daemon.cluster.nodes.put("n1", Node.newBuilder().setName("n1").setAddress("10.0.0.1:7946")
        .setRole(NodeRole.NODE_ROLE_SERVER).putLabels("zone", "a").putLabels("disk.type", "ssd").build());
    cli.daemon.cluster.nodes.put("n2", Node.newBuilder().setName("n2").setAddress("[fd00::2]:7946")
        .setRole(NodeRole.NODE_ROLE_MEMBER).build());
    cli.daemon.cluster.nodes.put("n3", Node.newBuilder().setName("n3").build());
    CliRunner.Result r = cli.run("nodes", "--format", "prometheus-sd", "--metrics-port", "9400");
    assertEquals(0, r.code(), r.err());
    var groups = parse(r.out());
    assertEquals(2, groups.size(), r.out());
    assertEquals("10.0.0.1:9400", groups.get(0).get("targets").get(0).asText());
    assertEquals("{\"node\":\"n1\",\"role\":\"server\",\"label_disk_type\":\"ssd\",\"label_zone\":\"a\"}",
        groups.get(0).get("labels").toString());
    assertEquals("[fd00::2]:9400", groups.get(1).get("targets").get(0).asText());
    assertEquals("{\"node\":\"n2\",\"role\":\"member\"}", groups.get(1).get("labels").toString());
  }

  static com.fasterxml.jackson.databind.JsonNode parse(String json) {
    try {
      return new com.fasterxml.jackson.databind.ObjectMapper().readTree(json);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
