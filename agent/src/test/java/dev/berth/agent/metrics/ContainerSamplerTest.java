package dev.berth.agent.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.runtime.RecordingSyscalls;
import dev.berth.agent.runtime.cgroup.Cgroups;
import dev.berth.agent.runtime.cgroup.DescriptorBudget;
import dev.berth.agent.runtime.cgroup.OpenFds;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Scrapes through a sampler that keeps the containers' files open, on v1 and v2 fixture trees:
 * the same exposition as one that opens them anew each time, and the descriptors, counted in
 * /proc/self/fd, closed when a container stops, is removed, runs again or its cgroup goes.
 */
class ContainerSamplerTest {
  static final int N = 40;

  @TempDir Path root;
  @TempDir Path proc;
  final List<ContainerTarget> targets = new ArrayList<>();
  Cgroups cgroups;

  /** Files kept per container: the cgroup's usage files and /proc/PID/net/dev. */
  int perContainer(String version) {
    return version.equals("v1") ? 8 : 6;
  }

  static String id(int i) {
    return String.format("%064x", i);
  }

  void layOut(String version, int n) throws IOException {
    if (version.equals("v1")) {
      CgroupFixtures.v1Root(root);
    } else {
      CgroupFixtures.v2Root(root);
    }
    cgroups = Cgroups.detect(root, new RecordingSyscalls());
    for (int i = 0; i < n; i++) {
      write(version, i, 1);
      targets.add(ContainerCollectorTest.target(id(i), "c" + i, true, 10_000 + i));
    }
  }

  /** Container {@code i}'s files with figures scaled by {@code k}. */
  void write(String version, int i, long k) throws IOException {
    var u = new CgroupFixtures.Usage(k * (1_000_000L + i), k * 1000, 64L << 20, k * (5000L + i), k, 1, k - 1);
    if (version.equals("v1")) {
      CgroupFixtures.v1Container(root, "bt/" + id(i), u);
    } else {
      CgroupFixtures.v2Container(root, "bt/" + id(i), u);
    }
    CgroupFixtures.netDev(proc, 10_000 + i, k * i, k * 2 * i);
  }

  static String scrape(ContainerSampler sampler, List<ContainerTarget> targets) {
    ContainerCollector c = new ContainerCollector(() -> List.copyOf(targets), sampler, "n1", Duration.ZERO, System::nanoTime);
    return new String(c.collect(), StandardCharsets.UTF_8);
  }

  long fds() {
    return OpenFds.below(root) + OpenFds.below(proc);
  }

  @ParameterizedTest(name = "cgroup {0}")
  @ValueSource(strings = {"v1", "v2"})
  void keptFilesGiveTheExpositionFreshReadsGive(String version) throws IOException {
    layOut(version, N);
    ContainerSampler fresh = new ContainerSampler(cgroups, proc, Clock.systemUTC());
    try (ContainerSampler kept = new ContainerSampler(cgroups, proc, Clock.systemUTC(), new DescriptorBudget(10_000))) {
      for (long k = 1; k <= 3; k++) {
        for (int i = 0; i < N; i++) {
          write(version, i, k);
        }
        String text = scrape(kept, targets);
        assertEquals(scrape(fresh, targets), text, "round " + k);
        Scrape s = Scrape.parse(text);
        assertEquals(k * 1_000_039, s.value("container_memory_usage_bytes", Map.of("name", "c39")));
        assertEquals(k * 2 * 39, s.value("container_network_transmit_bytes_total", Map.of("name", "c39",
            "interface", "eth0")));
        assertEquals(N * perContainer(version), kept.openFiles());
        assertEquals(N * perContainer(version), fds(), "as many descriptors, each opened once");
      }
    }
    assertEquals(0, fds(), "close closed them all");
  }

  @ParameterizedTest(name = "cgroup {0}")
  @ValueSource(strings = {"v1", "v2"})
  void descriptorsAreClosedWhenAContainerStopsIsRemovedOrRunsAgain(String version) throws Exception {
    layOut(version, 3);
    DescriptorBudget budget = new DescriptorBudget(10_000);
    try (ContainerSampler kept = new ContainerSampler(cgroups, proc, Clock.systemUTC(), budget)) {
      scrape(kept, targets);
      int each = perContainer(version);
      assertEquals(3 * each, fds());

      // c0 stops: the next scrape no longer reads it, and closes its files.
      ContainerTarget c0 = targets.get(0);
      targets.set(0, ContainerCollectorTest.target(c0.id(), c0.name(), false, 0));
      scrape(kept, targets);
      assertEquals(2 * each, fds());

      // c1 is removed: the runtime says so, and its files are closed at once.
      kept.events().removed(targets.get(1).id());
      assertEquals(each, fds());
      targets.remove(1);
      scrape(kept, targets);
      assertEquals(each, fds());

      // c2 runs again under another pid: its old /proc/PID/net/dev is closed, the new one read.
      ContainerTarget c2 = targets.get(1);
      CgroupFixtures.netDev(proc, 20_002, 4242, 4343);
      targets.set(1, new ContainerTarget(c2.id(), c2.name(), c2.image(), c2.job(), c2.cgroupPath(), true, 20_002,
          c2.startedAt().plusSeconds(60), false, 0, 0, 0, 0, 1));
      Scrape s = Scrape.parse(scrape(kept, targets));
      assertEquals(4242, s.value("container_network_receive_bytes_total", Map.of("name", "c2", "interface", "eth0")));
      assertEquals(each, fds());
      assertEquals(1, OpenFds.below(proc.resolve("20002")), "the new run's file is held");
      assertEquals(0, OpenFds.below(proc.resolve("10002")), "the old run's is not");

      // Its cgroup goes away while it is still listed as running: zeros, and nothing held on it.
      deleteTree(root);
      s = Scrape.parse(scrape(kept, targets));
      assertEquals(0, s.value("container_memory_usage_bytes", Map.of("name", "c2")));
      assertEquals(1, fds(), "only /proc/PID/net/dev, whose process still runs");
      assertEquals(1, budget.used());
    }
    assertEquals(0, fds());
    assertEquals(0, budget.used());
  }

  @ParameterizedTest(name = "cgroup {0}")
  @ValueSource(strings = {"v1", "v2"})
  void beyondTheBudgetContainersAreReadAfreshAndNoneIsLeftOut(String version) throws IOException {
    // Enough containers for the parallel path: readings on several threads share the budget.
    layOut(version, 100);
    DescriptorBudget budget = new DescriptorBudget(50);
    ContainerSampler fresh = new ContainerSampler(cgroups, proc, Clock.systemUTC());
    try (ContainerSampler kept = new ContainerSampler(cgroups, proc, Clock.systemUTC(), budget)) {
      for (int round = 0; round < 3; round++) {
        String text = scrape(kept, targets);
        assertEquals(scrape(fresh, targets), text);
        assertEquals(100, Scrape.parse(text).series("container_memory_usage_bytes").size());
        assertEquals(50, budget.used());
        assertEquals(50, fds(), "never more descriptors than the budget");
      }
    }
    assertEquals(0, budget.used());
    assertEquals(0, fds());
  }

  @ParameterizedTest(name = "cgroup {0}")
  @ValueSource(strings = {"v1", "v2"})
  void aContainerWhoseFilesCannotBeReadIsLeftOutNotTheScrape(String version) throws IOException {
    layOut(version, 2);
    try (ContainerSampler kept = new ContainerSampler(cgroups, proc, Clock.systemUTC(), new DescriptorBudget(100))) {
      scrape(kept, targets);
      // c0's memory usage file now holds what no kernel writes: its reading fails, c1's does not.
      Path usage = cgroups.dirs("bt/" + id(0)).get(0)
          .resolve(version.equals("v1") ? "memory.usage_in_bytes" : "memory.current");
      Files.writeString(usage, "garbage\n");
      Scrape s = Scrape.parse(scrape(kept, targets));
      assertEquals(1, s.series("container_memory_usage_bytes").size());
      assertEquals(1_000_001, s.value("container_memory_usage_bytes", Map.of("name", "c1")));
      assertTrue(s.series("container_restarts_total").size() == 2, "every container still has its restarts");
    }
  }

  static void deleteTree(Path dir) throws IOException {
    try (Stream<Path> w = Files.walk(dir)) {
      for (Path p : w.sorted(Comparator.reverseOrder()).filter(p -> !p.equals(dir)).toList()) {
        Files.delete(p);
      }
    }
  }
}
