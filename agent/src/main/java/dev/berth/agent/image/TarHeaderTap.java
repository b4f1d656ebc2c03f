package dev.berth.agent.image;

import dev.berth.agent.BerthException;
import java.io.ByteArrayOutputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Follows the block structure of the tar stream that passes through it to commons-compress,
 * for two things commons-compress does not give:
 *
 * <ul>
 *   <li>a bound on metadata entries (PAX {@code x}/{@code g}, GNU long names {@code L}/{@code
 *       K}), which the parser holds in memory: a larger one is refused before it is read;
 *   <li>the raw bytes of {@code SCHILY.xattr.*} PAX values: commons-compress decodes them as
 *       UTF-8, which mangles binary values such as {@code security.capability}.
 * </ul>
 *
 * {@link #skip} reads, so every byte passes through {@link #read} (and the streams below).
 */
final class TarHeaderTap extends FilterInputStream {
  /** Larger than any path (4 KiB) or xattr value (64 KiB) the kernel takes. */
  static final int MAX_METADATA_BYTES = 1 << 20;
  private static final int BLOCK = 512;
  private static final String XATTR = "SCHILY.xattr.";

  private final byte[] block = new byte[BLOCK];
  private int blockFill;
  private boolean sparseExtension; // the blocks being collected are old GNU sparse extensions
  private long skipRemaining; // data and padding of the current entry
  private ByteArrayOutputStream capture; // the data of the current PAX entry
  private long captureRemaining;
  private long sizeOverride = -1; // a PAX "size" record for the next entry
  private Map<String, byte[]> latestXattrs = Map.of();

  TarHeaderTap(InputStream in) {
    super(in);
  }

  /** The raw xattrs of the last PAX header seen, forgotten once taken. */
  Map<String, byte[]> takeXattrs() {
    Map<String, byte[]> x = latestXattrs;
    latestXattrs = Map.of();
    return x;
  }

  @Override
  public int read() throws IOException {
    int b = in.read();
    if (b >= 0) {
      observe(new byte[] {(byte) b}, 0, 1);
    }
    return b;
  }

  @Override
  public int read(byte[] buf, int off, int len) throws IOException {
    int n = in.read(buf, off, len);
    if (n > 0) {
      observe(buf, off, n);
    }
    return n;
  }

  @Override
  public long skip(long n) throws IOException {
    byte[] buf = new byte[8192];
    long done = 0;
    while (done < n) {
      int r = read(buf, 0, (int) Math.min(buf.length, n - done));
      if (r < 0) {
        break;
      }
      done += r;
    }
    return done;
  }

  @Override
  public boolean markSupported() {
    return false;
  }

  private void observe(byte[] buf, int off, int len) {
    while (len > 0) {
      if (skipRemaining > 0) {
        int k = (int) Math.min(len, skipRemaining);
        if (capture != null && captureRemaining > 0) {
          int c = (int) Math.min(k, captureRemaining);
          capture.write(buf, off, c);
          captureRemaining -= c;
          if (captureRemaining == 0) {
            endOfPax(capture.toByteArray());
            capture = null;
          }
        }
        skipRemaining -= k;
        off += k;
        len -= k;
        continue;
      }
      int k = Math.min(len, BLOCK - blockFill);
      System.arraycopy(buf, off, block, blockFill, k);
      blockFill += k;
      off += k;
      len -= k;
      if (blockFill == BLOCK) {
        blockFill = 0;
        if (sparseExtension) {
          sparseExtension = block[504] != 0;
        } else {
          header();
        }
      }
    }
  }

  private void header() {
    long size = parseSize();
    byte type = block[156];
    switch (type) {
      case 'x', 'X', 'g', 'L', 'K' -> {
        if (size > MAX_METADATA_BYTES) {
          throw BerthException.invalid("the layer has a tar metadata entry (type " + (char) type + ") of " + size
              + " bytes, more than the " + MAX_METADATA_BYTES + " allowed");
        }
        if (type == 'x' || type == 'X') {
          capture = new ByteArrayOutputStream((int) size);
          captureRemaining = size;
          if (size == 0) {
            capture = null;
          }
        }
      }
      default -> {
        if (isZeroBlock()) {
          return;
        }
        if (sizeOverride >= 0) {
          size = sizeOverride;
          sizeOverride = -1;
        }
        sparseExtension = type == 'S' && block[482] != 0;
      }
    }
    skipRemaining = (size + BLOCK - 1) / BLOCK * BLOCK;
  }

  private boolean isZeroBlock() {
    for (byte b : block) {
      if (b != 0) {
        return false;
      }
    }
    return true;
  }

  /** The size field: octal, or base-256 when the high bit of its first byte is set. */
  private long parseSize() {
    long v = 0;
    if ((block[124] & 0x80) != 0) {
      for (int i = 125; i < 136; i++) {
        v = (v << 8) | (block[i] & 0xff);
      }
      return Math.max(v, 0);
    }
    int i = 124;
    while (i < 136 && block[i] == ' ') {
      i++;
    }
    for (; i < 136 && block[i] >= '0' && block[i] <= '7'; i++) {
      v = v * 8 + (block[i] - '0');
    }
    return v;
  }

  /** Records are "LENGTH KEY=VALUE\n"; the value is raw bytes. Malformed ones are left to commons-compress. */
  private void endOfPax(byte[] data) {
    Map<String, byte[]> xattrs = new LinkedHashMap<>();
    int pos = 0;
    while (pos < data.length) {
      int sp = pos;
      long length = 0;
      while (sp < data.length && data[sp] >= '0' && data[sp] <= '9' && length < data.length) {
        length = length * 10 + (data[sp++] - '0');
      }
      if (sp == pos || sp >= data.length || data[sp] != ' ' || length <= sp - pos + 1 || pos + length > data.length) {
        break;
      }
      int end = (int) (pos + length) - 1; // the newline
      int eq = sp + 1;
      while (eq < end && data[eq] != '=') {
        eq++;
      }
      if (eq < end) {
        String key = new String(data, sp + 1, eq - sp - 1, StandardCharsets.UTF_8);
        byte[] value = Arrays.copyOfRange(data, eq + 1, end);
        if (key.startsWith(XATTR)) {
          xattrs.put(key.substring(XATTR.length()), value);
        } else if (key.equals("size")) {
          try {
            sizeOverride = Long.parseLong(new String(value, StandardCharsets.US_ASCII));
          } catch (NumberFormatException e) {
            sizeOverride = -1;
          }
        }
      }
      pos += (int) length;
    }
    latestXattrs = xattrs;
  }
}
