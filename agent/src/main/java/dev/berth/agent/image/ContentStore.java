package dev.berth.agent.image;

import dev.berth.agent.AtomicFiles;
import dev.berth.agent.BerthException;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;

/**
 * Content-addressed blobs under {@code <root>/blobs/sha256/<hex>}, as in an OCI image layout.
 * A blob is streamed to a temporary file in the same directory while it is hashed, checked,
 * forced to disk, renamed into place and the directory synced: a blob under its final name is
 * always complete and matches its name, even after kill -9 or a power loss; temporaries
 * ({@code .tmp-*}) are removed by {@link #removeTemporaries}.
 *
 * <p>Thread-safe for distinct writers; deciding which blobs may be deleted is the caller's.
 */
final class ContentStore {
  static final String TEMP_PREFIX = ".tmp-";
  private static final Pattern DIGEST = Pattern.compile("sha256:[a-f0-9]{64}");

  private final Path dir;

  ContentStore(Path root) throws IOException {
    this.dir = Files.createDirectories(root.resolve("blobs").resolve("sha256"));
  }

  /** A sha256 digest description of some content. */
  record Descriptor(String digest, long size) {}

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }

  static String digestOf(MessageDigest md) {
    return "sha256:" + HexFormat.of().formatHex(md.digest());
  }

  static String hex(String digest) {
    if (!DIGEST.matcher(digest).matches()) {
      throw new IllegalArgumentException("not a sha256 digest: " + digest);
    }
    return digest.substring("sha256:".length());
  }

  Path path(String digest) {
    return dir.resolve(hex(digest));
  }

  boolean contains(String digest) {
    return Files.isRegularFile(path(digest));
  }

  byte[] read(String digest) throws IOException {
    return Files.readAllBytes(path(digest));
  }

  /** Stores {@code content} (if not there yet) and returns its descriptor. */
  Descriptor put(byte[] content) {
    try (Writer w = writer()) {
      w.write(content);
      w.seal(null);
      return w.install();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  void delete(String digest) throws IOException {
    Files.deleteIfExists(path(digest));
  }

  /** The digests of all complete blobs. */
  Set<String> digests() throws IOException {
    Set<String> all = new TreeSet<>();
    try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
      for (Path p : s) {
        String name = p.getFileName().toString();
        if (DIGEST.matcher("sha256:" + name).matches()) {
          all.add("sha256:" + name);
        }
      }
    }
    return all;
  }

  /** Deletes the temporaries of writers that never finished (a crash): call before any writer exists. */
  void removeTemporaries() throws IOException {
    try (DirectoryStream<Path> s = Files.newDirectoryStream(dir, TEMP_PREFIX + "*")) {
      for (Path p : s) {
        Files.deleteIfExists(p);
      }
    }
  }

  /** A new blob, written to a temporary file; {@link #close} without {@link #install} discards it. */
  Writer writer() throws IOException {
    Path tmp = dir.resolve(TEMP_PREFIX + Long.toHexString(ThreadLocalRandom.current().nextLong()));
    return new Writer(tmp, FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE));
  }

  /**
   * Writes one blob: write, then {@link #seal} (fsync), then {@link #install} (fast: rename).
   * A large blob is written back to disk while it is written ({@link Writeback}), so that the
   * fsync of the seal is short.
   */
  final class Writer extends OutputStream {
    private final Path tmp;
    private final FileChannel channel;
    private final MessageDigest md = sha256();
    private final Writeback writeback;
    private long size;
    private Descriptor sealed;
    private boolean done;

    private Writer(Path tmp, FileChannel channel) {
      this.tmp = tmp;
      this.channel = channel;
      this.writeback = new Writeback(channel);
    }

    @Override
    public void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      if (sealed != null) {
        throw new IOException("blob already sealed");
      }
      md.update(b, off, len);
      ByteBuffer buf = ByteBuffer.wrap(b, off, len);
      while (buf.hasRemaining()) {
        channel.write(buf);
      }
      size += len;
      writeback.wrote(len);
    }

    /** The bytes written so far. */
    long size() {
      return size;
    }

    /** Discards what was written, to write the blob again from its start. */
    void restart() throws IOException {
      if (sealed != null) {
        throw new IOException("blob already sealed");
      }
      channel.truncate(0);
      channel.position(0);
      md.reset();
      size = 0;
      writeback.reset();
    }

    /** Reads the sealed (complete and checked) content before it is installed. */
    java.io.InputStream openSealed() throws IOException {
      if (sealed == null || done) {
        throw new IllegalStateException("only a sealed blob not yet installed can be read");
      }
      return Files.newInputStream(tmp);
    }

    /**
     * Forces the content to disk and checks it: its size on disk, and its digest when
     * {@code expected} is not null.
     *
     * @throws BerthException INVALID_ARGUMENT when the content does not match {@code expected}
     */
    Descriptor seal(String expected) throws IOException {
      if (sealed == null) {
        writeback.await();
        channel.force(true);
        channel.close();
        String digest = digestOf(md);
        if (Files.size(tmp) != size) {
          throw new IOException("blob " + tmp + " has " + Files.size(tmp) + " bytes on disk, " + size + " were written");
        }
        if (expected != null && !expected.equals(digest)) {
          throw BerthException.invalid("content does not match its digest: expected " + expected + ", got " + digest);
        }
        sealed = new Descriptor(digest, size);
      }
      return sealed;
    }

    /** Renames the sealed blob into place (or drops it when the blob exists already). */
    Descriptor install() throws IOException {
      if (sealed == null) {
        throw new IllegalStateException("seal the blob first");
      }
      Path target = path(sealed.digest());
      if (Files.isRegularFile(target)) {
        Files.deleteIfExists(tmp);
      } else {
        try {
          AtomicFiles.rename(tmp, target);
        } catch (UncheckedIOException e) {
          throw e.getCause();
        }
      }
      done = true;
      return sealed;
    }

    /** Discards the blob unless it was installed. */
    @Override
    public void close() throws IOException {
      if (!done) {
        done = true;
        writeback.await();
        channel.close();
        Files.deleteIfExists(tmp);
      }
    }
  }
}
