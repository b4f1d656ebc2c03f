package dev.berth.agent.metrics;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

/**
 * gzip of a large exposition on several CPUs at once, as one ordinary gzip member that any
 * decoder reads. The text is cut into parts; each part is deflated on its own thread, primed
 * with the 32 KiB of text before it as the dictionary (so a repeat across a cut is still found),
 * and ended with a sync flush, which ends its output on a byte boundary without ending the
 * stream; the last part ends the stream. The parts' outputs, one after the other, are then one
 * deflate stream, between a gzip header and a trailer with the CRC-32 and length of the whole
 * text (pigz's method).
 *
 * <p>Worth it for the exposition of a thousand containers, 3 MB of text that the fastest level
 * still takes some 20 ms to compress on one CPU; below {@link #MIN_PART} bytes a part it is not,
 * and the text is deflated in one piece.
 */
final class ParallelGzip {
  private ParallelGzip() {}

  /** Below this many bytes a part, the hand-over to another thread costs more than it saves. */
  static final int MIN_PART = 256 << 10;
  /** deflate's window: a part finds repeats of at most this much of the text before it. */
  private static final int WINDOW = 32 << 10;
  /** GZIPOutputStream's header: magic, deflate, no flags, no time, no extra flags, OS unknown. */
  private static final byte[] HEADER = {0x1f, (byte) 0x8b, Deflater.DEFLATED, 0, 0, 0, 0, 0, 0, (byte) 0xff};

  /**
   * {@code text[0, length)} gzipped at the fastest level, in up to {@code parts} parts of which
   * all but the first are deflated on {@code pool} while the calling thread deflates the first.
   */
  static byte[] gzip(byte[] text, int length, int parts, Executor pool) {
    int n = Math.max(1, Math.min(parts, length / MIN_PART));
    int[] cuts = new int[n + 1];
    for (int i = 1; i <= n; i++) {
      cuts[i] = (int) ((long) length * i / n);
    }
    List<CompletableFuture<byte[]>> rest = new ArrayList<>();
    for (int i = 1; i < n; i++) {
      int from = cuts[i];
      int to = cuts[i + 1];
      boolean last = i == n - 1;
      rest.add(CompletableFuture.supplyAsync(() -> deflate(text, from, to, last), pool));
    }
    byte[] first = deflate(text, 0, cuts[1], n == 1);
    CRC32 crc = new CRC32();
    crc.update(text, 0, length);
    ByteArrayOutputStream out = new ByteArrayOutputStream(first.length * n + 32);
    out.writeBytes(HEADER);
    out.writeBytes(first);
    for (CompletableFuture<byte[]> part : rest) {
      out.writeBytes(part.join());
    }
    writeIntLe(out, (int) crc.getValue());
    writeIntLe(out, length); // ISIZE is the length modulo 2^32
    return out.toByteArray();
  }

  /** Raw deflate of {@code text[from, to)}, primed with the window before it; the stream's end only if {@code last}. */
  private static byte[] deflate(byte[] text, int from, int to, boolean last) {
    Deflater d = new Deflater(Deflater.BEST_SPEED, true);
    try {
      if (from > 0) {
        int dict = Math.min(WINDOW, from);
        d.setDictionary(text, from - dict, dict);
      }
      d.setInput(text, from, to - from);
      ByteArrayOutputStream out = new ByteArrayOutputStream((to - from) / 8 + 64);
      byte[] buf = new byte[64 << 10];
      if (last) {
        d.finish();
        while (!d.finished()) {
          out.write(buf, 0, d.deflate(buf));
        }
      } else {
        // A sync flush ends the part's output on a byte boundary: the next part's blocks follow it.
        int k;
        do {
          k = d.deflate(buf, 0, buf.length, Deflater.SYNC_FLUSH);
          out.write(buf, 0, k);
        } while (k == buf.length);
      }
      return out.toByteArray();
    } finally {
      d.end();
    }
  }

  private static void writeIntLe(ByteArrayOutputStream out, int v) {
    out.write(v);
    out.write(v >>> 8);
    out.write(v >>> 16);
    out.write(v >>> 24);
  }
}
