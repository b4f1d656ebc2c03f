package dev.berth.agent.image;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.function.Consumer;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

/** Builds tars for tests, names kept exactly as given (absolute, with "..", …). */
final class Tars {
  static final FileTime MTIME = FileTime.from(Instant.parse("2020-01-02T03:04:05Z"));

  private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
  private final TarArchiveOutputStream tar = new TarArchiveOutputStream(bytes);

  Tars() {
    tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
    tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
  }

  static Tars tar() {
    return new Tars();
  }

  Tars dir(String name, int mode) {
    return entry(name, TarConstants.LF_DIR, mode, null, e -> {});
  }

  Tars file(String name, String content) {
    return file(name, content, 0644, e -> {});
  }

  Tars file(String name, String content, int mode, Consumer<TarArchiveEntry> tweak) {
    return entry(name, TarConstants.LF_NORMAL, mode, content.getBytes(StandardCharsets.UTF_8), tweak);
  }

  Tars file(String name, byte[] content) {
    return entry(name, TarConstants.LF_NORMAL, 0644, content, e -> {});
  }

  Tars symlink(String name, String target) {
    return entry(name, TarConstants.LF_SYMLINK, 0777, null, e -> e.setLinkName(target));
  }

  Tars hardlink(String name, String target) {
    return entry(name, TarConstants.LF_LINK, 0644, null, e -> e.setLinkName(target));
  }

  Tars device(String name, byte type, int mode, int major, int minor) {
    return entry(name, type, mode, null, e -> {
      e.setDevMajor(major);
      e.setDevMinor(minor);
    });
  }

  Tars entry(String name, byte type, int mode, byte[] content, Consumer<TarArchiveEntry> tweak) {
    TarArchiveEntry e = new TarArchiveEntry(name, type, true);
    e.setMode(mode);
    e.setModTime(MTIME);
    e.setSize(content == null ? 0 : content.length);
    tweak.accept(e);
    try {
      tar.putArchiveEntry(e);
      if (e.isGlobalPaxHeader()) {
        return this; // written whole from its PAX headers
      }
      if (content != null) {
        tar.write(content);
      }
      tar.closeArchiveEntry();
    } catch (IOException x) {
      throw new UncheckedIOException(x);
    }
    return this;
  }

  /** A PAX extended header ('x') whose records are written byte for byte, for the next entry. */
  Tars rawPax(byte[]... records) {
    ByteArrayOutputStream data = new ByteArrayOutputStream();
    for (byte[] r : records) {
      data.writeBytes(r);
    }
    return entry("./PaxHeaders/x", TarConstants.LF_PAX_EXTENDED_HEADER_LC, 0644, data.toByteArray(), e -> {});
  }

  /** One PAX record, "LENGTH key=value\n", with the value as raw bytes. */
  static byte[] paxRecord(String key, byte[] value) {
    int body = 1 + key.length() + 1 + value.length + 1; // space, key, '=', value, newline
    int length = body + Integer.toString(body).length();
    if (Integer.toString(length).length() != Integer.toString(body).length()) {
      length++;
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes((length + " " + key + "=").getBytes(StandardCharsets.UTF_8));
    out.writeBytes(value);
    out.write('\n');
    return out.toByteArray();
  }

  byte[] build() {
    try {
      tar.close();
    } catch (IOException x) {
      throw new UncheckedIOException(x);
    }
    return bytes.toByteArray();
  }

  static byte[] gzip(byte[] plain) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
      gz.write(plain);
    } catch (IOException x) {
      throw new UncheckedIOException(x);
    }
    return out.toByteArray();
  }
}
