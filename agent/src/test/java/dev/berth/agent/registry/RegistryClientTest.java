package dev.berth.agent.registry;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.berth.agent.BerthException;
import dev.berth.agent.image.Ingest;
import dev.berth.agent.image.Reference;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The client's rules, against small in-test HTTP servers on 127.0.0.1 (no registry needed). */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RegistryClientTest {
  private static final RegistryClient.Settings FAST = new RegistryClient.Settings(Duration.ofSeconds(5),
      Duration.ofSeconds(10), Duration.ofSeconds(5), 3, 3, Duration.ofMillis(10));
  private static final byte[] MANIFEST = ("{\"schemaVersion\":2,\"mediaType\":\"" + Manifests.OCI_MANIFEST
      + "\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:"
      + "a".repeat(64) + "\",\"size\":2},\"layers\":[]}").getBytes(StandardCharsets.UTF_8);

  private final List<HttpServer> servers = new CopyOnWriteArrayList<>();
  private final RegistryClient client = new RegistryClient(Set.of("registry.insecure:5000", "plain.example"), FAST);

  @AfterEach
  void stop() {
    servers.forEach(s -> s.stop(0));
    client.close();
  }

  /** A server on 127.0.0.1 answering every request with {@code handler}; returns its host:port. */
  private String serve(Consumer<HttpExchange> handler) throws IOException {
    HttpServer s = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    s.createContext("/", ex -> {
      try {
        handler.accept(ex);
      } finally {
        ex.close();
      }
    });
    s.start();
    servers.add(s);
    return "127.0.0.1:" + s.getAddress().getPort();
  }

  private static void answer(HttpExchange ex, int status, Map<String, String> headers, byte[] body) {
    try {
      headers.forEach((k, v) -> ex.getResponseHeaders().add(k, v));
      ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
      if (body.length > 0) {
        try (OutputStream out = ex.getResponseBody()) {
          out.write(body);
        }
      }
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  // ---- where and how

  @Test
  void loopbackAndNamedRegistriesAreInsecure() {
    for (String r : List.of("localhost", "localhost:5000", "127.0.0.1", "127.0.0.1:5000", "127.1.2.3:80", "[::1]:5000",
        "[::1]", "registry.insecure:5000", "plain.example", "plain.example:443")) {
      assertTrue(client.isInsecure(r), r);
    }
    for (String r : List.of("docker.io", "registry.insecure", "registry.insecure:5001", "128.0.0.1:5000",
        "127.0.0.1.nip.io", "127.0.0.300", "localhost.example")) {
      assertFalse(client.isInsecure(r), r);
    }
    assertEquals("registry-1.docker.io", RegistryClient.apiHost("docker.io"));
    assertEquals("quay.io", RegistryClient.apiHost("quay.io"));
  }

  @Test
  void parsesChallenges() {
    List<Challenge> hub = Challenge.parse(List.of("Bearer realm=\"https://auth.docker.io/token\","
        + "service=\"registry.docker.io\",scope=\"repository:library/busybox:pull,push\""));
    assertEquals(1, hub.size());
    assertEquals("bearer", hub.get(0).scheme());
    assertEquals("https://auth.docker.io/token", hub.get(0).param("realm"));
    assertEquals("registry.docker.io", hub.get(0).param("service"));
    assertEquals("repository:library/busybox:pull,push", hub.get(0).param("scope"));

    List<Challenge> two = Challenge.parse(List.of("Basic realm=\"x\", Bearer realm=\"https://t/\",error=invalid_token",
        "Negotiate"));
    assertEquals(List.of("basic", "bearer", "negotiate"), two.stream().map(Challenge::scheme).toList());
    assertEquals("invalid_token", two.get(1).param("error"));
    assertEquals(Map.of("realm", "a\"b"), Challenge.parse(List.of("basic REALM=\"a\\\"b\"")).get(0).params());
  }

  @Test
  void platformsMatchOnVariantOnlyWhenBothHaveOne() {
    Platform arm64 = new Platform("linux", "arm64", "");
    assertTrue(arm64.matches(new Platform("linux", "arm64", "v8")));
    assertTrue(new Platform("linux", "arm", "v7").matches(new Platform("linux", "arm", "")));
    assertFalse(new Platform("linux", "arm", "v7").matches(new Platform("linux", "arm", "v6")));
    assertFalse(arm64.matches(new Platform("windows", "arm64", "")));
    assertEquals("linux/arm/v7", new Platform("linux", "arm", "v7").toString());
    assertEquals("linux", Platform.host().os());
  }

  @Test
  void credentialsDoNotShowThePassword() {
    Credentials c = new Credentials("me", "hunter2");
    assertFalse(c.toString().contains("hunter2"));
    assertEquals("Basic bWU6aHVudGVyMg==", c.basicAuthorization());
    assertFalse(c.fingerprint().equals(new Credentials("me", "other").fingerprint()));
  }

  // ---- manifests

  @Test
  void refusesWhatIsNotAContainerImageOfKnownLayers() {
    String config = "{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:" + "a".repeat(64)
        + "\",\"size\":2}";
    String layer = "\"digest\":\"sha256:" + "b".repeat(64) + "\",\"size\":3}";
    Manifests.Image zstd = Manifests.image(Manifests.OCI_MANIFEST,
        ("{\"schemaVersion\":2,\"config\":" + config + ",\"layers\":[{\"mediaType\":"
            + "\"application/vnd.oci.image.layer.v1.tar+zstd\"," + layer + "]}").getBytes(StandardCharsets.UTF_8), "m");
    assertEquals("application/vnd.oci.image.layer.v1.tar+zstd", zstd.layers().get(0).mediaType(), "zstd is read");
    BerthException lz4 = assertThrows(BerthException.class, () -> Manifests.image(Manifests.OCI_MANIFEST,
        ("{\"schemaVersion\":2,\"config\":" + config + ",\"layers\":[{\"mediaType\":"
            + "\"application/vnd.oci.image.layer.v1.tar+lz4\"," + layer + "]}").getBytes(StandardCharsets.UTF_8), "m"));
    assertTrue(lz4.getMessage().contains("tar+lz4") && lz4.getMessage().contains("sha256:" + "b".repeat(64)),
        lz4.getMessage());
    BerthException helm = assertThrows(BerthException.class, () -> Manifests.image(Manifests.OCI_MANIFEST,
        ("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/vnd.cncf.helm.config.v1+json\",\"digest\":"
            + "\"sha256:" + "a".repeat(64) + "\",\"size\":2},\"layers\":[]}").getBytes(StandardCharsets.UTF_8), "m"));
    assertTrue(helm.getMessage().contains("not a container image"), helm.getMessage());
    BerthException schema1 = assertThrows(BerthException.class,
        () -> Manifests.isIndex("", "{\"schemaVersion\":1,\"fsLayers\":[]}".getBytes(StandardCharsets.UTF_8), "m"));
    assertTrue(schema1.getMessage().contains("schema 1"), schema1.getMessage());
    assertTrue(Manifests.isIndex("application/json", "{\"manifests\":[]}".getBytes(StandardCharsets.UTF_8), "m"),
        "no media type: the shape tells");
    assertEquals(0, Manifests.image("", ("{\"schemaVersion\":2,\"config\":" + config + ",\"layers\":[]}")
        .getBytes(StandardCharsets.UTF_8), "m").layers().size());
  }

  // ---- the protocol

  @Test
  void asksForAllFourManifestTypesAndChecksTheDigestHeader() throws Exception {
    List<String> accepts = new CopyOnWriteArrayList<>();
    String host = serve(ex -> {
      accepts.add(ex.getRequestHeaders().getFirst("Accept"));
      String digest = ex.getRequestURI().getPath().endsWith("/lying") ? "sha256:" + "0".repeat(64)
          : RegistryClient.sha256(MANIFEST);
      answer(ex, 200, Map.of("Content-Type", Manifests.OCI_MANIFEST, "Docker-Content-Digest", digest), MANIFEST);
    });
    Reference ref = Reference.parse(host + "/app:1");

    RegistryClient.Manifest m = client.manifest(ref, "1", null);
    assertEquals(RegistryClient.sha256(MANIFEST), m.digest());
    assertArrayEquals(MANIFEST, m.content());
    assertEquals(Set.of(Manifests.OCI_MANIFEST, Manifests.OCI_INDEX, Manifests.DOCKER_MANIFEST, Manifests.DOCKER_LIST),
        Set.of(accepts.get(0).split(", ")));

    BerthException lying = assertThrows(BerthException.class, () -> client.manifest(ref, "lying", null));
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, lying.kind());
    assertTrue(lying.getMessage().contains("does not match its digest"), lying.getMessage());
    String other = "sha256:" + "1".repeat(64);
    BerthException byDigest = assertThrows(BerthException.class, () -> client.manifest(ref, other, null));
    assertTrue(byDigest.getMessage().contains(other), byDigest.getMessage());
  }

  @Test
  void retriesServerErrorsAndReportsRateLimits() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    String host = serve(ex -> {
      if (ex.getRequestURI().getPath().contains("/limited/")) {
        answer(ex, 429, Map.of(), "{\"errors\":[{\"code\":\"TOOMANYREQUESTS\",\"message\":\"slow down\"}]}"
            .getBytes(StandardCharsets.UTF_8));
      } else if (calls.incrementAndGet() < 3) {
        answer(ex, 503, Map.of(), new byte[0]);
      } else {
        answer(ex, 200, Map.of("Content-Type", Manifests.OCI_MANIFEST), MANIFEST);
      }
    });

    client.manifest(Reference.parse(host + "/app:1"), "1", null);
    assertEquals(3, calls.get());

    BerthException limited = assertThrows(BerthException.class,
        () -> client.manifest(Reference.parse(host + "/limited/app:1"), "1", null));
    assertEquals(BerthException.Kind.RESOURCE_EXHAUSTED, limited.kind());
    assertTrue(limited.getMessage().contains("slow down") && limited.getMessage().contains(host), limited.getMessage());

    calls.set(-100);
    BerthException down = assertThrows(BerthException.class,
        () -> client.manifest(Reference.parse(host + "/app:1"), "1", null));
    assertEquals(BerthException.Kind.UNAVAILABLE, down.kind());
    assertTrue(down.getMessage().contains("HTTP 503") && down.getMessage().contains("repository app"),
        down.getMessage());
  }

  @Test
  void credentialsDoNotFollowARedirectElsewhere() throws Exception {
    byte[] blob = "layer bytes".getBytes(StandardCharsets.UTF_8);
    String digest = RegistryClient.sha256(blob);
    List<String> cdnAuth = new CopyOnWriteArrayList<>();
    String cdn = serve(ex -> {
      cdnAuth.add(String.valueOf(ex.getRequestHeaders().getFirst("Authorization")));
      answer(ex, 200, Map.of(), blob);
    });
    String registry = serve(ex -> {
      if (ex.getRequestHeaders().getFirst("Authorization") == null) {
        answer(ex, 401, Map.of("WWW-Authenticate", "Basic realm=\"test\""), new byte[0]);
      } else {
        answer(ex, 307, Map.of("Location", "http://" + cdn + "/signed?x=1"), new byte[0]);
      }
    });
    ByteArrayOutputStream got = new ByteArrayOutputStream();

    client.blob(Reference.parse(registry + "/app:1"), digest, new Credentials("me", "pw"), new Ingest.BlobSink() {
      @Override
      public void write(byte[] b, int off, int len) {
        got.write(b, off, len);
      }

      @Override
      public long written() {
        return got.size();
      }

      @Override
      public void restart() {
        got.reset();
      }
    });

    assertArrayEquals(blob, got.toByteArray());
    assertEquals(List.of("null"), cdnAuth, "no Authorization for another origin");
    assertArrayEquals(blob, client.blob(Reference.parse(registry + "/app:1"), digest, 100, new Credentials("me", "pw")));
    BerthException tooBig = assertThrows(BerthException.class,
        () -> client.blob(Reference.parse(registry + "/app:1"), digest, 4, new Credentials("me", "pw")));
    assertTrue(tooBig.getMessage().contains("larger than 4 bytes"), tooBig.getMessage());
  }
}
