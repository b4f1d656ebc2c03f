package dev.berth.agent.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.runtime.RecordingSyscalls;
import dev.berth.agent.runtime.cgroup.Cgroups;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The per-container series: cAdvisor's names and labels, values from cgroup v1 and v2 fixture trees. */
class ContainerCollectorTest {
  static final String ID = "4f1c2b9a7d3e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8";
  static final Instant STARTED = Instant.parse("2024-05-01T12:00:00.5Z");

  @TempDir Path root;
  @TempDir Path proc;
  final List<ContainerTarget> targets = new ArrayList<>();
  final AtomicLong now = new AtomicLong();

  static ContainerTarget target(String id, String name, boolean running, int pid) {
    return new ContainerTarget(id, name, "busybox:latest", "", "bt/" + id, running, pid, STARTED, false, 50_000, 100_000, 0, 0,
        0);
  }

  AgentMetrics metrics(Duration ttl) {
    Cgroups cgroups = Cgroups.detect(root, new RecordingSyscalls());
    ContainerCollector c = new ContainerCollector(() -> List.copyOf(targets),
        new ContainerSampler(cgroups, proc, Clock.systemUTC()), "n1", ttl, now::get);
    return new AgentMetrics("n1", c, () -> Map.of("running", 1L, "exited", 2L), () -> Map.of("alive", 3L));
  }

  @ParameterizedTest(name = "cgroup {0}")
  @ValueSource(strings = {"v1", "v2"})
  void exportsCadvisorNamesAndLabelsWithTheCgroupsValues(String version) throws IOException {
    var usage = new CgroupFixtures.Usage(60_000_000, 10_000_000, 268_435_456, 2_500_000, 7, 3, 1);
    if (version.equals("v1")) {
      CgroupFixtures.v1Root(root);
      CgroupFixtures.v1Container(root, "bt/" + ID, usage);
    } else {
      CgroupFixtures.v2Root(root);
      CgroupFixtures.v2Container(root, "bt/" + ID, usage);
    }
    CgroupFixtures.netDev(proc, 4242, 5000, 7000);
    targets.add(new ContainerTarget(ID, "web", "busybox:latest", "shop", "bt/" + ID, true, 4242, STARTED, false, 50_000,
        100_000, 268_435_456, 0, 2));
    String text;
    try (AgentMetrics m = metrics(Duration.ZERO)) {
      text = m.scrape();
    }
    Scrape s = Scrape.parse(text);
    Map<String, String> l = Map.of("id", "/bt/" + ID, "name", "web", "image", "busybox:latest", "berth_job", "shop",
        "node", "n1");
    assertEquals(60_000_000, s.value("container_memory_usage_bytes", l), text);
    assertEquals(50_000_000, s.value("container_memory_working_set_bytes", l));
    assertEquals(268_435_456, s.value("container_spec_memory_limit_bytes", l));
    assertEquals(2.5, s.value("container_cpu_usage_seconds_total", l), 1e-9);
    assertEquals(1, s.value("container_oom_events_total", l));
    assertEquals(7, s.value("container_processes", l), "tasks, as the pids controller counts them");
    assertEquals(2, s.value("container_restarts_total", l));
    assertEquals(STARTED.getEpochSecond() + 0.5, s.value("container_start_time_seconds", l), 1e-6);
    assertEquals(50_000, s.value("container_spec_cpu_quota", l));
    // v1 counts CPU in USER_HZ ticks: 10 ms steps.
    assertEquals(1.87, s.value("container_cpu_user_seconds_total", l), 0.011);
    var eth0 = new java.util.HashMap<>(l);
    eth0.put("interface", "eth0");
    assertEquals(5000, s.value("container_network_receive_bytes_total", eth0));
    assertEquals(7000, s.value("container_network_transmit_bytes_total", eth0));
    assertEquals(2, s.value("container_network_receive_packets_dropped_total", eth0));
    assertFalse(text.contains("interface=\"lo\""), "loopback is left out, as cAdvisor does");
    // The agent's own meters are there too, tagged with the node.
    assertEquals(1, s.value("berth_containers", Map.of("state", "running", "node", "n1")));
    assertEquals(3, s.value("berth_cluster_members", Map.of("state", "alive", "node", "n1")));
    assertTrue(s.names().contains("jvm_memory_used_bytes"), "JVM metrics");
  }

  @Test
  void stoppedContainersHaveOnlyRestartsAndOomEvents() throws IOException {
    CgroupFixtures.v2Root(root);
    targets.add(new ContainerTarget(ID, "crashy", "busybox", "", "bt/" + ID, false, 0, STARTED, true, 0, 0, 0, 0, 5));
    String text;
    try (AgentMetrics m = metrics(Duration.ZERO)) {
      text = m.scrape();
    }
    Scrape s = Scrape.parse(text);
    assertEquals(5, s.value("container_restarts_total", Map.of("name", "crashy")));
    assertEquals(1, s.value("container_oom_events_total", Map.of("name", "crashy")), "an OOM-killed run counts once");
    assertTrue(s.series("container_memory_usage_bytes").isEmpty(), text);
  }

  @Test
  void oomKillsAddUpOverRuns() throws IOException {
    CgroupFixtures.v2Root(root);
    CgroupFixtures.v2Container(root, "bt/" + ID, new CgroupFixtures.Usage(1, 0, 0, 1, 1, 1, 2));
    targets.add(target(ID, "c", true, 0));
    try (AgentMetrics m = metrics(Duration.ZERO)) {
      assertEquals(2, Scrape.parse(m.scrape()).value("container_oom_events_total", Map.of("name", "c")));
      // A new run: its cgroup starts from 0 again, and a child gets OOM-killed once.
      targets.set(0, new ContainerTarget(ID, "c", "busybox:latest", "", "bt/" + ID, true, 0, STARTED.plusSeconds(60), false,
          0, 0, 0, 0, 1));
      CgroupFixtures.v2Container(root, "bt/" + ID, new CgroupFixtures.Usage(1, 0, 0, 1, 1, 1, 1));
      assertEquals(3, Scrape.parse(m.scrape()).value("container_oom_events_total", Map.of("name", "c")));
    }
  }

  @Test
  void aReadingIsCachedForTheTtl() throws IOException {
    CgroupFixtures.v2Root(root);
    CgroupFixtures.v2Container(root, "bt/" + ID, new CgroupFixtures.Usage(100, 0, 0, 1, 1, 1, 0));
    targets.add(target(ID, "c", true, 0));
    try (AgentMetrics m = metrics(Duration.ofSeconds(1))) {
      assertEquals(100, Scrape.parse(m.scrape()).value("container_memory_usage_bytes", Map.of("name", "c")));
      CgroupFixtures.v2Container(root, "bt/" + ID, new CgroupFixtures.Usage(200, 0, 0, 1, 1, 1, 0));
      now.addAndGet(Duration.ofMillis(999).toNanos());
      assertEquals(100, Scrape.parse(m.scrape()).value("container_memory_usage_bytes", Map.of("name", "c")));
      now.addAndGet(Duration.ofMillis(2).toNanos());
      assertEquals(200, Scrape.parse(m.scrape()).value("container_memory_usage_bytes", Map.of("name", "c")));
    }
  }

  @Test
  void aContainerWhoseCgroupIsGoneReadsAsZerosNotAnError() throws IOException {
    CgroupFixtures.v2Root(root);
    targets.add(target(ID, "gone", true, 999_999));
    try (AgentMetrics m = metrics(Duration.ZERO)) {
      assertEquals(0, Scrape.parse(m.scrape()).value("container_memory_usage_bytes", Map.of("name", "gone")));
    }
  }

  @Test
  void aThousandContainersAllAppear() throws IOException {
    CgroupFixtures.v2Root(root);
    for (int i = 0; i < 1000; i++) {
      String id = String.format("%064x", i);
      CgroupFixtures.v2Container(root, "bt/" + id, new CgroupFixtures.Usage(1_000_000L + i, 0, 0, i, 1, 1, 0));
      CgroupFixtures.netDev(proc, 10_000 + i, i, i);
      targets.add(target(id, "c" + i, true, 10_000 + i));
    }
    try (AgentMetrics m = metrics(Duration.ZERO)) {
      Scrape s = Scrape.parse(m.scrape());
      assertEquals(1000, s.series("container_memory_usage_bytes").size());
      assertEquals(1000, s.series("container_network_receive_bytes_total").size());
      assertEquals(1_000_999, s.value("container_memory_usage_bytes", Map.of("name", "c999")));
    }
  }
}
