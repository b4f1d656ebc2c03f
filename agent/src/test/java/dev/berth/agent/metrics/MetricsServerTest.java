package dev.berth.agent.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import java.io.ByteArrayInputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** /metrics over HTTP on loopback, and the --metrics-addr values. */
class MetricsServerTest {
  static AgentMetrics metrics() {
    ContainerCollector none = new ContainerCollector(List::of, new ContainerSampler(null, Path.of("/proc"),
        Clock.systemUTC()), "n1", Duration.ZERO, System::nanoTime);
    return new AgentMetrics("n1", none, Map::of, Map::of);
  }

  @Test
  void servesTheExpositionPlainAndGzippedAndNothingElse() throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    try (AgentMetrics m = metrics(); MetricsServer s = MetricsServer.start(new InetSocketAddress("127.0.0.1", 0), m)) {
      String base = "http://127.0.0.1:" + s.address().getPort();
      HttpResponse<String> plain = http.send(HttpRequest.newBuilder(URI.create(base + "/metrics")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(200, plain.statusCode());
      assertEquals(AgentMetrics.CONTENT_TYPE, plain.headers().firstValue("Content-Type").orElse(""));
      assertTrue(plain.body().contains("berth_containers{node=\"n1\",state=\"running\"} 0"), plain.body());
      HttpResponse<byte[]> gz = http.send(HttpRequest.newBuilder(URI.create(base + "/metrics"))
          .header("Accept-Encoding", "gzip").build(), HttpResponse.BodyHandlers.ofByteArray());
      assertEquals("gzip", gz.headers().firstValue("Content-Encoding").orElse(""));
      String unzipped = new String(new GZIPInputStream(new ByteArrayInputStream(gz.body())).readAllBytes(),
          StandardCharsets.UTF_8);
      assertTrue(unzipped.contains("jvm_threads_live_threads"), unzipped);
      assertEquals(404, http.send(HttpRequest.newBuilder(URI.create(base + "/")).build(),
          HttpResponse.BodyHandlers.discarding()).statusCode());
      assertEquals(405, http.send(HttpRequest.newBuilder(URI.create(base + "/metrics"))
          .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.discarding()).statusCode());
    }
  }

  @Test
  void parsesTheFlag() {
    assertNull(MetricsServer.parse(""));
    assertEquals(new InetSocketAddress("127.0.0.1", 9323), MetricsServer.parse(MetricsServer.DEFAULT_ADDRESS));
    assertEquals(9400, MetricsServer.parse("[::1]:9400").getPort());
  }

  @ParameterizedTest
  @ValueSource(strings = {"9323", "127.0.0.1", "127.0.0.1:x", "127.0.0.1:70000"})
  void refusesMalformedAddresses(String addr) {
    assertThrows(BerthException.class, () -> MetricsServer.parse(addr));
  }
}
