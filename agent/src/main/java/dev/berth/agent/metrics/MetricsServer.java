package dev.berth.agent.metrics;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.berth.agent.BerthException;
import dev.berth.agent.DaemonThreads;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.logging.Logger;

/**
 * Serves {@code GET /metrics} (Prometheus' text format, gzipped when the scraper accepts it)
 * on the JDK's own HTTP server, with two threads: scrapes are rare and a reading is cached.
 * Anything else is 404, and any method but GET and HEAD is 405.
 *
 * <p>No authentication: the default address is loopback. Container names and images are
 * visible to whoever can reach it, as with cAdvisor and docker's metrics-addr.
 */
public final class MetricsServer implements AutoCloseable {
  /** Port of docker's {@code --metrics-addr} examples, which Berth's dashboards and scrape configs assume. */
  public static final int DEFAULT_PORT = 9323;
  /** Loopback only: exposing the metrics to the network is a choice the operator makes. */
  public static final String DEFAULT_ADDRESS = "127.0.0.1:" + DEFAULT_PORT;
  private static final Logger LOG = Logger.getLogger(MetricsServer.class.getName());

  private final HttpServer server;
  private final ExecutorService executor;

  private MetricsServer(HttpServer server, ExecutorService executor) {
    this.server = server;
    this.executor = executor;
  }

  /**
   * Binds {@code address} and serves {@code metrics} until closed.
   *
   * @throws IOException when the address cannot be bound (in use, not local)
   */
  public static MetricsServer start(InetSocketAddress address, AgentMetrics metrics) throws IOException {
    HttpServer server = HttpServer.create(address, 16);
    ExecutorService executor = Executors.newFixedThreadPool(2, DaemonThreads.named("berth-metrics"));
    server.setExecutor(executor);
    server.createContext("/", exchange -> {
      try (exchange) {
        handle(exchange, metrics);
      } catch (IOException | RuntimeException e) {
        LOG.warning("serving " + exchange.getRequestURI() + ": " + e);
      }
    });
    server.start();
    return new MetricsServer(server, executor);
  }

  private static void handle(HttpExchange ex, AgentMetrics metrics) throws IOException {
    String method = ex.getRequestMethod();
    if (!ex.getRequestURI().getPath().equals("/metrics")) {
      reply(ex, 404, "not found: try /metrics\n");
      return;
    }
    if (!method.equals("GET") && !method.equals("HEAD")) {
      ex.getResponseHeaders().set("Allow", "GET, HEAD");
      reply(ex, 405, "method not allowed\n");
      return;
    }
    Text text = new Text();
    metrics.scrape(text);
    String accept = ex.getRequestHeaders().getFirst("Accept-Encoding");
    boolean gzip = accept != null && accept.contains("gzip");
    ex.getResponseHeaders().set("Content-Type", AgentMetrics.CONTENT_TYPE);
    if (gzip) {
      ex.getResponseHeaders().set("Content-Encoding", "gzip");
    }
    if (method.equals("HEAD")) {
      ex.sendResponseHeaders(200, -1);
      return;
    }
    if (gzip) {
      byte[] body = ParallelGzip.gzip(text.bytes(), text.size(), GZIP_PARTS, GZIP_POOL);
      ex.sendResponseHeaders(200, body.length);
      ex.getResponseBody().write(body);
    } else {
      ex.sendResponseHeaders(200, text.size());
      text.writeTo(ex.getResponseBody());
    }
  }

  /** The exposition's bytes as written, handed to the compressor without a copy. */
  private static final class Text extends ByteArrayOutputStream {
    Text() {
      super(1 << 16);
    }

    byte[] bytes() {
      return buf;
    }
  }

  /**
   * gzip at the fastest level ({@link ParallelGzip}), on every CPU: the exposition repeats each
   * container's labels on every line, so level 1 already shrinks it about 25 times (3.1 MB of text
   * for 1,000 containers to some 130 KiB) in a third of the time of the default level, and the
   * scrape is what waits.
   */
  private static final int GZIP_PARTS = Runtime.getRuntime().availableProcessors();
  /** A thread for each part but the caller's; idle ones end after a minute, and daemons: nothing to shut down. */
  private static final ExecutorService GZIP_POOL = gzipPool();

  private static ExecutorService gzipPool() {
    int threads = Math.max(1, GZIP_PARTS - 1);
    var pool = new java.util.concurrent.ThreadPoolExecutor(threads, threads, 60, java.util.concurrent.TimeUnit.SECONDS,
        new java.util.concurrent.LinkedBlockingQueue<>(), DaemonThreads.numbered("berth-metrics-gzip-"));
    pool.allowCoreThreadTimeOut(true);
    return pool;
  }

  private static void reply(HttpExchange ex, int code, String text) throws IOException {
    byte[] b = text.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
    ex.sendResponseHeaders(code, b.length);
    ex.getResponseBody().write(b);
  }

  /** Where it listens (the real port when 0 was asked for). */
  public InetSocketAddress address() {
    return server.getAddress();
  }

  /**
   * The address of {@code --metrics-addr}: {@code HOST:PORT} or {@code [V6]:PORT}; null for an
   * empty value (metrics off).
   *
   * @throws BerthException INVALID_ARGUMENT when it is not HOST:PORT or the host does not resolve
   */
  public static InetSocketAddress parse(String hostPort) {
    if (hostPort == null || hostPort.isBlank()) {
      return null;
    }
    int colon = hostPort.lastIndexOf(':');
    if (colon <= 0) {
      throw BerthException.invalid("invalid --metrics-addr \"" + hostPort + "\": expected HOST:PORT, e.g. " + DEFAULT_ADDRESS
          + ", or \"\" to turn metrics off");
    }
    String host = hostPort.substring(0, colon).replace("[", "").replace("]", "");
    int port;
    try {
      port = Integer.parseInt(hostPort.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw BerthException.invalid("invalid --metrics-addr \"" + hostPort + "\": the port is not a number");
    }
    if (port < 0 || port > 65535) {
      throw BerthException.invalid("invalid --metrics-addr \"" + hostPort + "\": the port is out of range");
    }
    InetSocketAddress addr = new InetSocketAddress(host, port);
    if (addr.isUnresolved()) {
      throw BerthException.invalid("invalid --metrics-addr \"" + hostPort + "\": cannot resolve " + host);
    }
    return addr;
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}
