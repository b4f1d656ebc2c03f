package dev.berth.agent.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The image config's Healthcheck field, as Docker writes it: read, and written back the same. */
class OciJsonHealthcheckTest {
  static final String DOCKER_CONFIG = """
      {"architecture":"amd64","os":"linux","created":"2026-01-01T00:00:00Z",
       "config":{"Cmd":["nginx"],"Healthcheck":{"Test":["CMD-SHELL","curl -f http://localhost/ || exit 1"],
         "Interval":5000000000,"Timeout":3000000000,"StartPeriod":10000000000,"Retries":4}},
       "rootfs":{"type":"layers","diff_ids":[]}}""";

  @Test
  void readsDockersHealthcheck() throws Exception {
    Healthcheck h = OciJson.parseConfig(DOCKER_CONFIG.getBytes(StandardCharsets.UTF_8)).config().healthcheck();
    assertEquals(new Healthcheck(List.of("CMD-SHELL", "curl -f http://localhost/ || exit 1"), Duration.ofSeconds(5),
        Duration.ofSeconds(3), Duration.ofSeconds(10), 4), h);
  }

  @Test
  void writesItBackAndKeepsNone() throws Exception {
    for (Healthcheck h : List.of(Healthcheck.NONE, new Healthcheck(List.of("CMD", "/check", "--quick"),
        Duration.ofMillis(1500), null, null, 0))) {
      ImageConfig ic = new ImageConfig(null, List.of("sh"), null, null, null, null, null, null, null, h);
      byte[] json = OciJson.config(new OciJson.Config(ic, "linux", "amd64", Instant.EPOCH, List.of()), "test", "");
      assertEquals(h, OciJson.parseConfig(json).config().healthcheck(), new String(json, StandardCharsets.UTF_8));
    }
  }

  @Test
  void noFieldNoCheck() throws Exception {
    String json = DOCKER_CONFIG.replaceAll(",\"Healthcheck\":\\{[^}]*\\}", "");
    assertNull(OciJson.parseConfig(json.getBytes(StandardCharsets.UTF_8)).config().healthcheck());
    String nul = DOCKER_CONFIG.replaceAll("\"Healthcheck\":\\{[^}]*\\}", "\"Healthcheck\":null");
    assertNull(OciJson.parseConfig(nul.getBytes(StandardCharsets.UTF_8)).config().healthcheck());
  }
}
