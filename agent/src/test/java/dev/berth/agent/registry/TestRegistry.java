package dev.berth.agent.registry;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real registry for tests: Debian's {@code docker-registry} (distribution 2.x) serving a
 * directory on 127.0.0.1 and a free port, optionally with htpasswd basic auth. {@link #close}
 * stops it (and waits for it), whatever happened.
 */
final class TestRegistry implements AutoCloseable {
  static final Path BINARY = Path.of("/usr/bin/docker-registry");

  private final Process process;
  private final int port;
  private final Path storage;
  private final Path log;

  private TestRegistry(Process process, int port, Path storage, Path log) {
    this.process = process;
    this.port = port;
    this.storage = storage;
    this.log = log;
  }

  static boolean available() {
    return Files.isExecutable(BINARY);
  }

  /**
   * Starts a registry keeping its data and config under {@code dir}; {@code htpasswd}, when not
   * null, is a bcrypt htpasswd file the registry then demands basic auth from.
   */
  static TestRegistry start(Path dir, Path htpasswd) throws IOException, InterruptedException {
    Files.createDirectories(dir);
    Path storage = Files.createDirectories(dir.resolve("storage"));
    IOException last = null;
    for (int attempt = 0; attempt < 3; attempt++) { // the free port may be taken meanwhile
      int port = freePort();
      Path config = dir.resolve("config.yml");
      Files.writeString(config, "version: 0.1\n"
          + "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
          + "storage:\n  filesystem:\n    rootdirectory: " + storage + "\n  delete:\n    enabled: true\n"
          + "http:\n  addr: 127.0.0.1:" + port + "\n"
          + (htpasswd == null ? "" : "auth:\n  htpasswd:\n    realm: berth-test\n    path: " + htpasswd + "\n"));
      Path log = dir.resolve("registry-" + attempt + ".log");
      Process p = new ProcessBuilder(BINARY.toString(), "serve", config.toString())
          .redirectErrorStream(true).redirectOutput(log.toFile()).start();
      TestRegistry r = new TestRegistry(p, port, storage, log);
      try {
        r.awaitReady();
        return r;
      } catch (IOException e) {
        r.close();
        last = e;
      }
    }
    throw last;
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  private void awaitReady() throws IOException, InterruptedException {
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(1)).build();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
    while (System.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new IOException("docker-registry exited with " + process.exitValue() + ": " + log());
      }
      try {
        HttpResponse<Void> r = http.send(HttpRequest.newBuilder(URI.create("http://" + host() + "/v2/"))
            .timeout(Duration.ofSeconds(1)).build(), HttpResponse.BodyHandlers.discarding());
        if (r.statusCode() == 200 || r.statusCode() == 401) {
          return;
        }
      } catch (IOException e) {
        // not listening yet
      }
      Thread.sleep(50);
    }
    throw new IOException("docker-registry did not answer GET /v2/ in 15 s: " + log());
  }

  private String log() {
    try {
      return Files.readString(log, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  int port() {
    return port;
  }

  /** {@code 127.0.0.1:PORT}, the registry part of references to it. */
  String host() {
    return "127.0.0.1:" + port;
  }

  /** The file the registry keeps the blob {@code digest} in. */
  Path blobData(String digest) {
    String hex = digest.substring("sha256:".length());
    return storage.resolve(Path.of("docker", "registry", "v2", "blobs", "sha256", hex.substring(0, 2), hex, "data"));
  }

  /** The registry's storage directory. */
  Path storage() {
    return storage;
  }

  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }

  /** Runs a command to its end (at most 2 minutes), failing with its output when it fails. */
  static String run(List<String> command) throws IOException, InterruptedException {
    Path out = Files.createTempFile("berth-test-cmd", ".log");
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile()).start();
      boolean finished;
      try {
        finished = p.waitFor(120, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        p.destroyForcibly();
        throw e;
      }
      if (!finished) {
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
        throw new IOException("timed out: " + String.join(" ", command));
      }
      String text = Files.readString(out, StandardCharsets.UTF_8);
      if (p.exitValue() != 0) {
        throw new IOException(String.join(" ", command) + " exited with " + p.exitValue() + ": " + text);
      }
      return text;
    } finally {
      Files.deleteIfExists(out);
    }
  }
}
