package dev.berth.agent.image;

import dev.berth.agent.BerthException;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;

/** How a layer tar is compressed, told by its first bytes. */
enum Compression {
  NONE("application/vnd.oci.image.layer.v1.tar"),
  GZIP("application/vnd.oci.image.layer.v1.tar+gzip");

  private final String mediaType;

  Compression(String mediaType) {
    this.mediaType = mediaType;
  }

  /** The OCI media type of a layer blob compressed this way. */
  String mediaType() {
    return mediaType;
  }

  /**
   * Looks at the first bytes of {@code in} without consuming them.
   *
   * @throws BerthException INVALID_ARGUMENT for a compression Berth does not read (bzip2, xz, zstd)
   */
  static Compression detect(BufferedInputStream in) throws IOException {
    return detect(in, "the tar", "only plain or gzip-compressed tars can be imported");
  }

  /**
   * Like {@link #detect(BufferedInputStream)}; the refusal reads "{@code subject} is
   * zstd-compressed: {@code supported}".
   */
  static Compression detect(BufferedInputStream in, String subject, String supported) throws IOException {
    byte[] head = new byte[6];
    in.mark(head.length);
    int n = in.readNBytes(head, 0, head.length);
    in.reset();
    if (n >= 2 && head[0] == (byte) 0x1f && head[1] == (byte) 0x8b) {
      return GZIP;
    }
    String other = n >= 3 && head[0] == 'B' && head[1] == 'Z' && head[2] == 'h' ? "bzip2"
        : n >= 6 && head[0] == (byte) 0xfd && head[1] == '7' && head[2] == 'z' && head[3] == 'X' && head[4] == 'Z' ? "xz"
        : n >= 4 && head[0] == 0x28 && head[1] == (byte) 0xb5 && head[2] == 0x2f && head[3] == (byte) 0xfd ? "zstd"
        : null;
    if (other != null) {
      throw BerthException.invalid(subject + " is " + other + "-compressed: " + supported);
    }
    return NONE;
  }

  /** The uncompressed bytes of {@code in}; gzip members are read one after another until the end. */
  InputStream decompress(InputStream in) throws IOException {
    return this == GZIP ? GzipCompressorInputStream.builder().setInputStream(in).setDecompressConcatenated(true).get() : in;
  }
}
