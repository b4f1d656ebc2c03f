package dev.berth.agent.registry;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A small HTTP server on 127.0.0.1 in front of a {@link TestRegistry}: forwards every request
 * and records it, and can delay blob answers and uploads (counting how many overlap), cut one blob answer short, pretend the registry
 * does not support ranges, and demand bearer tokens that its own token service ({@code /token}) hands out for a username and password.
 */
final class TestProxy implements AutoCloseable {
  static final String SERVICE = "berth-test-registry";

  /** One forwarded request: method, path, raw query ("" if none) and the headers of interest. */
  record Request(String method, String path, String query, String range, String authorization) {
    boolean isBlobGet() {
      return method.equals("GET") && path.contains("/blobs/sha256:");
    }

    /** A request that carries blob content: a PATCH or PUT of an upload session. */
    boolean isUpload() {
      return (method.equals("PUT") || method.equals("PATCH")) && path.contains("/blobs/uploads/");
    }
  }

  /** One request to the token service, its query parameters decoded. */
  record TokenRequest(Map<String, String> query, String authorization) {}

  private final HttpServer server;
  private final ExecutorService executor = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "test-proxy");
    t.setDaemon(true);
    return t;
  });
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .followRedirects(HttpClient.Redirect.NEVER).build();
  private final String upstream;
  private final List<Request> requests = new CopyOnWriteArrayList<>();
  private final List<TokenRequest> tokenRequests = new CopyOnWriteArrayList<>();
  private final Set<String> tokens = ConcurrentHashMap.newKeySet();
  private final AtomicLong blobDelayMillis = new AtomicLong();
  private final AtomicLong uploadDelayMillis = new AtomicLong();
  private final AtomicInteger uploadsInFlight = new AtomicInteger();
  private final AtomicInteger maxUploadsInFlight = new AtomicInteger();
  private final AtomicLong cutAfter = new AtomicLong(-1);
  private volatile String cutDigest;
  private volatile long stallMillis;
  private volatile Map<String, String> users;
  private volatile boolean accessTokenField;
  private volatile boolean noRanges;

  TestProxy(String upstreamHost) throws IOException {
    this.upstream = "http://" + upstreamHost;
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.setExecutor(executor);
    server.createContext("/v2/", this::forward);
    server.createContext("/token", this::token);
    server.start();
  }

  /** {@code 127.0.0.1:PORT}, the registry part of references through the proxy. */
  String host() {
    return "127.0.0.1:" + server.getAddress().getPort();
  }

  List<Request> requests() {
    return List.copyOf(requests);
  }

  List<Request> blobGets(String digest) {
    return requests.stream().filter(r -> r.isBlobGet() && r.path().endsWith("/blobs/" + digest)).toList();
  }

  long blobGets() {
    return requests.stream().filter(Request::isBlobGet).count();
  }

  List<TokenRequest> tokenRequests() {
    return List.copyOf(tokenRequests);
  }

  void clear() {
    requests.clear();
    tokenRequests.clear();
  }

  /** Holds every blob answer back this long. */
  void delayBlobs(Duration delay) {
    blobDelayMillis.set(delay.toMillis());
  }

  /** Holds every upload (PATCH or PUT of blob content) this long before forwarding it. */
  void delayUploads(Duration delay) {
    uploadDelayMillis.set(delay.toMillis());
  }

  /** The most uploads that were in the proxy at the same time. */
  int maxConcurrentUploads() {
    return maxUploadsInFlight.get();
  }

  /** The next full GET of the blob {@code digest} gets its headers and {@code bytes} bytes, then the connection breaks. */
  void cutNextBlob(String digest, long bytes) {
    stallNextBlob(digest, bytes, Duration.ZERO);
  }

  /** Like {@link #cutNextBlob}, but the answer stalls for {@code stall} before the connection breaks. */
  void stallNextBlob(String digest, long bytes, Duration stall) {
    stallMillis = stall.toMillis();
    cutDigest = digest;
    cutAfter.set(bytes);
  }

  /**
   * From now on, the registry seems not to support ranges: Range headers are not forwarded
   * (the answer is all of the blob, 200) and Accept-Ranges is not passed on, so a broken
   * download starts over instead of resuming.
   */
  void withoutRanges() {
    noRanges = true;
  }

  /**
   * From now on, /v2/ wants a bearer token from {@code /token}, which hands them out for these
   * users (basic auth) only; {@code accessToken} makes it answer {@code access_token} instead
   * of {@code token}.
   */
  void requireBearer(Map<String, String> users, boolean accessToken) {
    this.users = Map.copyOf(users);
    this.accessTokenField = accessToken;
  }

  private void forward(HttpExchange ex) throws IOException {
    boolean uploading = false;
    try {
      String path = ex.getRequestURI().getRawPath();
      String auth = ex.getRequestHeaders().getFirst("Authorization");
      String query = ex.getRequestURI().getRawQuery();
      Request req = new Request(ex.getRequestMethod(), path, query == null ? "" : query,
          ex.getRequestHeaders().getFirst("Range"), auth);
      requests.add(req);
      if (users != null && (auth == null || !auth.startsWith("Bearer ") || !tokens.contains(auth.substring(7)))) {
        String repo = path.startsWith("/v2/") && path.lastIndexOf('/') > 4
            ? path.substring(4, path.lastIndexOf('/', path.lastIndexOf('/') - 1)) : "";
        ex.getResponseHeaders().add("WWW-Authenticate", "Bearer realm=\"http://" + host() + "/token\",service=\""
            + SERVICE + "\"" + (repo.isEmpty() ? "" : ",scope=\"repository:" + repo + ":pull\""));
        send(ex, 401, "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}");
        return;
      }
      if (req.isBlobGet() && blobDelayMillis.get() > 0) {
        Thread.sleep(blobDelayMillis.get());
      }
      if (req.isUpload()) {
        int now = uploadsInFlight.incrementAndGet();
        maxUploadsInFlight.accumulateAndGet(now, Math::max);
        uploading = true;
        Thread.sleep(uploadDelayMillis.get());
      }
      byte[] requestBody = ex.getRequestBody().readAllBytes(); // pushes send bodies
      HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(upstream + ex.getRequestURI()))
          .method(ex.getRequestMethod(), requestBody.length == 0 && !Set.of("PUT", "POST", "PATCH")
              .contains(ex.getRequestMethod()) ? HttpRequest.BodyPublishers.noBody()
              : HttpRequest.BodyPublishers.ofByteArray(requestBody));
      for (String h : List.of("Accept", "Range", "Content-Type", "Content-Range")) {
        String v = ex.getRequestHeaders().getFirst(h);
        if (v != null && !(noRanges && h.equals("Range"))) {
          b.header(h, v);
        }
      }
      HttpResponse<InputStream> r = http.send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
      r.headers().map().forEach((k, v) -> {
        if (!Set.of("content-length", "transfer-encoding", "connection", "date").contains(k.toLowerCase())
            && !(noRanges && k.equalsIgnoreCase("Accept-Ranges"))) {
          // The registry's upload locations point at itself: keep them on the proxy.
          v.forEach(value -> ex.getResponseHeaders().add(k, k.equalsIgnoreCase("Location")
              ? value.replace(upstream, "http://" + host()) : value));
        }
      });
      long length = r.headers().firstValueAsLong("Content-Length").orElse(-1);
      boolean head = ex.getRequestMethod().equals("HEAD");
      ex.sendResponseHeaders(r.statusCode(), head || length == 0 ? -1 : length < 0 ? 0 : length);
      try (InputStream in = r.body(); OutputStream out = ex.getResponseBody()) {
        long limit = -1;
        if (req.isBlobGet() && (req.range() == null || noRanges) && path.endsWith("/blobs/" + cutDigest)) {
          limit = cutAfter.getAndSet(-1);
          if (limit >= 0) {
            cutDigest = null;
          }
        }
        if (limit < 0) {
          in.transferTo(out);
        } else {
          out.write(in.readNBytes((int) limit));
          out.flush();
          Thread.sleep(stallMillis);
          throw new IOException("cut short on purpose"); // the exchange closes the connection
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      if (uploading) {
        uploadsInFlight.decrementAndGet();
      }
      ex.close();
    }
  }

  private void token(HttpExchange ex) throws IOException {
    try {
      Map<String, String> query = new LinkedHashMap<>();
      String raw = ex.getRequestURI().getRawQuery();
      for (String kv : raw == null ? new String[0] : raw.split("&")) {
        int eq = kv.indexOf('=');
        query.put(URLDecoder.decode(eq < 0 ? kv : kv.substring(0, eq), StandardCharsets.UTF_8),
            eq < 0 ? "" : URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8));
      }
      String auth = ex.getRequestHeaders().getFirst("Authorization");
      tokenRequests.add(new TokenRequest(query, auth));
      Map<String, String> known = users;
      boolean ok = false;
      if (known != null && auth != null && auth.startsWith("Basic ")) {
        String[] up = new String(Base64.getDecoder().decode(auth.substring(6)), StandardCharsets.UTF_8).split(":", 2);
        ok = up.length == 2 && up[1].equals(known.get(up[0]));
      }
      if (!ok) {
        send(ex, 401, "{\"details\":\"incorrect username or password\"}");
        return;
      }
      String token = UUID.randomUUID().toString();
      tokens.add(token);
      send(ex, 200, "{\"" + (accessTokenField ? "access_token" : "token") + "\":\"" + token
          + "\",\"expires_in\":300,\"issued_at\":\"2026-01-01T00:00:00Z\"}");
    } finally {
      ex.close();
    }
  }

  private static void send(HttpExchange ex, int status, String json) throws IOException {
    byte[] body = json.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", "application/json");
    ex.sendResponseHeaders(status, body.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(body);
    }
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
    try {
      executor.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
