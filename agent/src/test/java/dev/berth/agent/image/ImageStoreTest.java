package dev.berth.agent.image;

import static dev.berth.agent.image.Tars.tar;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.berth.agent.BerthException;
import dev.berth.agent.runtime.RecordingSyscalls;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageStoreTest {
  private static final byte[] LAYER = tar().dir("bin/", 0755).file("bin/sh", "#!shell\n", 0755, e -> {})
      .file("etc/motd", "hello\n").build();
  private static final byte[] OTHER_LAYER = tar().file("other", "other content").build();

  @TempDir Path root;
  private final RecordingSyscalls sys = new RecordingSyscalls();
  private ImageStore store;

  @BeforeEach
  void open() {
    store = new ImageStore(root, sys, LayerLimits.DEFAULT);
  }

  private ImageRecord importTar(byte[] tar, String ref) {
    return store.importTar(new ByteArrayInputStream(tar), ImportRequest.of(ref));
  }

  private static String sha256(byte[] data) throws Exception {
    return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
  }

  private Set<String> names(String dir) throws IOException {
    try (Stream<Path> s = Files.list(root.resolve(dir))) {
      return s.map(p -> p.getFileName().toString()).collect(Collectors.toCollection(TreeSet::new));
    }
  }

  private Set<String> blobs() throws IOException {
    return names("blobs/sha256");
  }

  private Set<String> snapshots() throws IOException {
    return names("snapshots");
  }

  @Test
  void importsAPlainTar() throws Exception {
    ImageRecord r = store.importTar(new ByteArrayInputStream(LAYER), new ImportRequest("busybox",
        List.of("sh"), List.of("/bin/init"), List.of("PATH=/bin", "A=b=c"), "/root", "1000:1000", List.of("80", "53/udp")));

    assertTrue(r.id().matches("sha256:[0-9a-f]{64}"), r.id());
    assertEquals(List.of("docker.io/library/busybox:latest"), r.repoTags());
    assertEquals(List.of(sha256(LAYER)), r.diffIds());
    assertEquals("#!shell\nhello\n".length(), r.sizeBytes());
    assertEquals("linux", r.os());
    assertFalse(r.architecture().isEmpty());
    assertEquals(List.of("sh"), r.config().cmd());
    assertEquals(List.of("/bin/init"), r.config().entrypoint());
    assertEquals(List.of("PATH=/bin", "A=b=c"), r.config().env());
    assertEquals("/root", r.config().workingDir());
    assertEquals("1000:1000", r.config().user());
    assertEquals(List.of("80/tcp", "53/udp"), r.config().exposedPorts());

    List<Path> dirs = store.layerDirs(r);
    assertEquals(List.of(root.resolve("snapshots").resolve(r.diffIds().get(0).substring(7))), dirs);
    assertEquals("hello\n", Files.readString(dirs.get(0).resolve("etc/motd")));
    assertEquals(0755, (Integer) Files.getAttribute(dirs.get(0), "unix:mode") & 07777);

    JsonNode config = new ObjectMapper().readTree(Files.readAllBytes(root.resolve("blobs/sha256/" + r.id().substring(7))));
    assertEquals("layers", config.path("rootfs").path("type").asText());
    assertEquals(sha256(LAYER), config.path("rootfs").path("diff_ids").get(0).asText());
    assertEquals("sh", config.path("config").path("Cmd").get(0).asText());
    assertEquals("/root", config.path("config").path("WorkingDir").asText());
    assertEquals("linux", config.path("os").asText());
    assertEquals(r.created(), Instant.parse(config.path("created").asText()));
    assertEquals(1, config.path("history").size());
    assertEquals(3, blobs().size(), "the layer as given, the config and the manifest");
    assertTrue(blobs().contains(sha256(LAYER).substring(7)), "the plain layer blob is the tar as given");
  }

  @Test
  void importsAGzipTarAndSharesTheSnapshotWithThePlainOne() throws Exception {
    ImageRecord plain = importTar(LAYER, "plain");
    byte[] gz = Tars.gzip(LAYER);
    ImageRecord zipped = importTar(gz, "user/app:1");

    assertEquals(List.of("docker.io/user/app:1"), zipped.repoTags());
    assertEquals(plain.diffIds(), zipped.diffIds(), "the diff id is the digest of the uncompressed tar");
    assertNotEquals(plain.id(), zipped.id());
    assertEquals(Set.of(sha256(LAYER).substring(7)), snapshots());
    assertTrue(blobs().contains(sha256(gz).substring(7)), "the gzip blob is stored as given");
    assertEquals(6, blobs().size());
    JsonNode manifest = manifestOf(zipped);
    assertEquals("application/vnd.oci.image.layer.v1.tar+gzip", manifest.path("layers").get(0).path("mediaType").asText());
    assertEquals(sha256(gz), manifest.path("layers").get(0).path("digest").asText());
    assertEquals(gz.length, manifest.path("layers").get(0).path("size").asLong());
    assertEquals(zipped.id(), manifest.path("config").path("digest").asText());
  }

  private JsonNode manifestOf(ImageRecord r) throws IOException {
    ObjectMapper m = new ObjectMapper();
    String manifest = null;
    for (JsonNode n : m.readTree(Files.readAllBytes(root.resolve("images.json"))).path("images")) {
      if (n.path("id").asText().equals(r.id())) {
        manifest = n.path("manifest").asText();
      }
    }
    return m.readTree(Files.readAllBytes(root.resolve("blobs/sha256/" + manifest.substring(7))));
  }

  @Test
  void everyBlobIsNamedByItsDigest() throws Exception {
    importTar(LAYER, "a");
    importTar(Tars.gzip(OTHER_LAYER), "b");
    for (String hex : blobs()) {
      assertEquals("sha256:" + hex, sha256(Files.readAllBytes(root.resolve("blobs/sha256").resolve(hex))));
    }
  }

  @Test
  void reimportingTheSameContentReusesSnapshotAndBlob() throws Exception {
    ImageRecord a = importTar(LAYER, "a");
    Path snapshot = store.layerDirs(a).get(0);
    Object inode = Files.getAttribute(snapshot.resolve("bin/sh"), "unix:ino");
    ImageRecord b = importTar(LAYER, "b");
    assertEquals(a.diffIds(), b.diffIds());
    assertEquals(store.layerDirs(a), store.layerDirs(b));
    assertEquals(inode, Files.getAttribute(snapshot.resolve("bin/sh"), "unix:ino"), "not unpacked again");
    assertEquals(1, snapshots().size());
    assertEquals(5, blobs().size(), "one layer blob, two configs, two manifests");
  }

  @Test
  void getsByNameTagIdAndPrefix() {
    ImageRecord r = importTar(LAYER, "busybox:1.36");
    String hex = r.id().substring(7);
    for (String ref : List.of("busybox:1.36", "docker.io/library/busybox:1.36", "library/busybox:1.36", r.id(), hex,
        hex.substring(0, 4), hex.substring(0, 12), "sha256:" + hex.substring(0, 6))) {
      assertEquals(r, store.get(ref), ref);
    }
    assertTrue(store.find("busybox").isEmpty(), "busybox means busybox:latest");
    BerthException e = assertThrows(BerthException.class, () -> store.get("nope"));
    assertEquals(BerthException.Kind.NOT_FOUND, e.kind());
    assertEquals("No such image: nope", e.getMessage());
    assertEquals(BerthException.Kind.NOT_FOUND,
        assertThrows(BerthException.class, () -> store.get(hex.substring(0, 3))).kind(), "3 digits are a name");
    assertEquals(BerthException.Kind.INVALID_ARGUMENT,
        assertThrows(BerthException.class, () -> store.get("Bad:Ref!")).kind());
  }

  @Test
  void aNameWinsOverAnIdPrefix() {
    ImageRecord r = importTar(LAYER, "x");
    String prefix = r.id().substring(7, 13);
    ImageRecord named = importTar(OTHER_LAYER, prefix);
    assertEquals(named, store.get(prefix));
    assertEquals(r, store.get(r.id().substring(7, 14)));
  }

  @Test
  void anAmbiguousIdPrefixIsRefused() {
    // Import until two ids share their first 4 hex digits (a few hundred at most).
    Map<String, String> byPrefix = new java.util.HashMap<>();
    String prefix = null;
    byte[] tiny = tar().build();
    while (prefix == null) {
      String id = importTar(tiny, "").id().substring(7);
      String seen = byPrefix.put(id.substring(0, 4), id);
      if (seen != null) {
        prefix = id.substring(0, 4);
      }
    }
    String p = prefix;
    BerthException e = assertThrows(BerthException.class, () -> store.get(p));
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind());
    assertTrue(e.getMessage().contains("ambiguous"), e.getMessage());
  }

  @Test
  void listsNewestFirst() {
    ImageRecord a = importTar(LAYER, "a");
    ImageRecord b = importTar(OTHER_LAYER, "b");
    assertEquals(List.of(b, a), store.list());
  }

  @Test
  void taggingMovesTheTag() {
    ImageRecord old = importTar(LAYER, "app:1");
    ImageRecord fresh = importTar(OTHER_LAYER, "app:1");
    assertEquals(List.of(), store.get(old.id()).repoTags(), "the import took the tag");
    assertEquals(List.of("docker.io/library/app:1"), store.get("app:1").repoTags());
    assertEquals(fresh.id(), store.get("app:1").id());

    ImageRecord tagged = store.tag(old.id(), "host:5000/app:2");
    assertEquals(List.of("host:5000/app:2"), tagged.repoTags());
    store.tag("app:1", "host:5000/app:2");
    assertEquals(List.of(), store.get(old.id()).repoTags());
    assertEquals(List.of("docker.io/library/app:1", "host:5000/app:2"), store.get(fresh.id()).repoTags());
    assertEquals(BerthException.Kind.INVALID_ARGUMENT,
        assertThrows(BerthException.class, () -> store.tag("app:1", "x@sha256:" + "0".repeat(64))).kind());
    assertEquals(BerthException.Kind.NOT_FOUND,
        assertThrows(BerthException.class, () -> store.tag("nope", "x")).kind());
  }

  @Test
  void removingATagOfAnImageWithOthersOnlyUntags() throws IOException {
    ImageRecord r = importTar(LAYER, "a");
    store.tag("a", "b");
    Set<String> blobsBefore = blobs();
    RemoveResult result = store.remove("a", false, id -> true);
    assertEquals(new RemoveResult(List.of("docker.io/library/a:latest"), List.of()), result);
    assertEquals(List.of("docker.io/library/b:latest"), store.get(r.id()).repoTags());
    assertEquals(blobsBefore, blobs());
  }

  @Test
  void removingTheLastTagDeletesTheImageButKeepsSharedLayers() throws Exception {
    ImageRecord a = importTar(LAYER, "a");
    ImageRecord b = importTar(Tars.gzip(LAYER), "b");
    ImageRecord c = importTar(OTHER_LAYER, "c");

    RemoveResult ra = store.remove("a", false, id -> false);
    assertEquals(List.of("docker.io/library/a:latest"), ra.untagged());
    assertEquals(List.of(a.id()), ra.deleted(), "the layer is b's too");
    assertTrue(store.find(a.id()).isEmpty());
    assertTrue(Files.isDirectory(store.layerDirs(b).get(0)));
    assertFalse(blobs().contains(a.id().substring(7)), "the config went");
    assertFalse(blobs().contains(sha256(LAYER).substring(7)), "the plain layer blob only a had went");

    RemoveResult rb = store.remove(b.id(), false, id -> false);
    assertEquals(List.of(b.id(), b.diffIds().get(0)), rb.deleted());
    assertEquals(Set.of(c.diffIds().get(0).substring(7)), snapshots());
    assertEquals(3, blobs().size(), "only c's blobs are left");
    BerthException gone = assertThrows(BerthException.class, () -> store.layerDirs(b));
    assertEquals(BerthException.Kind.FAILED_PRECONDITION, gone.kind());
    assertEquals(List.of(c), store.list());
  }

  @Test
  void anImageInUseKeepsItsContentEvenWhenForced() {
    ImageRecord r = importTar(LAYER, "busy");
    BerthException e = assertThrows(BerthException.class, () -> store.remove("busy", false, r.id()::equals));
    assertEquals(BerthException.Kind.FAILED_PRECONDITION, e.kind());
    assertEquals("conflict: unable to remove image busy: it is used by a container", e.getMessage());
    assertEquals(r, store.get("busy"));

    // As docker rmi -f: the name goes, the image stays for the container built on it.
    RemoveResult forced = store.remove("busy", true, r.id()::equals);
    assertEquals(List.of("docker.io/library/busy:latest"), forced.untagged());
    assertEquals(List.of(), forced.deleted());
    assertTrue(store.find("busy").isEmpty());
    assertEquals(List.of(), store.get(r.id()).repoTags());
    assertTrue(store.layerDirs(store.get(r.id())).stream().allMatch(java.nio.file.Files::isDirectory));

    RemoveResult gone = store.remove(r.id(), false, id -> false);
    assertEquals(List.of(r.id(), r.diffIds().get(0)), gone.deleted());
    assertTrue(store.list().isEmpty());
  }

  @Test
  void removingByIdAnImageOfSeveralRepositoriesNeedsForce() {
    ImageRecord r = importTar(LAYER, "one");
    store.tag("one", "two");
    BerthException e = assertThrows(BerthException.class, () -> store.remove(r.id(), false, id -> false));
    assertEquals(BerthException.Kind.FAILED_PRECONDITION, e.kind());
    assertTrue(e.getMessage().contains("referenced in multiple repositories"), e.getMessage());
    RemoveResult forced = store.remove(r.shortId(), true, id -> false);
    assertEquals(List.of("docker.io/library/one:latest", "docker.io/library/two:latest"), forced.untagged());
    assertEquals(r.id(), forced.deleted().get(0));
  }

  @Test
  void aReopenedStoreHasTheSameImages() {
    ImageRecord a = importTar(LAYER, "a");
    store.importTar(new ByteArrayInputStream(Tars.gzip(OTHER_LAYER)), new ImportRequest("host:5000/b:2", List.of("run"),
        null, List.of("X=1"), "/w", "nobody", null));
    store.tag("a", "c");
    List<ImageRecord> before = store.list();

    ImageStore reopened = new ImageStore(root, sys, LayerLimits.DEFAULT);
    assertEquals(before, reopened.list());
    assertEquals(a.id(), reopened.get("c").id());
    assertEquals(store.layerDirs(a), reopened.layerDirs(reopened.get("a")));
  }

  @Test
  void openingRemovesTemporariesAndWhatNoImageRefersTo() throws IOException {
    ImageRecord kept = importTar(LAYER, "kept");
    Files.writeString(root.resolve("blobs/sha256/.tmp-123"), "half a blob");
    Files.writeString(root.resolve("blobs/sha256/" + "0".repeat(64)), "a blob no image refers to");
    Files.createDirectories(root.resolve("snapshots/.tmp-456/usr/bin"));
    Files.createDirectories(root.resolve("snapshots/" + "1".repeat(64) + "/etc"));
    Files.writeString(root.resolve(".images.json.tmp-789"), "{");
    Set<String> blobs = blobs();

    ImageStore reopened = new ImageStore(root, sys, LayerLimits.DEFAULT);
    assertEquals(kept, reopened.get("kept"));
    assertEquals(Set.of(kept.diffIds().get(0).substring(7)), snapshots());
    Set<String> expected = new TreeSet<>(blobs);
    expected.removeAll(Set.of(".tmp-123", "0".repeat(64)));
    assertEquals(expected, blobs());
    assertFalse(Files.exists(root.resolve(".images.json.tmp-789")));
  }

  @Test
  void aFailedImportLeavesNothingBehind() throws IOException {
    ImageRecord existing = importTar(OTHER_LAYER, "existing");
    Set<String> blobs = blobs();
    Set<String> snapshots = snapshots();
    byte[] indexBefore = Files.readAllBytes(root.resolve("images.json"));
    byte[] hostile = tar().file("ok", "fine").file("../escape", "x").build();

    Map<byte[], BerthException.Kind> failing = Map.of(hostile, BerthException.Kind.INVALID_ARGUMENT,
        Tars.gzip(hostile), BerthException.Kind.INVALID_ARGUMENT, LAYER_TOO_BIG, BerthException.Kind.RESOURCE_EXHAUSTED);
    for (Map.Entry<byte[], BerthException.Kind> c : failing.entrySet()) {
      ImageStore small = new ImageStore(root, sys, new LayerLimits(1000, 4096));
      BerthException e = assertThrows(BerthException.class,
          () -> small.importTar(new ByteArrayInputStream(c.getKey()), ImportRequest.of("bad")));
      assertEquals(c.getValue(), e.kind(), e.toString());
      assertEquals(blobs, blobs());
      assertEquals(snapshots, snapshots());
      assertEquals(new String(indexBefore, StandardCharsets.UTF_8),
          Files.readString(root.resolve("images.json")));
      assertEquals(List.of(existing), small.list());
      try (Stream<Path> all = Files.walk(root)) {
        assertTrue(all.noneMatch(p -> p.getFileName().toString().contains(".tmp-")), "no temporaries");
      }
    }
    assertTrue(Files.notExists(root.resolve("escape")) && Files.notExists(root.resolve("snapshots/escape")));
  }

  private static final byte[] LAYER_TOO_BIG = tar().file("big", new byte[8192]).build();

  @Test
  void refusesBadInputBeforeReadingIt() {
    ByteArrayInputStream in = new ByteArrayInputStream(LAYER);
    BerthException e = assertThrows(BerthException.class,
        () -> store.importTar(in, ImportRequest.of("Bad/Name")));
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind());
    assertEquals(LAYER.length, in.available(), "nothing was read");
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, assertThrows(BerthException.class,
        () -> store.importTar(in, ImportRequest.of("x@sha256:" + "0".repeat(64)))).kind());
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, assertThrows(BerthException.class,
        () -> store.importTar(in, new ImportRequest("x", null, null, List.of("NOEQUALS"), null, null, null))).kind());
  }

  @Test
  void refusesCompressionsItCannotRead() throws IOException {
    byte[] bzip2 = "BZh91AY&SY...".getBytes(StandardCharsets.US_ASCII);
    BerthException e = assertThrows(BerthException.class, () -> importTar(bzip2, "x"));
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind());
    assertTrue(e.getMessage().contains("bzip2"), e.getMessage());
    assertTrue(snapshots().isEmpty());
    assertTrue(blobs().isEmpty());
  }

  @Test
  void corruptGzipIsInvalid() throws IOException {
    byte[] gz = Tars.gzip(LAYER);
    byte[] truncated = java.util.Arrays.copyOf(gz, gz.length / 2);
    BerthException e = assertThrows(BerthException.class, () -> importTar(truncated, "x"));
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind(), e.getMessage());
    assertTrue(snapshots().isEmpty());
    assertTrue(blobs().isEmpty());
  }

  @Test
  void concurrentImportsOfOneLayerShareOneSnapshot() throws Exception {
    List<Thread> threads = new java.util.ArrayList<>();
    List<Throwable> failures = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
    for (int i = 0; i < 8; i++) {
      String name = "img" + i;
      byte[] layer = i % 2 == 0 ? LAYER : Tars.gzip(LAYER);
      threads.add(new Thread(() -> {
        try {
          importTar(layer, name);
          store.remove(name, false, id -> false);
          importTar(LAYER, name);
        } catch (Throwable t) {
          failures.add(t);
        }
      }));
    }
    threads.forEach(Thread::start);
    for (Thread t : threads) {
      t.join();
    }
    assertEquals(List.of(), failures);
    assertEquals(8, store.list().size());
    assertEquals(Set.of(sha256(LAYER).substring(7)), snapshots());
    for (ImageRecord r : store.list()) {
      assertTrue(Files.exists(store.layerDirs(r).get(0).resolve("bin/sh")));
    }
  }
}
