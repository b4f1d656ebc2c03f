package dev.berth.agent.image;

import static dev.berth.agent.image.Tars.tar;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.berth.agent.BerthException;
import dev.berth.agent.runtime.RecordingSyscalls;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** {@link Ingest}: how pulled content gets into the store, without a registry. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ImageStoreIngestTest {
  private static final byte[] LAYER = tar().dir("bin/", 0755).file("bin/sh", "#!shell\n", 0755, e -> {})
      .file("etc/motd", "hello\n").build();
  private static final byte[] BLOB = Tars.gzip(LAYER);
  private static final byte[] OTHER_LAYER = tar().file("other", "other content").build();
  private static final byte[] MANIFEST = "{\"schemaVersion\":2}".getBytes(StandardCharsets.UTF_8);
  private static final String GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";

  @TempDir Path root;
  private final RecordingSyscalls sys = new RecordingSyscalls();
  private ImageStore store;

  @BeforeEach
  void open() {
    store = new ImageStore(root, sys, LayerLimits.DEFAULT);
  }

  private static String sha256(byte[] data) throws Exception {
    return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
  }

  private static Ingest.LayerSpec spec(byte[] blob, byte[] tar) throws Exception {
    return new Ingest.LayerSpec(sha256(blob), blob.length, GZIP, sha256(tar));
  }

  private static Ingest.BlobSource source(byte[] blob) {
    return sink -> sink.write(blob, 0, blob.length);
  }

  private static final Ingest.BlobSource NEVER = sink -> fail("the layer is in the store: nothing to download");

  private static byte[] config(String cmd, String... diffIds) {
    String ids = Stream.of(diffIds).map(d -> "\"" + d + "\"").collect(Collectors.joining(","));
    return ("{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"2024-01-02T03:04:05Z\",\"config\":{\"Cmd\":[\""
        + cmd + "\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[" + ids + "]}}").getBytes(StandardCharsets.UTF_8);
  }

  private Set<String> names(String dir) throws IOException {
    try (Stream<Path> s = Files.list(root.resolve(dir))) {
      return s.map(p -> p.getFileName().toString()).collect(Collectors.toCollection(TreeSet::new));
    }
  }

  private void assertNothingLeft() throws IOException {
    assertEquals(Set.of(), names("blobs/sha256"), "no blob, no temporary");
    assertEquals(Set.of(), names("snapshots"), "no snapshot, no temporary");
  }

  private ImageRecord pull(byte[] blob, byte[] tar, String cmd, String tag) throws Exception {
    try (Ingest ingest = store.ingest()) {
      ingest.layer(spec(blob, tar), source(blob), p -> {});
      return ingest.commit(MANIFEST, config(cmd, sha256(tar)), List.of(sha256(blob)), Reference.parse(tag),
          Reference.parse(tag).name() + "@" + sha256(MANIFEST));
    }
  }

  @Test
  void storesAVerifiedLayerAndCommitsTheImage() throws Exception {
    List<Ingest.Phase> phases = new ArrayList<>();
    ImageRecord image;
    try (Ingest ingest = store.ingest()) {
      assertEquals(Ingest.Outcome.STORED, ingest.layer(spec(BLOB, LAYER), source(BLOB), phases::add));
      image = ingest.commit(MANIFEST, config("sh", sha256(LAYER)), List.of(sha256(BLOB)),
          Reference.parse("registry.example/app:1"), "registry.example/app@" + sha256(MANIFEST));
    }

    assertEquals(List.of(Ingest.Phase.VERIFYING, Ingest.Phase.EXTRACTING), phases);
    assertEquals(sha256(config("sh", sha256(LAYER))), image.id());
    assertEquals(List.of("registry.example/app:1"), image.repoTags());
    assertEquals(List.of("registry.example/app@" + sha256(MANIFEST)), image.repoDigests());
    assertEquals(List.of(sha256(LAYER)), image.diffIds());
    assertEquals(List.of("sh"), image.config().cmd());
    assertEquals("hello\n", Files.readString(store.layerDirs(image).get(0).resolve("etc/motd")));
    assertTrue(names("blobs/sha256").containsAll(Set.of(sha256(BLOB).substring(7), image.id().substring(7),
        sha256(MANIFEST).substring(7))));
    assertEquals(image.id(), store.get("registry.example/app@" + sha256(MANIFEST)).id());

    ImageStore reopened = new ImageStore(root, sys, LayerLimits.DEFAULT);
    assertEquals(image, reopened.get("registry.example/app:1"));

    RemoveResult removed = reopened.remove("registry.example/app:1", false, id -> false);
    assertEquals(List.of("registry.example/app:1", "registry.example/app@" + sha256(MANIFEST)), removed.untagged());
    assertNothingLeft();
  }

  @Test
  void aLayerInTheStoreIsNotDownloadedAgain() throws Exception {
    ImageRecord first = pull(BLOB, LAYER, "sh", "app:1");
    try (Ingest ingest = store.ingest()) {
      assertEquals(Ingest.Outcome.ALREADY_EXISTS, ingest.layer(spec(BLOB, LAYER), NEVER, p -> {}));
      assertEquals(first.id(), ingest.storedConfig(first.id()).map(c -> {
        try {
          return sha256(c);
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      }).orElseThrow());
      ImageRecord second = ingest.commit(MANIFEST, config("other", sha256(LAYER)), List.of(sha256(BLOB)),
          Reference.parse("app:2"), null);
      assertEquals(store.layerDirs(first), store.layerDirs(second), "one snapshot for both");
    }
  }

  @Test
  void contentThatDoesNotMatchItsDigestLeavesNothing() throws Exception {
    byte[] tampered = BLOB.clone();
    tampered[tampered.length / 2] ^= 1;
    try (Ingest ingest = store.ingest()) {
      BerthException e = assertThrows(BerthException.class,
          () -> ingest.layer(spec(BLOB, LAYER), source(tampered), p -> {}));
      assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind());
      assertTrue(e.getMessage().contains(sha256(BLOB)) && e.getMessage().contains("digest"), e.getMessage());
    }
    assertNothingLeft();
  }

  @Test
  void aLayerThatIsNotItsDiffIdLeavesNothing() throws Exception {
    Ingest.LayerSpec lying = new Ingest.LayerSpec(sha256(BLOB), BLOB.length, GZIP, sha256(OTHER_LAYER));
    try (Ingest ingest = store.ingest()) {
      BerthException e = assertThrows(BerthException.class, () -> ingest.layer(lying, source(BLOB), p -> {}));
      assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind());
      assertTrue(e.getMessage().contains("unpacks to " + sha256(LAYER)), e.getMessage());
    }
    assertNothingLeft();
  }

  @Test
  void moreBytesThanTheDescriptorSaysAreRefused() throws Exception {
    Ingest.LayerSpec small = new Ingest.LayerSpec(sha256(BLOB), BLOB.length - 1, GZIP, sha256(LAYER));
    try (Ingest ingest = store.ingest()) {
      BerthException e = assertThrows(BerthException.class, () -> ingest.layer(small, source(BLOB), p -> {}));
      assertTrue(e.getMessage().contains("more bytes"), e.getMessage());
      Ingest.LayerSpec large = new Ingest.LayerSpec(sha256(BLOB), BLOB.length + 1, GZIP, sha256(LAYER));
      e = assertThrows(BerthException.class, () -> ingest.layer(large, source(BLOB), p -> {}));
      assertTrue(e.getMessage().contains("its descriptor says " + (BLOB.length + 1)), e.getMessage());
    }
    assertNothingLeft();
  }

  @Test
  void xzLayersAreRefused() throws Exception {
    byte[] xz = {(byte) 0xfd, '7', 'z', 'X', 'Z', 0, 0, 0};
    Ingest.LayerSpec spec = new Ingest.LayerSpec(sha256(xz), xz.length, GZIP, sha256(LAYER));
    try (Ingest ingest = store.ingest()) {
      BerthException e = assertThrows(BerthException.class, () -> ingest.layer(spec, source(xz), p -> {}));
      assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind());
      assertTrue(e.getMessage().contains("xz") && e.getMessage().contains(sha256(xz)), e.getMessage());
    }
    assertNothingLeft();
  }

  @Test
  void aZstdLayerIsUnpackedAndVerifiedAgainstItsDiffId() throws Exception {
    byte[] zstd = com.github.luben.zstd.Zstd.compress(LAYER);
    Ingest.LayerSpec spec = new Ingest.LayerSpec(sha256(zstd), zstd.length, "application/vnd.oci.image.layer.v1.tar+zstd",
        sha256(LAYER));
    try (Ingest ingest = store.ingest()) {
      assertEquals(Ingest.Outcome.STORED, ingest.layer(spec, source(zstd), p -> {}));
    }
  }

  @Test
  void anIngestClosedWithoutCommitLeavesNothing() throws Exception {
    try (Ingest ingest = store.ingest()) {
      ingest.layer(spec(BLOB, LAYER), source(BLOB), p -> {});
      assertTrue(names("snapshots").contains(sha256(LAYER).substring(7)));
    }
    assertNothingLeft();
    assertEquals(List.of(), store.list());
  }

  @Test
  void theConfigMustListTheLayers() throws Exception {
    try (Ingest ingest = store.ingest()) {
      ingest.layer(spec(BLOB, LAYER), source(BLOB), p -> {});
      BerthException e = assertThrows(BerthException.class, () -> ingest.commit(MANIFEST,
          config("sh", sha256(OTHER_LAYER)), List.of(sha256(BLOB)), Reference.parse("app:1"), null));
      assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind());
      assertTrue(e.getMessage().contains("rootfs.diff_ids"), e.getMessage());
      assertThrows(BerthException.class, () -> ingest.commit(MANIFEST, "[]".getBytes(StandardCharsets.UTF_8),
          List.of(sha256(BLOB)), null, null));
    }
    assertNothingLeft();
  }

  @Test
  void aHeldLayerOutlivesTheRemovalOfItsImage() throws Exception {
    ImageRecord first = pull(BLOB, LAYER, "sh", "app:1");
    try (Ingest ingest = store.ingest()) {
      assertEquals(Ingest.Outcome.ALREADY_EXISTS, ingest.layer(spec(BLOB, LAYER), NEVER, p -> {}));
      store.remove(first.id(), true, id -> false);
      assertTrue(names("snapshots").contains(sha256(LAYER).substring(7)), "held by the ingest");
      ImageRecord second = ingest.commit(MANIFEST, config("two", sha256(LAYER)), List.of(sha256(BLOB)),
          Reference.parse("app:2"), null);
      assertEquals("hello\n", Files.readString(store.layerDirs(second).get(0).resolve("etc/motd")));
    }
    assertTrue(names("snapshots").contains(sha256(LAYER).substring(7)), "the second image has it");
  }

  @Test
  @SuppressWarnings("try") // a is closed early on purpose
  void concurrentIngestsDownloadALayerOnce() throws Exception {
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch finish = new CountDownLatch(1);
    AtomicInteger downloads = new AtomicInteger();
    Ingest.BlobSource slow = sink -> {
      downloads.incrementAndGet();
      sink.write(BLOB, 0, 10);
      started.countDown();
      await(finish);
      sink.write(BLOB, 10, BLOB.length - 10);
    };
    try (Ingest a = store.ingest(); Ingest b = store.ingest()) {
      CompletableFuture<Ingest.Outcome> first = CompletableFuture.supplyAsync(() -> layer(a, slow));
      started.await();
      CompletableFuture<Ingest.Outcome> second = new CompletableFuture<>();
      Thread joiner = new Thread(() -> {
        try {
          second.complete(layer(b, slow));
        } catch (RuntimeException e) {
          second.completeExceptionally(e);
        }
      }, "joiner");
      joiner.start();
      // b blocks on a's download: wait until its thread is parked there, however slow the machine.
      for (int i = 0; i < 2000 && joiner.getState() != Thread.State.WAITING
          && joiner.getState() != Thread.State.TIMED_WAITING; i++) {
        Thread.sleep(5);
      }
      assertEquals(1, downloads.get());
      finish.countDown();

      assertEquals(Ingest.Outcome.STORED, first.get(10, TimeUnit.SECONDS));
      assertEquals(Ingest.Outcome.STORED_BY_ANOTHER, second.get(10, TimeUnit.SECONDS));
      assertEquals(1, downloads.get());
      a.close(); // b still holds the layer
      assertTrue(names("snapshots").contains(sha256(LAYER).substring(7)));
      b.commit(MANIFEST, config("sh", sha256(LAYER)), List.of(sha256(BLOB)), Reference.parse("app:1"), null);
    }
    assertEquals(1, store.list().size());
  }

  @Test
  void aWaiterDownloadsItselfWhenTheSharedDownloadFails() throws Exception {
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch fail = new CountDownLatch(1);
    Ingest.BlobSource broken = sink -> {
      sink.write(BLOB, 0, 10);
      started.countDown();
      await(fail);
      throw new IOException("connection reset");
    };
    try (Ingest a = store.ingest(); Ingest b = store.ingest()) {
      CompletableFuture<Ingest.Outcome> first = CompletableFuture.supplyAsync(() -> layer(a, broken));
      started.await();
      CompletableFuture<Ingest.Outcome> second = CompletableFuture.supplyAsync(() -> layer(b, source(BLOB)));
      Thread.sleep(300);
      fail.countDown();

      CompletableFuture<?> failed = first.handle((o, e) -> e);
      assertTrue(failed.get(10, TimeUnit.SECONDS).toString().contains("connection reset"));
      assertEquals(Ingest.Outcome.STORED, second.get(10, TimeUnit.SECONDS));
    }
    assertNothingLeft();
  }

  @Test
  void closingAbandonsADownloadNobodyElseWants() throws Exception {
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch go = new CountDownLatch(1);
    Ingest.BlobSource slow = sink -> {
      sink.write(BLOB, 0, 10);
      started.countDown();
      await(go);
      sink.write(BLOB, 10, BLOB.length - 10);
    };
    Ingest ingest = store.ingest();
    CompletableFuture<Ingest.Outcome> download = CompletableFuture.supplyAsync(() -> layer(ingest, slow));
    started.await();
    ingest.close();
    go.countDown();

    Throwable failure = download.handle((o, e) -> e).get(10, TimeUnit.SECONDS);
    assertTrue(failure.getCause() instanceof CancellationException, String.valueOf(failure));
    assertNothingLeft();
    assertThrows(CancellationException.class, () -> ingest.layer(spec(BLOB, LAYER), source(BLOB), p -> {}));
  }

  // ---- unpacking while downloading

  @Test
  void aLayerLargerThanTheBufferIsUnpackedAsItArrives() throws Exception {
    byte[] big = new byte[3 * StreamingUnpack.CAPACITY + 12345];
    new java.util.Random(42).nextBytes(big);
    byte[] tar = tar().file("big", big).file("small", "after the big one").build();
    byte[] blob = Tars.gzip(tar);
    Ingest.BlobSource odd = sink -> { // chunks that do not divide the buffer
      for (int off = 0; off < blob.length; off += 7777) {
        sink.write(blob, off, Math.min(7777, blob.length - off));
      }
    };
    try (Ingest ingest = store.ingest()) {
      assertEquals(Ingest.Outcome.STORED, ingest.layer(spec(blob, tar), odd, p -> {}));
      Path dir = root.resolve("snapshots").resolve(sha256(tar).substring(7));
      assertTrue(java.util.Arrays.equals(big, Files.readAllBytes(dir.resolve("big"))));
      assertEquals("after the big one", Files.readString(dir.resolve("small")));
      assertEquals(Set.of(sha256(tar).substring(7)), names("snapshots"), "no temporary snapshot");
    }
    assertNothingLeft();
  }

  @Test
  void aDownloadThatStartsOverStartsItsUnpackOver() throws Exception {
    byte[] other = Tars.gzip(OTHER_LAYER);
    Ingest.BlobSource startsOver = sink -> {
      sink.write(other, 0, other.length); // say, another blob served by mistake, then the connection broke
      try {
        Thread.sleep(200); // the unpack has unpacked "other" meanwhile
      } catch (InterruptedException e) {
        throw new IllegalStateException(e);
      }
      sink.restart();
      assertEquals(0, sink.written());
      sink.write(BLOB, 0, BLOB.length);
    };
    try (Ingest ingest = store.ingest()) {
      assertEquals(Ingest.Outcome.STORED, ingest.layer(spec(BLOB, LAYER), startsOver, p -> {}));
      assertEquals(Set.of(sha256(LAYER).substring(7)), names("snapshots"), "the first unpack's snapshot is gone");
      Path dir = root.resolve("snapshots").resolve(sha256(LAYER).substring(7));
      assertEquals("hello\n", Files.readString(dir.resolve("etc/motd")));
      assertTrue(Files.notExists(dir.resolve("other")), "nothing of the first attempt");
    }
    assertNothingLeft();
  }

  @Test
  void aTamperedBlobThatStillUnpacksLeavesNoSnapshot() throws Exception {
    byte[] tampered = LAYER.clone(); // uncompressed: the file content changes, the tar stays valid
    int at = new String(LAYER, StandardCharsets.ISO_8859_1).indexOf("hello");
    tampered[at] = 'j';
    Ingest.LayerSpec spec = new Ingest.LayerSpec(sha256(LAYER), LAYER.length, "", sha256(LAYER));
    try (Ingest ingest = store.ingest()) {
      BerthException e = assertThrows(BerthException.class, () -> ingest.layer(spec, source(tampered), p -> {}));
      assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind());
      assertTrue(e.getMessage().contains(sha256(LAYER)) && e.getMessage().contains("does not match its digest"),
          e.getMessage());
      assertNothingLeft();
    }
    assertNothingLeft();
  }

  @Test
  void aHostileLayerFailsAsSuchOnlyWhenItIsWhatItsDigestSays() throws Exception {
    byte[] hostile = tar().file("etc/motd", "fine").file("../escape", "x").file("more", "after").build();
    byte[] blob = Tars.gzip(hostile);
    Ingest.LayerSpec spec = spec(blob, hostile);
    try (Ingest ingest = store.ingest()) {
      BerthException e = assertThrows(BerthException.class, () -> ingest.layer(spec, source(blob), p -> {}));
      assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind());
      assertTrue(e.getMessage().contains("leads outside the layer"), e.getMessage());
      assertNothingLeft();

      byte[] tampered = blob.clone(); // the unpack fails at once; the digest is what is reported
      tampered[20] ^= 0x5a;
      e = assertThrows(BerthException.class, () -> ingest.layer(spec, source(tampered), p -> {}));
      assertTrue(e.getMessage().contains("does not match its digest"), e.getMessage());
    }
    assertNothingLeft();
  }

  @Test
  void aFailedDownloadStopsItsUnpack() throws Exception {
    Ingest.BlobSource broken = sink -> {
      sink.write(BLOB, 0, BLOB.length / 2);
      throw new IOException("connection reset");
    };
    try (Ingest ingest = store.ingest()) {
      BerthException e = assertThrows(BerthException.class, () -> ingest.layer(spec(BLOB, LAYER), broken, p -> {}));
      assertEquals(BerthException.Kind.UNAVAILABLE, e.kind());
      assertTrue(e.getMessage().contains("connection reset"), e.getMessage());
      assertNothingLeft();
    }
    assertTrue(Thread.getAllStackTraces().keySet().stream()
        .noneMatch(t -> t.getName().startsWith("berth-unpack-") && t.isAlive() && busyWith(t)), "no unpack runs on");
  }

  /** Whether an unpack thread is still in an unpack (not just ending). */
  private static boolean busyWith(Thread t) {
    try {
      t.join(5000);
    } catch (InterruptedException e) {
      throw new IllegalStateException(e);
    }
    return t.isAlive();
  }

  private static Ingest.Outcome layer(Ingest ingest, Ingest.BlobSource source) {
    try {
      return ingest.layer(spec(BLOB, LAYER), source, p -> {});
    } catch (RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private static void await(CountDownLatch latch) {
    try {
      latch.await();
    } catch (InterruptedException e) {
      throw new IllegalStateException(e);
    }
  }
}
