package dev.berth.agent.image;

import dev.berth.agent.BerthException;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;

/** How a layer tar is compressed, told by its first bytes: not at all, gzip or zstd. */
enum Compression {
  NONE("application/vnd.oci.image.layer.v1.tar"),
  GZIP("application/vnd.oci.image.layer.v1.tar+gzip"),
  ZSTD("application/vnd.oci.image.layer.v1.tar+zstd");

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
   * @throws BerthException INVALID_ARGUMENT for a compression Berth does not read (bzip2, xz)
   */
  static Compression detect(BufferedInputStream in) throws IOException {
    return detect(in, "the tar", "only plain, gzip- or zstd-compressed tars can be imported");
  }

  /**
   * Like {@link #detect(BufferedInputStream)}; the refusal reads "{@code subject} is
   * xz-compressed: {@code supported}".
   */
  static Compression detect(BufferedInputStream in, String subject, String supported) throws IOException {
    byte[] head = new byte[6];
    in.mark(head.length);
    int n = in.readNBytes(head, 0, head.length);
    in.reset();
    if (n >= 2 && head[0] == (byte) 0x1f && head[1] == (byte) 0x8b) {
      return GZIP;
    }
    if (n >= 4 && head[0] == 0x28 && head[1] == (byte) 0xb5 && head[2] == 0x2f && head[3] == (byte) 0xfd) {
      return ZSTD;
    }
    String other = n >= 3 && head[0] == 'B' && head[1] == 'Z' && head[2] == 'h' ? "bzip2"
        : n >= 6 && head[0] == (byte) 0xfd && head[1] == '7' && head[2] == 'z' && head[3] == 'X' && head[4] == 'Z' ? "xz"
        : null;
    if (other != null) {
      throw BerthException.invalid(subject + " is " + other + "-compressed: " + supported);
    }
    return NONE;
  }

  /**
   * The uncompressed bytes of {@code in}; gzip members, like zstd frames, are read one after
   * another until the end. Closing the result closes {@code in}. A corrupt stream is an
   * IOException when read.
   */
  InputStream decompress(InputStream in) throws IOException {
    return switch (this) {
      case NONE -> in;
      case GZIP -> GzipCompressorInputStream.builder().setInputStream(in).setDecompressConcatenated(true).get();
      // zstd-jni's stream (no finalizer: closed by the caller) decodes frame after frame.
      case ZSTD -> new com.github.luben.zstd.ZstdInputStreamNoFinalizer(in);
    };
  }
}
