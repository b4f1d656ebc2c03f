package dev.berth.agent.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.RandomAccessFile;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The descriptor gauges: what Micrometer's FileDescriptorMetrics exports, counted without listing /proc/self/fd. */
class OpenFilesTest {
  static String scrape(java.util.function.Consumer<PrometheusMeterRegistry> bind) {
    PrometheusMeterRegistry r = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    try {
      r.config().commonTags("node", "n1");
      bind.accept(r);
      return r.scrape();
    } finally {
      r.close();
    }
  }

  static List<String> helpAndType(String text) {
    return text.lines().filter(l -> l.startsWith("#")).toList();
  }

  @Test
  void theSameFamiliesAsMicrometersWithTheSameCounts() throws Exception {
    var unix = (com.sun.management.UnixOperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    List<RandomAccessFile> held = new ArrayList<>();
    try {
      for (int i = 0; i < 300; i++) {
        held.add(new RandomAccessFile("/dev/null", "r"));
      }
      String ours = scrape(OpenFiles::bindTo);
      String micrometers = scrape(r -> new FileDescriptorMetrics().bindTo(r));
      assertEquals(helpAndType(micrometers), helpAndType(ours), "names, help and types");
      Scrape s = Scrape.parse(ours);
      double open = s.value("process_files_open_files", Map.of("node", "n1"));
      long jvm = unix.getOpenFileDescriptorCount();
      // Other threads of the test JVM may open or close a descriptor in between.
      assertTrue(Math.abs(open - jvm) <= 3, "open " + open + ", the JVM counts " + jvm);
      assertTrue(open >= 300);
      assertEquals(unix.getMaxFileDescriptorCount(), s.value("process_files_max_files", Map.of("node", "n1")));
      held.remove(0).close();
      assertEquals(open - 1, OpenFiles.open(unix), 3);
    } finally {
      for (RandomAccessFile f : held) {
        f.close();
      }
    }
  }
}
