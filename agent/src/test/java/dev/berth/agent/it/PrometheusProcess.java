package dev.berth.agent.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
import java.util.concurrent.TimeUnit;
import java.util.function.DoublePredicate;
import java.util.stream.Stream;

/**
 * A real Prometheus (Debian's package) on 127.0.0.1 scraping every second what its config names,
 * with PromQL instant queries through its HTTP API. {@link #close()} stops it and removes its
 * files, also when a test fails.
 */
final class PrometheusProcess implements AutoCloseable {
  static final Path BINARY = Path.of("/usr/bin/prometheus");

  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  private final ObjectMapper json = new ObjectMapper();
  private final Path dir;
  private final String base;
  private final Process process;

  private PrometheusProcess(Path dir, String base, Process process) {
    this.dir = dir;
    this.base = base;
    this.process = process;
  }

  static boolean available() {
    return Files.isExecutable(BINARY);
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  /** Starts Prometheus with {@code scrapeConfigs}, the YAML list under {@code scrape_configs:}. */
  static PrometheusProcess start(String scrapeConfigs) throws IOException {
    Path dir = Files.createTempDirectory(Path.of("/tmp"), "bprom");
    try {
      int port = freePort();
      Files.writeString(dir.resolve("prometheus.yml"), """
          global:
            scrape_interval: 1s
            scrape_timeout: 1s
          scrape_configs:
          """ + scrapeConfigs);
      Process p = new ProcessBuilder(BINARY.toString(), "--config.file=" + dir.resolve("prometheus.yml"),
          "--storage.tsdb.path=" + dir.resolve("data"), "--web.listen-address=127.0.0.1:" + port)
          .redirectErrorStream(true).redirectOutput(dir.resolve("prometheus.log").toFile()).start();
      return new PrometheusProcess(dir, "http://127.0.0.1:" + port, p);
    } catch (IOException | RuntimeException e) {
      delete(dir);
      throw e;
    }
  }

  /** Polls an instant query until its single result satisfies {@code ok} (60 s); returns that value. */
  double awaitValue(String query, DoublePredicate ok) throws Exception {
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

  @Override
  public void close() throws Exception {
    try {
      process.destroy();
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    } finally {
      delete(dir);
    }
  }

  private static void delete(Path dir) throws IOException {
    try (Stream<Path> w = Files.walk(dir)) {
      for (Path p : (Iterable<Path>) w.sorted(Comparator.reverseOrder())::iterator) {
        Files.deleteIfExists(p);
      }
    }
  }
}
