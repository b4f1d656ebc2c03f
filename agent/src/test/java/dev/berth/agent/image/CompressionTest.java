package dev.berth.agent.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.github.luben.zstd.Zstd;
import dev.berth.agent.BerthException;
import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Telling a layer's compression by its first bytes, and reading it back. */
class CompressionTest {
  private static final byte[] TAR = Tars.tar().dir("etc/", 0755).file("etc/motd", "hello\n".repeat(500)).build();

  /** The tar compressed as {@code how}: several gzip members or zstd frames where {@code split}. */
  private static byte[] compressed(String how, boolean split) {
    int half = TAR.length / 2;
    byte[][] parts = split ? new byte[][] {Arrays.copyOf(TAR, half), Arrays.copyOfRange(TAR, half, TAR.length)}
        : new byte[][] {TAR};
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(switch (how) {
        case "none" -> p;
        case "gzip" -> Tars.gzip(p);
        case "zstd" -> Zstd.compress(p);
        default -> throw new IllegalArgumentException(how);
      });
    }
    return out.toByteArray();
  }

  @ParameterizedTest(name = "{0}, in parts: {1}")
  @CsvSource({
      "none, false, NONE, application/vnd.oci.image.layer.v1.tar",
      "gzip, false, GZIP, application/vnd.oci.image.layer.v1.tar+gzip",
      "gzip, true,  GZIP, application/vnd.oci.image.layer.v1.tar+gzip",
      "zstd, false, ZSTD, application/vnd.oci.image.layer.v1.tar+zstd",
      "zstd, true,  ZSTD, application/vnd.oci.image.layer.v1.tar+zstd"})
  void detectsWithoutConsumingAndDecompressesToTheTar(String how, boolean split, Compression expected, String mediaType)
      throws IOException {
    BufferedInputStream in = new BufferedInputStream(new ByteArrayInputStream(compressed(how, split)));
    Compression c = Compression.detect(in);
    assertEquals(expected, c);
    assertEquals(mediaType, c.mediaType());
    try (InputStream plain = c.decompress(in)) {
      assertArrayEquals(TAR, plain.readAllBytes());
    }
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({"bzip2, 425a6839", "xz, fd377a585a00"})
  void refusesWhatItCannotRead(String name, String hex) {
    byte[] head = java.util.HexFormat.of().parseHex(hex + "00000000");
    BerthException e = assertThrows(BerthException.class,
        () -> Compression.detect(new BufferedInputStream(new ByteArrayInputStream(head)), "the layer x", "not here"));
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind());
    assertEquals("the layer x is " + name + "-compressed: not here", e.getMessage());
  }

  @Test
  void aCorruptZstdStreamFailsWhenRead() throws IOException {
    byte[] z = Zstd.compress(TAR);
    byte[] cut = Arrays.copyOf(z, z.length / 2);
    BufferedInputStream in = new BufferedInputStream(new ByteArrayInputStream(cut));
    Compression c = Compression.detect(in);
    assertEquals(Compression.ZSTD, c);
    IOException e = assertThrows(IOException.class, () -> {
      try (InputStream plain = c.decompress(in)) {
        plain.readAllBytes();
      }
    });
    assertTrue(e.getMessage() != null && !e.getMessage().isEmpty(), String.valueOf(e));
  }
}
