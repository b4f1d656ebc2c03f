package dev.berth.agent.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.agent.BerthException;
import dev.berth.agent.image.ImageRecord;
import dev.berth.agent.image.ImageStore;
import dev.berth.agent.image.ImportRequest;
import dev.berth.agent.image.LayerLimits;
import dev.berth.agent.it.BusyboxImage;
import dev.berth.agent.runtime.RecordingSyscalls;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Pushes to a real registry (Debian's docker-registry on 127.0.0.1) and pulls back into fresh stores. */
@Tag("registry")
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class PushTest {
  private static final RegistryClient.Settings FAST = new RegistryClient.Settings(Duration.ofSeconds(5),
      Duration.ofSeconds(20), Duration.ofSeconds(10), 3, 3, Duration.ofMillis(20));

  @TempDir static Path images;
  private static TestImages.Layout layout;
  private static byte[] busyboxTar;

  @TempDir Path work;
  private final RecordingSyscalls sys = new RecordingSyscalls();
  private final Closer closer = new Closer();
  private TestRegistry registry;
  private ImageStore store;
  private RegistryClient client;

  @BeforeAll
  static void buildImages() throws Exception {
    TestImages.assumeTools();
    layout = TestImages.build(images);
    busyboxTar = BusyboxImage.tar();
  }

  @BeforeEach
  void start() throws Exception {
    registry = open(TestRegistry.start(work.resolve("registry"), null));
    store = new ImageStore(work.resolve("store"), sys, LayerLimits.DEFAULT);
    client = open(new RegistryClient(Set.of(), FAST));
  }

  @AfterEach
  void stop() throws Exception {
    closer.close();
  }

  private <T extends AutoCloseable> T open(T closeable) {
    return closer.open(closeable);
  }

  private ImageRecord pullIntoFreshStore(String ref, Credentials creds) {
    ImageStore fresh = new ImageStore(work.resolve("fresh-" + System.nanoTime()), sys, LayerLimits.DEFAULT);
    Puller p = open(new Puller(client, fresh));
    return p.pull(ref, creds, null);
  }

  private ImageRecord importBusybox(String ref) {
    return store.importTar(new ByteArrayInputStream(busyboxTar), new ImportRequest(ref, List.of("/bin/sh"), null,
        null, null, null, null));
  }

  @Test
  void pushesAPulledImageByteIdenticalMountingItsLayers() throws Exception {
    TestImages.push(layout, "1", registry.host() + "/busybox:1");
    Puller puller = open(new Puller(client, store));
    ImageRecord pulled = puller.pull(registry.host() + "/busybox:1", null, null);
    store.tag(registry.host() + "/busybox:1", registry.host() + "/copy/busybox:2");
    Recorder events = new Recorder();

    String digest = open(new Pusher(client, store)).push(registry.host() + "/copy/busybox:2", null, events);

    assertEquals(layout.manifestDigest(), digest, "the pulled manifest is pushed byte for byte");
    for (String layer : layout.layerDigests()) {
      assertEquals(PushListener.State.MOUNTED, events.last(layer), events.events.toString());
    }
    assertTrue(events.lines.contains("2: digest: " + digest + " size: "
        + TestImages.blob(layout.dir(), digest).length), events.lines.toString());
    ImageRecord back = pullIntoFreshStore(registry.host() + "/copy/busybox:2", null);
    assertEquals(pulled.id(), back.id());
    assertEquals(pulled.diffIds(), back.diffIds());
    String inspect = TestRegistry.run(List.of(TestImages.SKOPEO.toString(), "inspect", "--tls-verify=false",
        "docker://" + registry.host() + "/copy/busybox:2"));
    assertTrue(inspect.contains(digest), inspect);

    Recorder again = new Recorder();
    assertEquals(digest, open(new Pusher(client, store)).push(registry.host() + "/copy/busybox:2", null, again));
    for (String layer : layout.layerDigests()) {
      assertEquals(PushListener.State.ALREADY_EXISTS, again.last(layer), again.events.toString());
    }
  }

  @Test
  void pushesAnImportedImageInChunksAndAgainAsAlreadyExisting() throws Exception {
    String ref = registry.host() + "/imported:1";
    ImageRecord image = importBusybox(ref);
    TestProxy proxy = open(new TestProxy(registry.host()));
    String viaProxy = proxy.host() + "/imported:1";
    store.tag(ref, viaProxy);
    Recorder events = new Recorder();

    String digest = open(new Pusher(client, store, 64 << 10)).push(viaProxy, null, events);

    assertTrue(proxy.requests().stream().filter(r -> r.method().equals("PATCH")).count() > 2,
        "uploaded in chunks: " + proxy.requests());
    List<PushListener.State> states = events.states(events.events.get(0).digest());
    assertEquals(PushListener.State.PREPARING, states.get(0), states.toString());
    PushListener.LayerEvent pushed = events.events.stream()
        .filter(e -> e.state() == PushListener.State.PUSHED).findFirst().orElseThrow();
    assertTrue(events.events.stream().filter(e -> e.state() == PushListener.State.PUSHING).count() > 2);
    ImageRecord back = pullIntoFreshStore(ref, null);
    assertEquals(image.id(), back.id());
    assertEquals(image.diffIds(), back.diffIds());
    assertEquals(List.of("/bin/sh"), back.config().cmd());
    String raw = TestRegistry.run(List.of(TestImages.SKOPEO.toString(), "inspect", "--raw", "--tls-verify=false",
        "docker://" + ref));
    assertTrue(raw.contains("tar+gzip") && raw.contains(pushed.digest()), raw);

    Recorder again = new Recorder();
    assertEquals(digest, open(new Pusher(client, store)).push(ref, null, again), "deterministic compression");
    assertEquals(PushListener.State.ALREADY_EXISTS, again.last(pushed.digest()), again.events.toString());
  }

  /**
   * Five layers to a registry that has none of them (another host, so nothing to mount), through
   * a proxy that holds each upload a moment: they overlap, no more of them than the pusher's
   * bound, and the config and then the manifest go only when all of them are there.
   */
  @Test
  void uploadsTheLayersConcurrentlyWithinTheBoundThenConfigThenManifest() throws Exception {
    List<byte[]> tars = new java.util.ArrayList<>();
    java.util.Random random = new java.util.Random(5);
    for (int i = 0; i < 5; i++) {
      byte[] data = new byte[256 << 10];
      random.nextBytes(data);
      tars.add(TestImages.tarOf("layer-" + i + "/data", data));
    }
    TestImages.Layout five = TestImages.layered(work.resolve("five"), "5", tars,
        "application/vnd.oci.image.layer.v1.tar+gzip", TestImages.GZIP);
    TestImages.push(five, "5", registry.host() + "/five:1");
    ImageRecord pulled = open(new Puller(client, store)).pull(registry.host() + "/five:1", null, null);
    TestRegistry other = open(TestRegistry.start(work.resolve("other"), null));
    TestProxy proxy = open(new TestProxy(other.host()));
    proxy.delayUploads(Duration.ofMillis(300));
    String ref = proxy.host() + "/five:1";
    store.tag(registry.host() + "/five:1", ref);
    Recorder events = new Recorder();

    String digest = open(new Pusher(client, store, Pusher.DEFAULT_CHUNK_THRESHOLD, 3)).push(ref, null, events);

    assertEquals(five.manifestDigest(), digest);
    int overlap = proxy.maxConcurrentUploads();
    assertTrue(overlap >= 2 && overlap <= 3, "uploads at once: " + overlap + ", expected 2 or 3 of 5 layers");
    for (String layer : five.layerDigests()) {
      assertEquals(PushListener.State.PUSHED, events.last(layer), events.events.toString());
    }
    List<TestProxy.Request> requests = proxy.requests();
    int lastLayer = five.layerDigests().stream().mapToInt(l -> closingPut(requests, l)).max().orElseThrow();
    int config = closingPut(requests, five.configDigest());
    int manifest = requests.indexOf(requests.stream()
        .filter(r -> r.method().equals("PUT") && r.path().contains("/manifests/")).findFirst().orElseThrow());
    assertTrue(lastLayer < config && config < manifest, "layers, then the config, then the manifest: " + requests);
    assertEquals(pulled.id(), pullIntoFreshStore(other.host() + "/five:1", null).id());
  }

  /** Where in {@code requests} the PUT that completes the upload of {@code digest} is. */
  private static int closingPut(List<TestProxy.Request> requests, String digest) {
    for (int i = 0; i < requests.size(); i++) {
      TestProxy.Request r = requests.get(i);
      // The digest may come encoded or not.
      String q = r.query().replace("%3A", ":").replace("%3a", ":");
      if (r.isUpload() && r.method().equals("PUT") && q.contains("digest=" + digest)) {
        return i;
      }
    }
    throw new AssertionError("no upload of " + digest + " in " + requests);
  }

  @Test
  void pushWithBasicAuth() throws Exception {
    Path htpasswdTool = Path.of("/usr/bin/htpasswd");
    assumeTrue(Files.isExecutable(htpasswdTool),
        "skipped: htpasswd (apache2-utils) is not installed, so no bcrypt htpasswd file for the registry");
    Path file = work.resolve("htpasswd");
    Files.writeString(file, TestRegistry.run(List.of(htpasswdTool.toString(), "-Bbn", "berth", "s3cret")).strip() + "\n");
    TestRegistry secured = open(TestRegistry.start(work.resolve("secured"), file));
    String ref = secured.host() + "/busybox:1";
    ImageRecord image = importBusybox(ref);
    Pusher pusher = open(new Pusher(client, store));

    BerthException anonymous = assertThrows(BerthException.class, () -> pusher.push(ref, null, null));
    BerthException wrong = assertThrows(BerthException.class,
        () -> pusher.push(ref, new Credentials("berth", "wrong"), null));
    for (BerthException e : List.of(anonymous, wrong)) {
      assertEquals(BerthException.Kind.FAILED_PRECONDITION, e.kind(), e.getMessage());
      assertTrue(e.getMessage().startsWith("unauthorized: ") && e.getMessage().contains("to push")
          && e.getMessage().contains("use berth login"), e.getMessage());
    }
    pusher.push(ref, new Credentials("berth", "s3cret"), null);
    assertEquals(image.id(), pullIntoFreshStore(ref, new Credentials("berth", "s3cret")).id());
  }

  @Test
  void pushThroughTheBearerTokenFlowAsksForPushScope() throws Exception {
    TestProxy proxy = open(new TestProxy(registry.host()));
    proxy.requireBearer(Map.of("berth", "s3cret"), false);
    String ref = proxy.host() + "/team/app:1";
    ImageRecord image = importBusybox(ref);
    Pusher pusher = open(new Pusher(client, store));

    BerthException anonymous = assertThrows(BerthException.class, () -> pusher.push(ref, null, null));
    assertEquals(BerthException.Kind.FAILED_PRECONDITION, anonymous.kind(), anonymous.getMessage());
    proxy.clear();
    pusher.push(ref, new Credentials("berth", "s3cret"), null);

    List<TestProxy.TokenRequest> tokens = proxy.tokenRequests();
    assertEquals(1, tokens.size(), "one token for the whole push: " + tokens);
    assertEquals(Map.of("service", TestProxy.SERVICE, "scope", "repository:team/app:pull,push", "account", "berth"),
        tokens.get(0).query());
    assertEquals(image.id(), pullIntoFreshStore(registry.host() + "/team/app:1", null).id());
  }

  @Test
  void pushToAClosedPortIsUnavailable() throws Exception {
    int port = TestRegistry.freePort();
    importBusybox("127.0.0.1:" + port + "/busybox:1");

    BerthException e = assertThrows(BerthException.class,
        () -> open(new Pusher(client, store)).push("127.0.0.1:" + port + "/busybox:1", null, null));

    assertEquals(BerthException.Kind.UNAVAILABLE, e.kind());
    assertTrue(e.getMessage().contains("127.0.0.1:" + port), e.getMessage());
  }

  @Test
  void pushOfAnUnknownImageIsNotFound() {
    BerthException e = assertThrows(BerthException.class,
        () -> open(new Pusher(client, store)).push(registry.host() + "/nothing:1", null, null));
    assertEquals(BerthException.Kind.NOT_FOUND, e.kind());
    assertTrue(e.getMessage().startsWith("No such image: "), e.getMessage());
  }

  /** Records what a push reports. */
  private static final class Recorder implements PushListener {
    final List<LayerEvent> events = new CopyOnWriteArrayList<>();
    final List<String> lines = new CopyOnWriteArrayList<>();

    @Override
    public void layer(LayerEvent e) {
      events.add(e);
    }

    @Override
    public void status(String line) {
      lines.add(line);
    }

    List<State> states(String digest) {
      return events.stream().filter(e -> e.digest().equals(digest)).map(LayerEvent::state).toList();
    }

    State last(String digest) {
      List<State> s = states(digest);
      return s.isEmpty() ? null : s.get(s.size() - 1);
    }
  }
}
