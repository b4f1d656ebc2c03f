package dev.berth.agent.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import dev.berth.agent.BerthException;
import dev.berth.agent.DaemonThreads;
import dev.berth.agent.image.Ingest;
import dev.berth.agent.image.Reference;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.UnresolvedAddressException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLException;

/**
 * A client of the OCI distribution API (Docker registry HTTP API v2), for pulling and pushing
 * ({@link Pusher}): manifests, indexes and blobs, over the JDK's {@link HttpClient}; blob
 * downloads from plain-HTTP registries over {@link Http1Get}, which costs a third of the CPU.
 *
 * <ul>
 *   <li>HTTPS, except for insecure registries, which get plain HTTP: those named in the
 *       constructor (as {@code host} or {@code host:port}), and always {@code localhost},
 *       {@code 127.0.0.0/8} and {@code ::1}, as Docker has it. {@code docker.io} is reached at
 *       {@value #DOCKER_HUB_API}.
 *   <li>Auth: anonymous first; on a 401, basic auth with the credentials given, or the bearer
 *       token flow of the {@code WWW-Authenticate: Bearer realm=…,service=…,scope=…}
 *       challenge (the token service gets the credentials as basic auth, if any; credentials
 *       never go to a plain-HTTP token service of an HTTPS registry). Tokens are cached per
 *       registry, repository and credentials until shortly before they expire.
 *   <li>Every manifest request accepts the OCI manifest and index and the Docker schema 2
 *       manifest and manifest list. Manifests and small blobs are checked against their digest
 *       here; streamed blobs by the {@link Ingest.BlobSink} they are written to.
 *   <li>Retries: requests, a bounded number of times on I/O errors (not on a refused
 *       connection) and 5xx; blob downloads also when the connection breaks or stalls, resuming
 *       with a {@code Range} request when the registry supports it, else from the start.
 *       Redirects are followed (at most 5), without credentials when they lead elsewhere.
 * </ul>
 *
 * <p>Thread-safe; one client serves all pulls of an agent. Failures are {@link BerthException}s
 * naming the registry, the repository and the reason: NOT_FOUND (manifest or blob unknown),
 * FAILED_PRECONDITION (unauthorized or denied: "… (use berth login)"), UNAVAILABLE (cannot
 * connect, naming host:port; timeouts; 5xx), RESOURCE_EXHAUSTED (rate limited),
 * INVALID_ARGUMENT (content that does not match its digest, malformed answers). A thread
 * interrupted while waiting gets a {@link CancellationException}, its interrupt status set.
 */
public final class RegistryClient implements AutoCloseable {
  /** Docker Hub's API host: users name it {@code docker.io}. */
  public static final String DOCKER_HUB_API = "registry-1.docker.io";

  static final int MAX_MANIFEST_BYTES = 4 << 20;
  private static final int MAX_ERROR_BYTES = 64 << 10;
  private static final int MAX_TOKEN_BYTES = 1 << 20;
  /** Bytes of a blob read from the connection at most at once (see {@link #copy}). */
  private static final int BLOB_BUFFER = 256 << 10;
  private static final String USER_AGENT = "berth/0.1";
  private static final Pattern SHA256 = Pattern.compile("sha256:[a-f0-9]{64}");
  private static final Pattern IPV4 = Pattern.compile("(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})");
  private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-\\d+/(?:\\d+|\\*)");
  private static final ObjectMapper MAPPER = new ObjectMapper();

  /**
   * How patient the client is.
   *
   * @param requestTimeout until the response headers of one request arrive
   * @param readTimeout the longest a blob download may go without receiving a byte
   * @param requestAttempts tries of a manifest, small blob or token request
   * @param blobAttempts tries of a blob download
   * @param backoff the wait before the second try, doubled for each further one (at most 8 s)
   */
  record Settings(Duration connectTimeout, Duration requestTimeout, Duration readTimeout, int requestAttempts,
      int blobAttempts, Duration backoff) {
    static final Settings DEFAULT =
        new Settings(Duration.ofSeconds(30), Duration.ofSeconds(60), Duration.ofSeconds(60), 3, 5, Duration.ofMillis(500));
  }

  /**
   * A manifest or index as the registry served it, verified against its digest.
   *
   * @param digest the sha256 of {@code content}
   * @param mediaType the Content-Type the registry gave (may be empty)
   */
  public record Manifest(String digest, String mediaType, byte[] content) {}

  /**
   * Where a repository is: the registry as users name it, and the API's base URI; {@code
   * action} ("pull" or "push") is how refusals read, and {@code scopes}, when not null, the
   * token scopes asked for (else {@code repository:PATH:pull}, or the challenge's).
   */
  record Repo(String registry, String path, URI base, String action, List<String> scopes) {
    Repo(String registry, String path, URI base) {
      this(registry, path, base, "pull", null);
    }

    String where() {
      return "(registry " + registry + ", repository " + path + ")";
    }

    String hostPort() {
      return hostPort(base);
    }

    static String hostPort(URI uri) {
      int port = uri.getPort() != -1 ? uri.getPort() : uri.getScheme().equals("https") ? 443 : 80;
      return uri.getHost() + ":" + port;
    }
  }

  private record Token(String value, Duration ttl) {}

  private final Set<String> insecure;
  private final Settings settings;
  private final HttpClient http;
  private final ScheduledExecutorService watchdog;
  private final Cache<String, Token> tokens;
  /** Registries that asked for basic auth: credentials are sent to them without waiting for a 401. */
  private final Set<String> basicRegistries = ConcurrentHashMap.newKeySet();

  /**
   * @param insecureRegistries registries ({@code host} or {@code host:port}, as in references)
   *     to reach over plain HTTP, besides the loopback ones
   */
  public RegistryClient(Set<String> insecureRegistries) {
    this(insecureRegistries, Settings.DEFAULT);
  }

  RegistryClient(Set<String> insecureRegistries, Settings settings) {
    this.insecure = Set.copyOf(insecureRegistries);
    this.settings = settings;
    this.http = HttpClient.newBuilder()
        .connectTimeout(settings.connectTimeout())
        .followRedirects(HttpClient.Redirect.NEVER)
        .build();
    this.watchdog = Executors.newSingleThreadScheduledExecutor(DaemonThreads.named("berth-registry-watchdog"));
    this.tokens = Caffeine.newBuilder()
        .maximumSize(1_000)
        .expireAfter(new Expiry<String, Token>() {
          @Override
          public long expireAfterCreate(String key, Token t, long now) {
            return t.ttl().toNanos();
          }

          @Override
          public long expireAfterUpdate(String key, Token t, long now, long current) {
            return t.ttl().toNanos();
          }

          @Override
          public long expireAfterRead(String key, Token t, long now, long current) {
            return current;
          }
        })
        .build();
  }

  /** The host the API of {@code registry} (as in a reference) is at: {@code docker.io} is {@value #DOCKER_HUB_API}. */
  public static String apiHost(String registry) {
    return registry.equals(Reference.DOCKER_HUB) ? DOCKER_HUB_API : registry;
  }

  /** Whether {@code registry} (as in a reference) is reached over plain HTTP. */
  public boolean isInsecure(String registry) {
    String host = registry;
    if (host.startsWith("[")) {
      host = host.substring(1, host.indexOf(']'));
    } else if (host.indexOf(':') >= 0) {
      host = host.substring(0, host.indexOf(':'));
    }
    if (insecure.contains(registry) || insecure.contains(host) || host.equals("localhost") || host.equals("::1")
        || host.equals("0:0:0:0:0:0:0:1")) {
      return true;
    }
    Matcher ip = IPV4.matcher(host);
    return ip.matches() && ip.group(1).equals("127") && ipv4(ip);
  }

  private static boolean ipv4(Matcher ip) {
    for (int i = 1; i <= 4; i++) {
      if (Integer.parseInt(ip.group(i)) > 255) {
        return false;
      }
    }
    return true;
  }

  private Repo repo(Reference ref) {
    String scheme = isInsecure(ref.domain()) ? "http" : "https";
    return new Repo(ref.domain(), ref.path(), URI.create(scheme + "://" + apiHost(ref.domain())));
  }

  // ---- login

  /**
   * Checks {@code creds} against {@code registry} as {@code docker login} does: {@code GET /v2/}
   * and, when the registry asks for authentication, basic auth or a token for no particular
   * repository. A registry without authentication accepts anyone.
   *
   * @throws BerthException FAILED_PRECONDITION "unauthorized: …" when the registry refuses
   *     them, UNAVAILABLE when it cannot be reached
   */
  public void login(String registry, Credentials creds) {
    String scheme = isInsecure(registry) ? "http" : "https";
    Repo repo = new Repo(registry, "", URI.create(scheme + "://" + apiHost(registry)));
    URI ping = repo.base().resolve("/v2/");
    withRetries(repo, () -> {
      HttpResponse<InputStream> r = send(repo, ping, null, Map.of());
      List<Challenge> challenges;
      try (InputStream in = r.body()) {
        if (r.statusCode() == 200) {
          return null;
        }
        if (r.statusCode() != 401) {
          throw statusFailure(repo, r, "the registry API is not at " + ping);
        }
        challenges = Challenge.parse(r.headers().allValues("WWW-Authenticate"));
      }
      try {
        String auth = authorize(repo, creds, challenges, "authentication required");
        if (auth.startsWith("Basic ")) {
          HttpResponse<InputStream> again = send(repo, ping, auth, Map.of());
          try (InputStream in = again.body()) {
            if (again.statusCode() != 200) {
              throw unauthorized(repo, creds, errorText(again));
            }
          }
        }
        return null;
      } catch (BerthException e) {
        if (e.kind() == BerthException.Kind.FAILED_PRECONDITION && e.getMessage().startsWith("unauthorized")) {
          throw new BerthException(BerthException.Kind.FAILED_PRECONDITION, "unauthorized: " + registry
              + " refused the credentials of \"" + creds.username() + "\"", e);
        }
        throw e;
      }
    });
  }

  // ---- manifests and blobs

  /**
   * The manifest (or index) {@code tagOrDigest} of the repository of {@code ref}, verified:
   * against the digest asked for, or else against the {@code Docker-Content-Digest} the
   * registry sent, if any.
   *
   * @param creds null for anonymous
   * @throws BerthException NOT_FOUND "manifest unknown: REF", and see the class
   */
  public Manifest manifest(Reference ref, String tagOrDigest, Credentials creds) {
    Repo repo = repo(ref);
    boolean byDigest = tagOrDigest.startsWith("sha256:");
    String named = repo.registry() + "/" + repo.path() + (byDigest ? "@" : ":") + tagOrDigest;
    return withRetries(repo, () -> {
      HttpResponse<InputStream> r = get(repo, "/manifests/" + tagOrDigest, creds,
          Map.of("Accept", String.join(", ", Manifests.ACCEPTED)));
      try (InputStream in = r.body()) {
        if (r.statusCode() != 200) {
          throw statusFailure(repo, r, "manifest unknown: " + named);
        }
        byte[] content = readLimited(in, MAX_MANIFEST_BYTES, "the manifest " + named, repo);
        String digest = sha256(content);
        String expected = byDigest ? tagOrDigest : r.headers().firstValue("Docker-Content-Digest").orElse("");
        if (SHA256.matcher(expected).matches() && !expected.equals(digest)) {
          throw BerthException.invalid("the manifest " + named + " does not match its digest: expected " + expected
              + ", got " + digest + " " + repo.where());
        }
        return new Manifest(digest, r.headers().firstValue("Content-Type").orElse(""), content);
      }
    });
  }

  /**
   * A small blob (an image config), read into memory and verified against {@code digest}.
   *
   * @throws BerthException NOT_FOUND "blob unknown: DIGEST"; INVALID_ARGUMENT when it does not
   *     match its digest or has more than {@code maxBytes}; and see the class
   */
  public byte[] blob(Reference ref, String digest, long maxBytes, Credentials creds) {
    Repo repo = repo(ref);
    requireDigest(digest);
    return withRetries(repo, () -> {
      HttpResponse<InputStream> r = get(repo, "/blobs/" + digest, creds, Map.of());
      try (InputStream in = r.body()) {
        if (r.statusCode() != 200) {
          throw statusFailure(repo, r, "blob unknown: " + digest);
        }
        byte[] content = readLimited(in, maxBytes, "the blob " + digest, repo);
        String got = sha256(content);
        if (!got.equals(digest)) {
          throw BerthException.invalid("the blob " + digest + " does not match its digest: got " + got + " "
              + repo.where());
        }
        return content;
      }
    });
  }

  /**
   * Streams the blob {@code digest} into {@code sink}, which verifies it. A broken or stalled
   * download is tried again, a bounded number of times: resumed with a {@code Range} request
   * from {@link Ingest.BlobSink#written} when the registry supports ranges, else restarted.
   * What {@code sink} throws ends the download at once.
   *
   * @throws BerthException NOT_FOUND "blob unknown: DIGEST"; UNAVAILABLE when all tries failed;
   *     and see the class
   */
  public void blob(Reference ref, String digest, Credentials creds, Ingest.BlobSink sink) {
    Repo repo = repo(ref);
    requireDigest(digest);
    boolean ranges = false;
    for (int attempt = 1; ; attempt++) {
      try {
        long offset = sink.written();
        if (offset > 0 && !ranges) {
          sink.restart();
          offset = 0;
        }
        Map<String, String> headers = offset > 0 ? Map.of("Range", "bytes=" + offset + "-") : Map.of();
        HttpResponse<InputStream> r = call(repo, "GET", repo.base().resolve("/v2/" + repo.path() + "/blobs/" + digest),
            creds, headers, null, true);
        try (InputStream in = r.body()) {
          int status = r.statusCode();
          if (status == 206) {
            Matcher m = CONTENT_RANGE.matcher(r.headers().firstValue("Content-Range").orElse(""));
            if (!m.matches() || Long.parseLong(m.group(1)) != offset) {
              ranges = false;
              throw new IOException("the registry answered a range request with another range");
            }
          } else if (status == 200) {
            if (sink.written() > 0) {
              sink.restart();
            }
          } else if (status == 416) {
            ranges = false;
            throw new IOException("the registry refused to resume the download (HTTP 416)");
          } else {
            throw statusFailure(repo, r, "blob unknown: " + digest);
          }
          ranges = status == 206 || "bytes".equalsIgnoreCase(r.headers().firstValue("Accept-Ranges").orElse(""));
          copy(in, sink);
          return;
        }
      } catch (ClosedByInterruptException e) {
        throw new CancellationException("interrupted while downloading the blob " + digest);
      } catch (IOException | RetryableStatus e) {
        if (attempt >= settings.blobAttempts()) {
          String why = e instanceof RetryableStatus s ? s.failure.getMessage()
              : describe(repo, (IOException) e) + " " + repo.where();
          throw new BerthException(BerthException.Kind.UNAVAILABLE, "cannot download the blob " + digest + " ("
              + attempt + " attempts): " + why, e);
        }
        pause(attempt);
      }
    }
  }

  /**
   * Copies the body to the sink; a body that stalls for the read timeout is given up (an
   * IOException). The buffer is large so that each hop after it (digest, file, unpack) works
   * in large pieces; a read returns what the socket has, so it does not delay the progress.
   */
  private void copy(InputStream in, Ingest.BlobSink sink) throws IOException {
    byte[] buf = new byte[BLOB_BUFFER];
    try (StallGuard guard = new StallGuard(in)) {
      int n;
      while ((n = guard.read(buf)) >= 0) {
        sink.write(buf, 0, n);
      }
    }
  }

  // ---- push

  /** Opens a blob's content from its start; each call a new stream. */
  @FunctionalInterface
  interface BlobOpener {
    InputStream open() throws IOException;
  }

  /**
   * The repository of {@code ref} as a push target: a token (if the registry wants one) gets
   * the scope {@code repository:PATH:pull,push}, plus {@code repository:FROM:pull} for each of
   * {@code mountFrom} (other repositories of the same registry blobs may be mounted from).
   */
  Repo pushTarget(Reference ref, Collection<String> mountFrom) {
    String scheme = isInsecure(ref.domain()) ? "http" : "https";
    List<String> scopes = new ArrayList<>();
    scopes.add("repository:" + ref.path() + ":pull,push");
    mountFrom.stream().filter(p -> !p.equals(ref.path())).distinct().sorted()
        .forEach(p -> scopes.add("repository:" + p + ":pull"));
    return new Repo(ref.domain(), ref.path(), URI.create(scheme + "://" + apiHost(ref.domain())), "push",
        List.copyOf(scopes));
  }

  /** Whether the repository has the blob {@code digest} ({@code HEAD /v2/NAME/blobs/DIGEST}). */
  boolean blobExists(Repo repo, String digest, Credentials creds) {
    requireDigest(digest);
    URI uri = repo.base().resolve("/v2/" + repo.path() + "/blobs/" + digest);
    return withRetries(repo, () -> {
      HttpResponse<InputStream> r = call(repo, "HEAD", uri, creds, Map.of(), null);
      try (InputStream in = r.body()) {
        if (r.statusCode() == 200) {
          return true;
        }
        if (r.statusCode() == 404) {
          return false;
        }
        throw statusFailure(repo, r, "repository unknown: " + repo.registry() + "/" + repo.path());
      }
    });
  }

  /**
   * Starts a blob upload ({@code POST /v2/NAME/blobs/uploads/}); with {@code from} (a
   * repository of the same registry) asks to mount {@code digest} from there instead. Returns
   * null when the blob was mounted (201), else the upload session's URI.
   */
  URI startUpload(Repo repo, String digest, String from, Credentials creds) {
    String query = from == null ? "" : "?mount=" + encode(digest) + "&from=" + encode(from);
    URI uri = repo.base().resolve("/v2/" + repo.path() + "/blobs/uploads/" + query);
    return withRetries(repo, () -> {
      HttpResponse<InputStream> r = call(repo, "POST", uri, creds, Map.of(), new byte[0]);
      try (InputStream in = r.body()) {
        if (r.statusCode() == 201 && from != null) {
          return null;
        }
        if (r.statusCode() == 202) {
          return location(repo, r);
        }
        throw statusFailure(repo, r, "repository unknown: " + repo.registry() + "/" + repo.path());
      }
    });
  }

  /**
   * Uploads the blob {@code digest} of {@code size} bytes: in one {@code PUT} up to {@code
   * chunkThreshold} bytes, else in {@code PATCH}es of at most {@code chunkSize} bytes (with
   * {@code Content-Range}) followed by a {@code PUT ?digest=}, each to the {@code Location}
   * the registry gave last. {@code session} is an upload already started (or null). A failed
   * upload (I/O, 5xx) starts over in a new session, a bounded number of times. {@code
   * progress} hears the bytes the registry has taken.
   *
   * @throws BerthException see the class; INVALID_ARGUMENT when the registry refuses the content
   */
  void upload(Repo repo, String digest, long size, BlobOpener content, URI session, long chunkThreshold,
      int chunkSize, Credentials creds, java.util.function.LongConsumer progress) {
    requireDigest(digest);
    URI start = session;
    for (int attempt = 1; ; attempt++) {
      try {
        URI loc = start != null ? start : startUpload(repo, digest, null, creds);
        start = null;
        uploadOnce(repo, digest, size, content, loc, chunkThreshold, chunkSize, creds, progress);
        return;
      } catch (ConnectException e) {
        throw unavailable(repo, e);
      } catch (ClosedByInterruptException e) {
        throw new CancellationException("interrupted while downloading the blob " + digest);
      } catch (IOException | RetryableStatus e) {
        if (attempt >= settings.blobAttempts()) {
          String why = e instanceof RetryableStatus s ? s.failure.getMessage()
              : describe(repo, (IOException) e) + " " + repo.where();
          throw new BerthException(BerthException.Kind.UNAVAILABLE, "cannot upload the blob " + digest + " ("
              + attempt + " attempts): " + why, e);
        }
        progress.accept(0);
        pause(attempt);
      }
    }
  }

  private void uploadOnce(Repo repo, String digest, long size, BlobOpener content, URI loc, long chunkThreshold,
      int chunkSize, Credentials creds, java.util.function.LongConsumer progress) throws IOException, RetryableStatus {
    String what = "blob upload unknown: " + digest;
    try (InputStream in = content.open()) {
      if (size <= chunkThreshold) {
        byte[] all = in.readNBytes((int) size);
        if (all.length != size) {
          throw BerthException.internal("the blob " + digest + " has " + all.length + " bytes, not " + size, null);
        }
        HttpResponse<InputStream> r = call(repo, "PUT", withDigest(loc, digest), creds,
            Map.of("Content-Type", "application/octet-stream"), all);
        try (InputStream body = r.body()) {
          if (r.statusCode() != 201 && r.statusCode() != 204) {
            throw statusFailure(repo, r, what);
          }
        }
        progress.accept(size);
        return;
      }
      byte[] buf = new byte[chunkSize];
      long offset = 0;
      while (offset < size) {
        int n = in.readNBytes(buf, 0, (int) Math.min(chunkSize, size - offset));
        if (n <= 0) {
          throw BerthException.internal("the blob " + digest + " ended after " + offset + " of " + size + " bytes", null);
        }
        byte[] chunk = n == buf.length ? buf : java.util.Arrays.copyOf(buf, n);
        HttpResponse<InputStream> r = call(repo, "PATCH", loc, creds, Map.of("Content-Type",
            "application/octet-stream", "Content-Range", offset + "-" + (offset + n - 1)), chunk);
        try (InputStream body = r.body()) {
          if (r.statusCode() != 202 && r.statusCode() != 204) {
            throw statusFailure(repo, r, what);
          }
          loc = location(repo, r);
        }
        offset += n;
        progress.accept(offset);
      }
      HttpResponse<InputStream> r = call(repo, "PUT", withDigest(loc, digest), creds, Map.of(), new byte[0]);
      try (InputStream body = r.body()) {
        if (r.statusCode() != 201 && r.statusCode() != 204) {
          throw statusFailure(repo, r, what);
        }
      }
    }
  }

  /**
   * Puts the manifest {@code content} of type {@code mediaType} as {@code tag} ({@code PUT
   * /v2/NAME/manifests/TAG}) and returns its digest, checked against the registry's {@code
   * Docker-Content-Digest}.
   */
  String putManifest(Repo repo, String tag, String mediaType, byte[] content, Credentials creds) {
    String digest = sha256(content);
    URI uri = repo.base().resolve("/v2/" + repo.path() + "/manifests/" + tag);
    return withRetries(repo, () -> {
      HttpResponse<InputStream> r = call(repo, "PUT", uri, creds, Map.of("Content-Type", mediaType), content);
      try (InputStream in = r.body()) {
        if (r.statusCode() != 201 && r.statusCode() != 200 && r.statusCode() != 202) {
          throw statusFailure(repo, r, "repository unknown: " + repo.registry() + "/" + repo.path());
        }
        String said = r.headers().firstValue("Docker-Content-Digest").orElse("");
        if (SHA256.matcher(said).matches() && !said.equals(digest)) {
          throw BerthException.invalid("the registry stored the manifest as " + said + ", but its digest is " + digest
              + " " + repo.where());
        }
        return digest;
      }
    });
  }

  private static URI location(Repo repo, HttpResponse<InputStream> r) {
    String location = r.headers().firstValue("Location").orElse("");
    if (location.isEmpty()) {
      throw new BerthException(BerthException.Kind.UNAVAILABLE, "the registry " + repo.hostPort()
          + " started an upload without a Location " + repo.where());
    }
    URI uri = repo.base().resolve(location);
    if (!uri.getScheme().equals("http") && !uri.getScheme().equals("https")) {
      throw new BerthException(BerthException.Kind.UNAVAILABLE, "the registry gave the upload location " + uri + " "
          + repo.where());
    }
    return uri;
  }

  private static URI withDigest(URI uri, String digest) {
    return URI.create(uri + (uri.getRawQuery() == null ? "?" : "&") + "digest=" + encode(digest));
  }

  // ---- requests, auth, errors

  /** A request that is tried again after I/O errors (not a refused connection) and 5xx answers. */
  private interface Attempt<T> {
    T run() throws IOException, RetryableStatus;
  }

  private <T> T withRetries(Repo repo, Attempt<T> attempt) {
    for (int i = 1; ; i++) {
      try {
        return attempt.run();
      } catch (ConnectException e) {
        throw unavailable(repo, e);
      } catch (IOException | RetryableStatus e) {
        if (i >= settings.requestAttempts()) {
          throw e instanceof RetryableStatus s ? s.failure : unavailable(repo, (IOException) e);
        }
        pause(i);
      }
    }
  }

  /** A 5xx (or 408) answer: worth another try; {@code failure} if there is none left. */
  private static final class RetryableStatus extends Exception {
    private static final long serialVersionUID = 1L;
    final BerthException failure;

    RetryableStatus(BerthException failure) {
      super(failure.getMessage(), null, false, false);
      this.failure = failure;
    }
  }

  private void pause(int attempt) {
    long millis = Math.min(settings.backoff().toMillis() << Math.min(attempt - 1, 20), 8_000);
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CancellationException("interrupted");
    }
  }

  /**
   * GETs {@code /v2/<repository><path>}, authenticating as the registry asks. The caller
   * reads and closes the body. A 401 after authenticating is an unauthorized failure.
   */
  private HttpResponse<InputStream> get(Repo repo, String path, Credentials creds, Map<String, String> headers)
      throws IOException {
    return call(repo, "GET", repo.base().resolve("/v2/" + repo.path() + path), creds, headers, null);
  }

  /** Like {@link #get}, for any method, URI (of the registry) and body. */
  private HttpResponse<InputStream> call(Repo repo, String method, URI uri, Credentials creds,
      Map<String, String> headers, byte[] body) throws IOException {
    return call(repo, method, uri, creds, headers, body, false);
  }

  /** Like {@link #call}; {@code bulk}: the answer is a large body, see {@link #send}. */
  private HttpResponse<InputStream> call(Repo repo, String method, URI uri, Credentials creds,
      Map<String, String> headers, byte[] body, boolean bulk) throws IOException {
    String auth = cachedAuthorization(repo, creds);
    HttpResponse<InputStream> r = send(repo, method, uri, auth, headers, body, bulk);
    if (r.statusCode() != 401) {
      return r;
    }
    List<Challenge> challenges = Challenge.parse(r.headers().allValues("WWW-Authenticate"));
    String refused = errorText(r);
    if (auth != null && auth.startsWith("Bearer ")) {
      tokens.invalidate(tokenKey(repo, creds)); // expired early, or revoked: get a new one
    } else if (auth != null) {
      throw unauthorized(repo, creds, refused);
    }
    auth = authorize(repo, creds, challenges, refused);
    r = send(repo, method, uri, auth, headers, body, bulk);
    if (r.statusCode() == 401) {
      throw unauthorized(repo, creds, errorText(r));
    }
    return r;
  }

  /** Sends a GET, following redirects; credentials go only to the registry itself. */
  private HttpResponse<InputStream> send(Repo repo, URI uri, String auth, Map<String, String> headers)
      throws IOException {
    return send(repo, "GET", uri, auth, headers, null, false);
  }

  private HttpResponse<InputStream> send(Repo repo, String method, URI uri, String auth, Map<String, String> headers,
      byte[] body) throws IOException {
    return send(repo, method, uri, auth, headers, body, false);
  }

  /**
   * Sends a request ({@code body} null: none); a GET or HEAD follows redirects, other methods
   * get the redirect as their answer. Credentials go only to the registry itself. A {@code
   * bulk} GET (a blob download) to a plain-HTTP URI goes over {@link Http1Get}, which hands the
   * body over at a third of the JDK client's CPU cost; anything else over the JDK client.
   */
  private HttpResponse<InputStream> send(Repo repo, String method, URI uri, String auth, Map<String, String> headers,
      byte[] body, boolean bulk) throws IOException {
    boolean follow = method.equals("GET") || method.equals("HEAD");
    for (int hop = 0; ; hop++) {
      HttpRequest.Builder b = HttpRequest.newBuilder(uri)
          .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body))
          .timeout(settings.requestTimeout())
          .header("User-Agent", USER_AGENT);
      if (uri.getScheme().equals("http")) {
        b.version(HttpClient.Version.HTTP_1_1);
      }
      headers.forEach(b::header);
      if (auth != null && sameOrigin(uri, repo.base())) {
        b.header("Authorization", auth);
      }
      HttpResponse<InputStream> r;
      try {
        if (bulk && method.equals("GET") && body == null && uri.getScheme().equals("http")) {
          Map<String, String> all = new LinkedHashMap<>();
          all.put("User-Agent", USER_AGENT);
          all.putAll(headers);
          if (auth != null && sameOrigin(uri, repo.base())) {
            all.put("Authorization", auth);
          }
          r = Http1Get.send(b.build(), uri, all, settings.connectTimeout(), settings.requestTimeout(),
              settings.readTimeout());
        } else {
          r = http.send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
        }
      } catch (InterruptedException | ClosedByInterruptException e) {
        Thread.currentThread().interrupt();
        throw new CancellationException("interrupted while talking to " + repo.hostPort());
      }
      int s = r.statusCode();
      if (follow && (s == 301 || s == 302 || s == 303 || s == 307 || s == 308)) {
        r.body().close();
        String location = r.headers().firstValue("Location").orElse("");
        if (location.isEmpty() || hop >= 5) {
          throw new BerthException(BerthException.Kind.UNAVAILABLE, "the registry " + repo.hostPort()
              + (location.isEmpty() ? " redirected without a location" : " redirected more than 5 times") + " "
              + repo.where());
        }
        uri = uri.resolve(location);
        if (!uri.getScheme().equals("https") && !uri.getScheme().equals("http")) {
          throw new BerthException(BerthException.Kind.UNAVAILABLE, "the registry redirected to " + uri + " "
              + repo.where());
        }
        continue;
      }
      return r;
    }
  }

  private static boolean sameOrigin(URI a, URI b) {
    return a.getScheme().equals(b.getScheme()) && Repo.hostPort(a).equalsIgnoreCase(Repo.hostPort(b));
  }

  private static String tokenKey(Repo repo, Credentials creds) {
    return repo.registry() + "|" + repo.path() + "|" + (repo.scopes() == null ? "" : String.join(" ", repo.scopes()))
        + "|" + (creds == null ? "" : creds.fingerprint());
  }

  private String cachedAuthorization(Repo repo, Credentials creds) {
    Token t = tokens.getIfPresent(tokenKey(repo, creds));
    if (t != null) {
      return "Bearer " + t.value();
    }
    return creds != null && basicRegistries.contains(repo.registry()) ? creds.basicAuthorization() : null;
  }

  /** The Authorization for a retry after a 401 with these challenges. */
  private String authorize(Repo repo, Credentials creds, List<Challenge> challenges, String refused)
      throws IOException {
    Challenge bearer = challenges.stream().filter(c -> c.scheme().equals("bearer")).findFirst().orElse(null);
    if (bearer != null) {
      return "Bearer " + token(repo, creds, bearer);
    }
    boolean basic = challenges.stream().anyMatch(c -> c.scheme().equals("basic"));
    if (basic && creds != null) {
      basicRegistries.add(repo.registry());
      return creds.basicAuthorization();
    }
    throw unauthorized(repo, creds, basic || challenges.isEmpty() ? refused
        : refused + "; the registry asks for unsupported authentication (" + challenges.get(0).scheme() + ")");
  }

  /** Gets a token from the bearer challenge's realm and caches it. */
  private String token(Repo repo, Credentials creds, Challenge bearer) throws IOException {
    URI realm = parseUri(bearer.param("realm"));
    if (realm == null || realm.getHost() == null
        || !(realm.getScheme().equals("https") || realm.getScheme().equals("http"))) {
      throw new BerthException(BerthException.Kind.UNAVAILABLE, "the registry asks for a token from the invalid realm \""
          + bearer.param("realm") + "\" " + repo.where());
    }
    if (creds != null && realm.getScheme().equals("http") && repo.base().getScheme().equals("https")) {
      throw new BerthException(BerthException.Kind.FAILED_PRECONDITION, "refusing to send credentials to the token"
          + " service " + realm + " over plain HTTP " + repo.where());
    }
    // A login (no repository) asks for a token without a scope: it only proves the credentials.
    // A push asks for its own scopes: the challenge names those of the request that failed.
    List<String> scopes = repo.scopes() != null ? repo.scopes()
        : !bearer.param("scope").isEmpty() ? List.of(bearer.param("scope"))
        : repo.path().isEmpty() ? List.of() : List.of("repository:" + repo.path() + ":pull");
    List<String> params = new ArrayList<>();
    if (!bearer.param("service").isEmpty()) {
      params.add("service=" + encode(bearer.param("service")));
    }
    for (String scope : scopes) {
      params.add("scope=" + encode(scope));
    }
    if (creds != null) {
      params.add("account=" + encode(creds.username()));
    }
    String query = String.join("&", params);
    String base = realm.toString();
    URI uri = URI.create(base + (realm.getRawQuery() == null ? "?" : "&") + query);
    Repo tokenService = new Repo(repo.registry(), repo.path(),
        URI.create(realm.getScheme() + "://" + realm.getRawAuthority()), repo.action(), repo.scopes());
    byte[] body = withRetries(tokenService, () -> {
      HttpResponse<InputStream> r = send(tokenService, uri, creds == null ? null : creds.basicAuthorization(),
          Map.of("Accept", "application/json"));
      try (InputStream in = r.body()) {
        if (r.statusCode() == 401 || r.statusCode() == 403) {
          throw unauthorized(repo, creds, "the token service " + Repo.hostPort(realm) + " refused: " + errorText(r));
        }
        if (r.statusCode() != 200) {
          throw statusFailure(tokenService, r, "the token service " + realm + " is not there");
        }
        return readLimited(in, MAX_TOKEN_BYTES, "the token", tokenService);
      }
    });
    JsonNode doc;
    try {
      doc = MAPPER.readTree(body);
    } catch (IOException e) {
      doc = null;
    }
    String token = doc == null ? "" : doc.path("token").asText(doc.path("access_token").asText(""));
    if (token.isEmpty()) {
      throw new BerthException(BerthException.Kind.UNAVAILABLE, "the token service " + realm
          + " answered without a token " + repo.where());
    }
    long expiresIn = doc.path("expires_in").asLong(60);
    if (expiresIn <= 0) {
      expiresIn = 60;
    }
    Duration ttl = Duration.ofSeconds(expiresIn > 60 ? expiresIn - 30 : Math.max(expiresIn / 2, 1));
    tokens.put(tokenKey(repo, creds), new Token(token, ttl));
    return token;
  }

  private static URI parseUri(String s) {
    try {
      return URI.create(s);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  private static String encode(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  private static BerthException unauthorized(Repo repo, Credentials creds, String registryText) {
    String detail = registryText.replaceFirst("(?i)^unauthorized: ", "");
    if (detail.equalsIgnoreCase("authentication required") || detail.equalsIgnoreCase("unauthorized")) {
      detail = "";
    }
    String who = creds == null ? "authentication required" : "the credentials of \"" + creds.username()
        + "\" were refused";
    return new BerthException(BerthException.Kind.FAILED_PRECONDITION, "unauthorized: " + who + " to " + repo.action() + " "
        + repo.registry() + "/" + repo.path() + (detail.isEmpty() ? "" : ": " + detail) + " " + repo.where()
        + " (use berth login)");
  }

  /**
   * The failure of an answer other than 200: NOT_FOUND {@code notFound} for a 404, a
   * RetryableStatus for 408 and 5xx.
   */
  private static BerthException statusFailure(Repo repo, HttpResponse<InputStream> r, String notFound)
      throws RetryableStatus, IOException {
    int s = r.statusCode();
    String text = errorText(r);
    String detail = text.isEmpty() ? "" : ": " + text;
    if (s == 404) {
      return BerthException.notFound(notFound + " " + repo.where());
    }
    if (s == 401) {
      return unauthorized(repo, null, text);
    }
    if (s == 403) {
      return new BerthException(BerthException.Kind.FAILED_PRECONDITION, "denied: the registry refused access to "
          + repo.registry() + "/" + repo.path() + detail + " " + repo.where() + " (use berth login)");
    }
    if (s == 429) {
      return new BerthException(BerthException.Kind.RESOURCE_EXHAUSTED, "toomanyrequests: the registry "
          + repo.hostPort() + " limits the rate of requests" + detail + " " + repo.where());
    }
    BerthException failure = new BerthException(BerthException.Kind.UNAVAILABLE, "the registry " + repo.hostPort()
        + " answered HTTP " + s + detail + " " + repo.where());
    if (s == 408 || s >= 500) {
      throw new RetryableStatus(failure);
    }
    return new BerthException(BerthException.Kind.INVALID_ARGUMENT, failure.getMessage());
  }

  /** The registry's error text (its JSON {@code errors}, or the start of the body); reads and closes the body. */
  private static String errorText(HttpResponse<InputStream> r) throws IOException {
    byte[] body;
    try (InputStream in = r.body()) {
      body = in.readNBytes(MAX_ERROR_BYTES);
    }
    try {
      JsonNode doc = MAPPER.readTree(body);
      if (doc != null && doc.path("errors").isArray() && !doc.path("errors").isEmpty()) {
        List<String> parts = new ArrayList<>();
        for (JsonNode e : doc.path("errors")) {
          String code = e.path("code").asText("").toLowerCase(Locale.ROOT).replace('_', ' ');
          String message = e.path("message").asText("");
          parts.add(code.isEmpty() || message.toLowerCase(Locale.ROOT).equals(code) ? message
              : message.isEmpty() ? code : code + ": " + message);
        }
        return String.join("; ", parts);
      }
      for (String field : List.of("details", "error_description", "error", "message")) {
        if (doc != null && doc.path(field).isTextual() && !doc.path(field).asText().isBlank()) {
          return doc.path(field).asText().strip();
        }
      }
    } catch (IOException e) {
      // not JSON: the text as it is
    }
    String text = new String(body, StandardCharsets.UTF_8).strip();
    return text.length() > 200 ? text.substring(0, 200) + "…" : text;
  }

  private static BerthException unavailable(Repo repo, IOException e) {
    return new BerthException(BerthException.Kind.UNAVAILABLE, describe(repo, e) + " " + repo.where(), e);
  }

  private static String describe(Repo repo, IOException e) {
    String at = repo.hostPort();
    if (e instanceof HttpConnectTimeoutException) {
      return "cannot connect to the registry at " + at + ": the connection timed out";
    }
    if (e instanceof HttpTimeoutException) {
      return "the registry at " + at + " did not answer in time";
    }
    if (e instanceof ConnectException) {
      return "cannot connect to the registry at " + at + ": " + (hasCause(e, UnresolvedAddressException.class)
          ? "cannot resolve " + repo.base().getHost() : "connection refused");
    }
    if (hasCause(e, SSLException.class)) {
      return "TLS with the registry at " + at + " failed: " + e.getMessage()
          + " (if it serves plain HTTP, add it to the insecure registries)";
    }
    return "cannot talk to the registry at " + at + ": " + describe(e);
  }

  private static String describe(Exception e) {
    return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
  }

  private static boolean hasCause(Throwable t, Class<? extends Throwable> type) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (type.isInstance(c)) {
        return true;
      }
    }
    return false;
  }

  private static byte[] readLimited(InputStream in, long max, String what, Repo repo) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] buf = new byte[16 * 1024];
    int n;
    while ((n = in.read(buf)) >= 0) {
      if (out.size() + (long) n > max) {
        throw BerthException.invalid(what + " is larger than " + max + " bytes " + repo.where());
      }
      out.write(buf, 0, n);
    }
    return out.toByteArray();
  }

  private static void requireDigest(String digest) {
    if (!SHA256.matcher(Objects.requireNonNull(digest)).matches()) {
      throw BerthException.invalid("unsupported digest \"" + digest + "\": only sha256:<64 hex digits> is supported");
    }
  }

  static String sha256(byte[] content) {
    try {
      return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }

  /** Stops the watchdog of stalled downloads; downloads running then are no longer watched. */
  @Override
  public void close() {
    watchdog.shutdownNow();
  }

  /**
   * Gives up a read that has received nothing for the read timeout: closes the body stream from
   * the watchdog's thread, which makes the blocked read fail (the JDK's body stream does not
   * heed interrupts, and there is no read timeout on it). Only time spent blocked in a read
   * counts, not time spent writing to the sink.
   */
  private final class StallGuard implements AutoCloseable {
    private final InputStream in;
    private final ScheduledFuture<?> check;
    private long readingSince = -1; // guarded by this
    private boolean fired; // guarded by this

    StallGuard(InputStream in) {
      this.in = in;
      long period = Math.max(10, Math.min(settings.readTimeout().toMillis() / 4, 1_000));
      ScheduledFuture<?> f;
      try {
        f = watchdog.scheduleWithFixedDelay(this::check, period, period, TimeUnit.MILLISECONDS);
      } catch (java.util.concurrent.RejectedExecutionException e) {
        f = null; // the client is closed: unwatched
      }
      check = f;
    }

    int read(byte[] buf) throws IOException {
      synchronized (this) {
        readingSince = System.nanoTime();
      }
      int n;
      try {
        n = in.read(buf);
      } catch (IOException e) {
        throw stalled() ? new IOException("no data for " + settings.readTimeout().toSeconds() + " s", e) : e;
      } finally {
        synchronized (this) {
          readingSince = -1;
        }
      }
      if (stalled()) { // the stream was closed under a read that then ended (or saw the end) anyway
        throw new IOException("no data for " + settings.readTimeout().toSeconds() + " s");
      }
      return n;
    }

    private synchronized boolean stalled() {
      return fired;
    }

    private void check() {
      synchronized (this) {
        if (readingSince < 0 || fired || System.nanoTime() - readingSince <= settings.readTimeout().toNanos()) {
          return;
        }
        fired = true;
      }
      try {
        in.close();
      } catch (IOException e) {
        // closing is all that is wanted
      }
    }

    @Override
    public void close() {
      if (check != null) {
        check.cancel(false);
      }
    }
  }
}
