package dev.berth.agent.metrics;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.zip.Deflater;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** gzip in parts on several threads: one member any decoder reads back to the same text, about as small. */
class ParallelGzipTest {
  static final ExecutorService POOL = Executors.newFixedThreadPool(3);

  @AfterAll
  static void stop() {
    POOL.shutdownNow();
  }

  /** An exposition-like text: the same labels on every line, numbers that change. */
  static byte[] exposition(int bytes) {
    StringBuilder b = new StringBuilder(bytes + 200);
    Random r = new Random(bytes);
    for (int i = 0; b.length() < bytes; i++) {
      b.append("container_memory_usage_bytes{id=\"/bench-x/").append(String.format("%064x", i % 1000))
          .append("\",name=\"scrape-").append(i % 1000).append("\",image=\"busybox\",berth_job=\"\",node=\"n1\"} ")
          .append(r.nextInt(1 << 24)).append('\n');
    }
    b.setLength(bytes);
    return b.toString().getBytes(StandardCharsets.UTF_8);
  }

  static byte[] gunzip(byte[] gz) throws IOException {
    try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(gz))) {
      return in.readAllBytes();
    }
  }

  static byte[] serialGzip(byte[] text) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(out) {
      {
        def.setLevel(Deflater.BEST_SPEED);
      }
    }) {
      gz.write(text);
    }
    return out.toByteArray();
  }

  @ParameterizedTest(name = "{0} bytes in up to {1} parts")
  @CsvSource({
      "0, 2", "1, 2", "262143, 2", "262144, 2", "524288, 2", "524291, 2", "524291, 3",
      "3200000, 1", "3200000, 2", "3200000, 4", "3200001, 3"})
  void decodesToTheSameTextAboutAsSmallAsOnePiece(int bytes, int parts) throws IOException {
    byte[] text = exposition(bytes);
    // Room after the text, as in the server's buffer: only [0, length) counts.
    byte[] buffer = java.util.Arrays.copyOf(text, text.length + 100);
    java.util.Arrays.fill(buffer, text.length, buffer.length, (byte) 'x');
    byte[] gz = ParallelGzip.gzip(buffer, text.length, parts, POOL);
    assertArrayEquals(text, gunzip(gz));
    int serial = serialGzip(text).length;
    assertTrue(gz.length <= serial * 1.05 + 64, gz.length + " bytes, in one piece " + serial);
  }
}
