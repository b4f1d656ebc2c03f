package dev.berth.agent.registry;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.agent.BerthException;
import dev.berth.agent.image.ImageRecord;
import dev.berth.agent.image.ImageStore;
import dev.berth.agent.image.LayerLimits;
import dev.berth.agent.image.Reference;
import dev.berth.agent.it.BusyboxImage;
import dev.berth.agent.runtime.RecordingSyscalls;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pulls from a real registry (Debian's docker-registry on 127.0.0.1), images built with umoci
 * and pushed with skopeo; the store uses {@link RecordingSyscalls}, so no root is needed.
 */
@Tag("registry")
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class RegistryPullTest {
  private static final RegistryClient.Settings FAST = new RegistryClient.Settings(Duration.ofSeconds(5),
      Duration.ofSeconds(20), Duration.ofSeconds(10), 3, 4, Duration.ofMillis(20));

  @TempDir static Path images;
  private static TestImages.Layout layout;

  @TempDir Path work;
  private final RecordingSyscalls sys = new RecordingSyscalls();
  private final Closer closer = new Closer();
  private TestRegistry registry;
  private ImageStore store;
  private RegistryClient client;
  private Puller puller;

  @BeforeAll
  static void buildImages() throws Exception {
    TestImages.assumeTools();
    layout = TestImages.build(images);
  }

  @BeforeEach
  void start() throws Exception {
    registry = open(TestRegistry.start(work.resolve("registry"), null));
    store = new ImageStore(work.resolve("store"), sys, LayerLimits.DEFAULT);
    client = open(new RegistryClient(Set.of(), FAST));
    puller = open(new Puller(client, store));
  }

  @AfterEach
  void stop() throws Exception {
    closer.close();
  }

  private <T extends AutoCloseable> T open(T closeable) {
    return closer.open(closeable);
  }

  // ---- the formats

  @Test
  void pullsAnOciImageAndItsWhiteout() throws Exception {
    TestImages.push(layout, "1", registry.host() + "/busybox:1");
    Recorder events = new Recorder();

    ImageRecord image = puller.pull(registry.host() + "/busybox:1", null, events);

    assertEquals(layout.configDigest(), image.id());
    assertEquals(List.of(registry.host() + "/busybox:1"), image.repoTags());
    assertEquals(List.of(registry.host() + "/busybox@" + layout.manifestDigest()), image.repoDigests());
    assertEquals(List.of("/bin/sh"), image.config().cmd());
    assertEquals(2, image.diffIds().size());
    List<Path> dirs = store.layerDirs(image);
    Path base = dirs.get(0);
    assertEquals(Files.size(BusyboxImage.BUSYBOX), Files.size(base.resolve("bin/busybox")));
    assertEquals("busybox", Files.readSymbolicLink(base.resolve("bin/sh")).toString());
    assertTrue(Files.readString(base.resolve("etc/passwd")).startsWith("root:x:0:0:"));
    assertTrue(Files.exists(base.resolve(TestImages.GONE)));
    assertWhiteout(dirs.get(1));

    for (String layer : layout.layerDigests()) {
      List<PullListener.State> states = events.states(layer);
      assertEquals(PullListener.State.WAITING, states.get(0), states.toString());
      assertTrue(states.contains(PullListener.State.DOWNLOADING), states.toString());
      assertEquals(List.of(PullListener.State.VERIFYING, PullListener.State.EXTRACTING, PullListener.State.DONE),
          states.subList(states.size() - 3, states.size()));
    }
    assertTrue(events.lines.contains("Digest: " + layout.manifestDigest()), events.lines.toString());
    assertTrue(events.lines.contains("Status: Downloaded newer image for " + registry.host() + "/busybox:1"),
        events.lines.toString());

    // The index keeps the repo digest: the image is found by it, after a restart too.
    ImageStore reopened = new ImageStore(work.resolve("store"), sys, LayerLimits.DEFAULT);
    assertEquals(image.id(), reopened.get(registry.host() + "/busybox@" + layout.manifestDigest()).id());
    assertEquals(image.repoDigests(), reopened.get(registry.host() + "/busybox:1").repoDigests());
  }

  /**
   * zstd layers (the OCI 1.1 media type), compressed by the zstd library the store reads them
   * with; the base layer as several frames, as a streaming compressor may write it.
   */
  @Test
  void pullsAnImageWithZstdLayers() throws Exception {
    byte[] busybox = BusyboxImage.tar();
    byte[] extra = TestImages.tarOf("etc/zstd", "from a zstd layer\n".getBytes(StandardCharsets.UTF_8));
    TestImages.Layout zstd = TestImages.layered(images.resolve("zstd"), "z", List.of(busybox, extra),
        "application/vnd.oci.image.layer.v1.tar+zstd", tar -> {
          int half = tar.length / 2;
          java.io.ByteArrayOutputStream frames = new java.io.ByteArrayOutputStream();
          frames.writeBytes(com.github.luben.zstd.Zstd.compress(java.util.Arrays.copyOf(tar, half), 3));
          frames.writeBytes(com.github.luben.zstd.Zstd.compress(java.util.Arrays.copyOfRange(tar, half, tar.length), 3));
          return frames.toByteArray();
        });
    TestImages.push(zstd, "z", registry.host() + "/busybox:zstd");
    String raw = TestRegistry.run(List.of(TestImages.SKOPEO.toString(), "inspect", "--raw", "--tls-verify=false",
        "docker://" + registry.host() + "/busybox:zstd"));
    assertTrue(raw.contains("tar+zstd") && raw.contains(zstd.layerDigests().get(0)), "the registry serves zstd: " + raw);

    ImageRecord image = puller.pull(registry.host() + "/busybox:zstd", null, null);

    assertEquals(zstd.configDigest(), image.id());
    assertEquals(List.of(RegistryClient.sha256(busybox), RegistryClient.sha256(extra)), image.diffIds());
    List<Path> dirs = store.layerDirs(image);
    assertEquals(Files.size(BusyboxImage.BUSYBOX), Files.size(dirs.get(0).resolve("bin/busybox")));
    assertEquals("from a zstd layer\n", Files.readString(dirs.get(1).resolve("etc/zstd")));
  }

  @Test
  void pullsADockerSchema2Image() throws Exception {
    TestImages.push(layout, "1", registry.host() + "/busybox:v2s2", "--format", "v2s2");
    Reference ref = Reference.parse(registry.host() + "/busybox:v2s2");
    RegistryClient.Manifest served = client.manifest(ref, "v2s2", null);
    assertEquals(Manifests.DOCKER_MANIFEST, served.mediaType());

    ImageRecord image = puller.pull(ref.toString(), null, null);

    assertEquals(layout.configDigest(), image.id());
    assertEquals(List.of(ref.name() + "@" + served.digest()), image.repoDigests());
    assertNotEquals(layout.manifestDigest(), served.digest());
    List<Path> dirs = store.layerDirs(image);
    assertTrue(Files.isRegularFile(dirs.get(0).resolve("bin/busybox")));
    assertWhiteout(dirs.get(1));
  }

  @Test
  void picksTheHostPlatformFromAnIndex() throws Exception {
    String arch = Platform.host().architecture();
    assumeTrue(arch.equals("amd64") || arch.equals("arm64"), "the test index has amd64 and arm64 only, not " + arch);
    TestImages.push(layout, "multi", registry.host() + "/busybox:multi", "--all");
    Reference ref = Reference.parse(registry.host() + "/busybox:multi");
    assertEquals(Manifests.OCI_INDEX, client.manifest(ref, "multi", null).mediaType());

    ImageRecord image = puller.pull(ref.toString(), null, null);

    assertEquals(arch, image.architecture());
    assertEquals(layout.configByArchitecture().get(arch), image.id());
    assertEquals(List.of(ref.name() + "@" + layout.indexDigest()), image.repoDigests(),
        "the repo digest is the index's, as it was asked for");
    assertTrue(Files.isRegularFile(store.layerDirs(image).get(0).resolve("bin/busybox")));
  }

  @Test
  void anIndexWithoutTheHostPlatformIsNotFound() throws Exception {
    TestImages.push(layout, "multi", registry.host() + "/busybox:multi", "--all");
    Puller s390x = open(new Puller(client, store, 2, new Platform("linux", "s390x", "")));

    BerthException e = assertThrows(BerthException.class,
        () -> s390x.pull(registry.host() + "/busybox:multi", null, null));

    assertEquals(BerthException.Kind.NOT_FOUND, e.kind());
    assertTrue(e.getMessage().contains("linux/s390x") && e.getMessage().contains(registry.host() + "/busybox:multi")
        && e.getMessage().contains("linux/amd64") && e.getMessage().contains("linux/arm64/v8"), e.getMessage());
    assertNothingStored();
  }

  // ---- what is downloaded

  @Test
  void aSecondPullDownloadsNothing() throws Exception {
    TestImages.push(layout, "1", registry.host() + "/busybox:1");
    TestProxy proxy = open(new TestProxy(registry.host()));
    ImageRecord first = puller.pull(proxy.host() + "/busybox:1", null, null);
    assertEquals(3, proxy.blobGets(), "a config and two layers: " + proxy.requests());
    proxy.clear();
    Recorder events = new Recorder();

    ImageRecord again = puller.pull(proxy.host() + "/busybox:1", null, events);

    assertEquals(first.id(), again.id());
    assertEquals(0, proxy.blobGets(), proxy.requests().toString());
    for (String layer : layout.layerDigests()) {
      assertEquals(List.of(PullListener.State.WAITING, PullListener.State.ALREADY_EXISTS), events.states(layer));
    }
    assertTrue(events.lines.contains("Status: Image is up to date for " + proxy.host() + "/busybox:1"),
        events.lines.toString());
  }

  @Test
  void concurrentPullsFetchEachLayerOnce() throws Exception {
    TestImages.push(layout, "1", registry.host() + "/busybox:oci");
    TestImages.push(layout, "1", registry.host() + "/busybox:docker", "--format", "v2s2");
    TestProxy proxy = open(new TestProxy(registry.host()));
    proxy.delayBlobs(Duration.ofMillis(300)); // so that the pulls overlap
    CountDownLatch go = new CountDownLatch(1);
    List<CompletableFuture<ImageRecord>> pulls = new ArrayList<>();
    List<Recorder> events = List.of(new Recorder(), new Recorder());
    List<String> tags = List.of("oci", "docker");
    for (int i = 0; i < 2; i++) {
      String tag = tags.get(i);
      Recorder recorder = events.get(i);
      pulls.add(CompletableFuture.supplyAsync(() -> {
        try {
          go.await();
        } catch (InterruptedException e) {
          throw new IllegalStateException(e);
        }
        return puller.pull(proxy.host() + "/busybox:" + tag, null, recorder);
      }));
    }
    go.countDown();

    ImageRecord oci = pulls.get(0).get(2, TimeUnit.MINUTES);
    ImageRecord docker = pulls.get(1).get(2, TimeUnit.MINUTES);

    assertEquals(oci.id(), docker.id(), "the same config");
    assertEquals(Set.of(proxy.host() + "/busybox:oci", proxy.host() + "/busybox:docker"),
        Set.copyOf(store.get(oci.id()).repoTags()));
    for (String layer : layout.layerDigests()) {
      assertEquals(1, proxy.blobGets(layer).size(), "fetched once: " + layer + " in " + proxy.requests());
      assertEquals(1, events.stream().filter(r -> r.states(layer).contains(PullListener.State.DOWNLOADING)).count(),
          "one pull downloads, the other waits for it or finds it there");
    }
  }

  @Test
  void resumesABrokenDownload() throws Exception {
    TestImages.push(layout, "1", registry.host() + "/busybox:1");
    TestProxy proxy = open(new TestProxy(registry.host()));
    String big = layout.layerDigests().get(0);
    proxy.cutNextBlob(big, 100_000);

    ImageRecord image = puller.pull(proxy.host() + "/busybox:1", null, null);

    List<TestProxy.Request> gets = proxy.blobGets(big);
    assertEquals(2, gets.size(), gets.toString());
    assertEquals("bytes=100000-", gets.get(1).range(), "resumed where it broke");
    assertArrayEquals(Files.readAllBytes(BusyboxImage.BUSYBOX),
        Files.readAllBytes(store.layerDirs(image).get(0).resolve("bin/busybox")), "the unpack went on with the rest");
    assertNoTemporaries();
  }

  @Test
  void aDownloadThatStartsOverAfterADropUnpacksFromScratch() throws Exception {
    TestImages.push(layout, "1", registry.host() + "/busybox:1");
    TestProxy proxy = open(new TestProxy(registry.host()));
    proxy.withoutRanges();
    String big = layout.layerDigests().get(0);
    proxy.cutNextBlob(big, 300_000); // the unpack has begun: busybox is at the start of the layer
    Recorder events = new Recorder();

    ImageRecord image = puller.pull(proxy.host() + "/busybox:1", null, events);

    List<TestProxy.Request> gets = proxy.blobGets(big);
    assertEquals(2, gets.size(), gets.toString());
    List<PullListener.LayerEvent> downloading = events.layers.stream()
        .filter(e -> e.digest().equals(big) && e.state() == PullListener.State.DOWNLOADING).toList();
    assertTrue(downloading.stream().dropWhile(e -> e.doneBytes() == 0).anyMatch(e -> e.doneBytes() == 0),
        "started over: " + downloading);
    Path base = store.layerDirs(image).get(0);
    assertArrayEquals(Files.readAllBytes(BusyboxImage.BUSYBOX), Files.readAllBytes(base.resolve("bin/busybox")));
    assertTrue(Files.readString(base.resolve("etc/passwd")).startsWith("root:x:0:0:"));
    assertWhiteout(store.layerDirs(image).get(1));
    assertNoTemporaries();
    List<PullListener.State> states = events.states(big);
    assertEquals(List.of(PullListener.State.VERIFYING, PullListener.State.EXTRACTING, PullListener.State.DONE),
        states.subList(states.size() - 3, states.size()));
  }

  @Test
  void givesUpAStalledDownloadAndResumesIt() throws Exception {
    TestImages.push(layout, "1", registry.host() + "/busybox:1");
    TestProxy proxy = open(new TestProxy(registry.host()));
    String big = layout.layerDigests().get(0);
    proxy.stallNextBlob(big, 200_000, Duration.ofSeconds(60));
    RegistryClient impatient = open(new RegistryClient(Set.of(), new RegistryClient.Settings(Duration.ofSeconds(5),
        Duration.ofSeconds(20), Duration.ofSeconds(1), 3, 4, Duration.ofMillis(20))));
    Puller p = open(new Puller(impatient, store));
    long start = System.nanoTime();

    ImageRecord image = p.pull(proxy.host() + "/busybox:1", null, null);

    assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(30), "did not wait for the stalled answer");
    List<TestProxy.Request> gets = proxy.blobGets(big);
    assertEquals(2, gets.size(), gets.toString());
    assertEquals("bytes=200000-", gets.get(1).range());
    assertEquals(Files.size(BusyboxImage.BUSYBOX), Files.size(store.layerDirs(image).get(0).resolve("bin/busybox")));
    assertFalse(Thread.currentThread().isInterrupted());
  }

  // ---- failures

  @Test
  void aTamperedBlobFailsAndLeavesNothingBehind() throws Exception {
    TestImages.push(layout, "1", registry.host() + "/busybox:1");
    String layer = layout.layerDigests().get(0);
    Path data = registry.blobData(layer);
    byte[] bytes = Files.readAllBytes(data);
    for (int i = bytes.length / 2; i < bytes.length / 2 + 64; i++) {
      bytes[i] ^= 0x5a;
    }
    Files.write(data, bytes); // the same size, other content

    BerthException e = assertThrows(BerthException.class,
        () -> puller.pull(registry.host() + "/busybox:1", null, null));

    assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind());
    assertTrue(e.getMessage().contains(layer) && e.getMessage().contains("digest"), e.getMessage());
    assertNothingStored();
  }

  @Test
  void anUnknownTagIsNotFound() throws Exception {
    TestImages.push(layout, "1", registry.host() + "/busybox:1");

    BerthException e = assertThrows(BerthException.class,
        () -> puller.pull(registry.host() + "/busybox:nope", null, null));

    assertEquals(BerthException.Kind.NOT_FOUND, e.kind());
    assertTrue(e.getMessage().contains("manifest unknown: " + registry.host() + "/busybox:nope"), e.getMessage());
    BerthException repo = assertThrows(BerthException.class,
        () -> puller.pull(registry.host() + "/nothing/here", null, null));
    assertEquals(BerthException.Kind.NOT_FOUND, repo.kind(), repo.getMessage());
    assertNothingStored();
  }

  @Test
  void aClosedPortIsUnavailable() throws Exception {
    int port = TestRegistry.freePort();

    BerthException e = assertThrows(BerthException.class,
        () -> puller.pull("127.0.0.1:" + port + "/busybox:1", null, null));

    assertEquals(BerthException.Kind.UNAVAILABLE, e.kind());
    assertTrue(e.getMessage().contains("127.0.0.1:" + port) && e.getMessage().contains("connection refused"),
        e.getMessage());
  }

  // ---- auth

  @Test
  void basicAuthWithHtpasswd() throws Exception {
    Path htpasswdTool = Path.of("/usr/bin/htpasswd");
    assumeTrue(Files.isExecutable(htpasswdTool),
        "skipped: htpasswd (apache2-utils) is not installed, so no bcrypt htpasswd file for the registry");
    Path file = work.resolve("htpasswd");
    Files.writeString(file, TestRegistry.run(List.of(htpasswdTool.toString(), "-Bbn", "berth", "s3cret")).strip() + "\n");
    TestRegistry secured = open(TestRegistry.start(work.resolve("secured"), file));
    TestImages.push(layout, "1", secured.host() + "/busybox:1", "--dest-creds", "berth:s3cret");
    String ref = secured.host() + "/busybox:1";

    BerthException anonymous = assertThrows(BerthException.class, () -> puller.pull(ref, null, null));
    BerthException wrong = assertThrows(BerthException.class,
        () -> puller.pull(ref, new Credentials("berth", "wrong"), null));
    ImageRecord image = puller.pull(ref, new Credentials("berth", "s3cret"), null);
    BerthException wrongAfterRight = assertThrows(BerthException.class,
        () -> puller.pull(ref, new Credentials("berth", "wrong"), null));

    for (BerthException e : List.of(anonymous, wrong, wrongAfterRight)) {
      assertEquals(BerthException.Kind.FAILED_PRECONDITION, e.kind());
      assertTrue(e.getMessage().startsWith("unauthorized: ") && e.getMessage().contains("use berth login")
          && e.getMessage().contains(secured.host()), e.getMessage());
    }
    assertEquals(layout.configDigest(), image.id());
  }

  @Test
  void loginChecksCredentialsWithBasicAuth() throws Exception {
    Path htpasswdTool = Path.of("/usr/bin/htpasswd");
    assumeTrue(Files.isExecutable(htpasswdTool),
        "skipped: htpasswd (apache2-utils) is not installed, so no bcrypt htpasswd file for the registry");
    Path file = work.resolve("htpasswd-login");
    Files.writeString(file, TestRegistry.run(List.of(htpasswdTool.toString(), "-Bbn", "berth", "s3cret")).strip() + "\n");
    TestRegistry secured = open(TestRegistry.start(work.resolve("secured-login"), file));

    client.login(secured.host(), new Credentials("berth", "s3cret"));
    BerthException wrong = assertThrows(BerthException.class,
        () -> client.login(secured.host(), new Credentials("berth", "wrong")));
    assertEquals(BerthException.Kind.FAILED_PRECONDITION, wrong.kind());
    assertTrue(wrong.getMessage().startsWith("unauthorized: " + secured.host()), wrong.getMessage());
    // A registry without authentication accepts anyone, as with docker login.
    client.login(registry.host(), new Credentials("anyone", "anything"));
  }

  @Test
  void loginThroughTheBearerTokenFlow() throws Exception {
    TestProxy proxy = open(new TestProxy(registry.host()));
    proxy.requireBearer(Map.of("berth", "s3cret"), false);
    client.login(proxy.host(), new Credentials("berth", "s3cret"));
    BerthException wrong = assertThrows(BerthException.class,
        () -> client.login(proxy.host(), new Credentials("berth", "wrong")));
    assertTrue(wrong.getMessage().startsWith("unauthorized: "), wrong.getMessage());
  }

  @Test
  void loginToNothingIsUnavailable() throws Exception {
    int port = TestRegistry.freePort();
    BerthException e = assertThrows(BerthException.class,
        () -> client.login("127.0.0.1:" + port, new Credentials("berth", "s3cret")));
    assertEquals(BerthException.Kind.UNAVAILABLE, e.kind());
    assertTrue(e.getMessage().contains("127.0.0.1:" + port), e.getMessage());
  }

  @Test
  void bearerTokenFlow() throws Exception {
    TestImages.push(layout, "1", registry.host() + "/busybox:1");
    TestProxy proxy = open(new TestProxy(registry.host()));
    proxy.requireBearer(Map.of("berth", "s3cret"), false);
    String ref = proxy.host() + "/busybox:1";

    BerthException anonymous = assertThrows(BerthException.class, () -> puller.pull(ref, null, null));
    BerthException wrong = assertThrows(BerthException.class,
        () -> puller.pull(ref, new Credentials("berth", "wrong"), null));
    proxy.clear();
    ImageRecord image = puller.pull(ref, new Credentials("berth", "s3cret"), null);

    for (BerthException e : List.of(anonymous, wrong)) {
      assertEquals(BerthException.Kind.FAILED_PRECONDITION, e.kind());
      assertTrue(e.getMessage().startsWith("unauthorized: ") && e.getMessage().contains("use berth login"),
          e.getMessage());
    }
    assertEquals(layout.configDigest(), image.id());
    List<TestProxy.TokenRequest> tokens = proxy.tokenRequests();
    assertEquals(1, tokens.size(), "one token for the whole pull: " + tokens);
    assertEquals(Map.of("service", TestProxy.SERVICE, "scope", "repository:busybox:pull", "account", "berth"),
        tokens.get(0).query());
    assertTrue(proxy.requests().stream().filter(TestProxy.Request::isBlobGet)
        .allMatch(r -> r.authorization() != null && r.authorization().startsWith("Bearer ")));

    // access_token instead of token; the cached token is still good for a second pull.
    proxy.requireBearer(Map.of("berth", "s3cret"), true);
    proxy.clear();
    Puller other = open(new Puller(open(new RegistryClient(Set.of(), FAST)), store));
    store.remove(image.id(), true, id -> false);
    assertEquals(image.id(), other.pull(ref, new Credentials("berth", "s3cret"), null).id());
    assertEquals(1, proxy.tokenRequests().size());
    puller.pull(ref, new Credentials("berth", "s3cret"), null);
    assertEquals(1, proxy.tokenRequests().size(), "the first client's token is cached");
  }

  @Test
  void aLayerThatIsNotItsDiffIdFailsAndLeavesNothingBehind() throws Exception {
    TestImages.push(layout, "lying", registry.host() + "/busybox:lying");

    BerthException e = assertThrows(BerthException.class,
        () -> puller.pull(registry.host() + "/busybox:lying", null, null));

    assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind());
    String first = layout.layerDigests().get(0);
    assertTrue(e.getMessage().contains(first) && e.getMessage().contains("unpacks to")
        && e.getMessage().contains("but the image config lists"), e.getMessage());
    assertNothingStored();
  }

  // ---- helpers

  /** No temporary blob or snapshot in the store. */
  private void assertNoTemporaries() throws IOException {
    Set<String> all = new TreeSet<>(names(work.resolve("store/blobs/sha256")));
    all.addAll(names(work.resolve("store/snapshots")));
    assertTrue(all.stream().noneMatch(n -> n.startsWith(".tmp-")), all.toString());
  }

  /**
   * The deleted file is an overlay whiteout (char device 0/0) in the upper layer: mknod was
   * called for it in the layer's temporary snapshot, which became {@code layerDir}.
   */
  private void assertWhiteout(Path layerDir) {
    List<RecordingSyscalls.Call> mknods = sys.calls("mknod");
    assertEquals(1, mknods.size(), mknods.toString());
    Path at = (Path) mknods.get(0).arg(0);
    Path snapshot = at.getParent().getParent();
    assertTrue(snapshot.getFileName().toString().startsWith(".tmp-"), at.toString());
    assertEquals(Path.of(TestImages.GONE), snapshot.relativize(at));
    assertEquals(List.of('c', 0, 0, 0), mknods.get(0).args().subList(1, 5));
    assertTrue(Files.exists(layerDir.resolve(TestImages.GONE), LinkOption.NOFOLLOW_LINKS),
        "the whiteout's stand-in moved with its snapshot");
    assertFalse(Files.exists(snapshot, LinkOption.NOFOLLOW_LINKS));
  }

  private void assertNothingStored() throws IOException {
    assertEquals(List.of(), store.list());
    assertEquals(Set.of(), names(work.resolve("store/blobs/sha256")), "no blob, no temporary");
    assertEquals(Set.of(), names(work.resolve("store/snapshots")), "no snapshot, no temporary");
  }

  private static Set<String> names(Path dir) throws IOException {
    if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
      return Set.of();
    }
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).collect(Collectors.toCollection(TreeSet::new));
    }
  }

  /** Records what a pull reports. */
  static final class Recorder implements PullListener {
    final List<LayerEvent> layers = new CopyOnWriteArrayList<>();
    final List<String> lines = new CopyOnWriteArrayList<>();

    @Override
    public void layer(LayerEvent event) {
      layers.add(event);
    }

    @Override
    public void status(String line) {
      lines.add(line);
    }

    /** The states of one layer, repeated DOWNLOADING events folded into one. */
    List<State> states(String digest) {
      List<State> out = new ArrayList<>();
      for (LayerEvent e : layers) {
        if (e.digest().equals(digest) && (out.isEmpty() || out.get(out.size() - 1) != e.state())) {
          out.add(e.state());
        }
      }
      return out;
    }
  }
}
