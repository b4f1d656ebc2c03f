package dev.berth.agent.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import dev.berth.agent.image.ImageArchive;
import dev.berth.agent.image.ImageExport;
import dev.berth.agent.image.ImageRecord;
import dev.berth.agent.image.ImageStore;
import dev.berth.agent.image.LayerLimits;
import dev.berth.agent.runtime.RecordingSyscalls;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Save and load, checked against skopeo's docker-archive and oci-archive transports. */
@Tag("registry")
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class ArchiveTest {
  @TempDir static Path images;
  private static TestImages.Layout layout;

  @TempDir Path work;
  private final RecordingSyscalls sys = new RecordingSyscalls();
  private final Closer closer = new Closer();
  private ImageStore store;
  private String ref;

  @BeforeAll
  static void buildImages() throws Exception {
    TestImages.assumeTools();
    layout = TestImages.build(images);
  }

  @BeforeEach
  void start() throws Exception {
    TestRegistry registry = closer.open(TestRegistry.start(work.resolve("registry"), null));
    RegistryClient client = closer.open(new RegistryClient(Set.of(), new RegistryClient.Settings(Duration.ofSeconds(5),
        Duration.ofSeconds(20), Duration.ofSeconds(10), 3, 3, Duration.ofMillis(20))));
    store = new ImageStore(work.resolve("store"), sys, LayerLimits.DEFAULT);
    ref = registry.host() + "/busybox:1";
    TestImages.push(layout, "1", ref);
    try (Puller p = new Puller(client, store)) {
      p.pull(ref, null, null);
    }
    registry.close();
  }

  @AfterEach
  void stop() throws Exception {
    closer.close();
  }

  private ImageStore fresh() {
    return new ImageStore(work.resolve("fresh-" + System.nanoTime()), sys, LayerLimits.DEFAULT);
  }

  private Path save(ImageArchive.Format format) throws IOException {
    Path file = work.resolve("saved-" + format + ".tar");
    try (OutputStream out = Files.newOutputStream(file)) {
      ImageArchive.save(store, List.of(ref), format, out);
    }
    return file;
  }

  private static List<ImageRecord> load(ImageStore into, Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      return ImageArchive.load(into, in);
    }
  }

  private static String skopeo(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(TestImages.SKOPEO.toString()));
    cmd.addAll(List.of(args));
    return TestRegistry.run(cmd);
  }

  @Test
  void dockerArchiveRoundTripsAndSkopeoReadsIt() throws Exception {
    ImageRecord image = store.get(ref);
    Path file = save(ImageArchive.Format.DOCKER_ARCHIVE);

    String inspect = skopeo("inspect", "docker-archive:" + file + ":" + ref); // found by its tag
    assertTrue(inspect.contains(layout.configDigest().substring(7)) || inspect.contains(image.diffIds().get(0)), inspect);
    skopeo("copy", "docker-archive:" + file, "oci:" + work.resolve("copied") + ":x");
    ImageStore into = fresh();
    List<ImageRecord> loaded = load(into, file);

    assertEquals(1, loaded.size());
    assertEquals(image.id(), loaded.get(0).id());
    assertEquals(image.diffIds(), loaded.get(0).diffIds());
    assertEquals(List.of(ref), loaded.get(0).repoTags());
    assertEquals(tree(store.layerDirs(image)), tree(into.layerDirs(loaded.get(0))));
  }

  @Test
  void ociArchiveRoundTripsByteIdenticallyAndSkopeoReadsIt() throws Exception {
    ImageRecord image = store.get(ref);
    Path file = save(ImageArchive.Format.OCI_ARCHIVE);

    skopeo("copy", "oci-archive:" + file, "oci:" + work.resolve("copied") + ":x");
    ImageStore into = fresh();
    List<ImageRecord> loaded = load(into, file);

    assertEquals(image.id(), loaded.get(0).id());
    assertEquals(List.of(ref), loaded.get(0).repoTags());
    try (ImageExport ex = into.export(ref)) {
      assertEquals(layout.manifestDigest(), ex.manifestDigest(), "the manifest as pulled, byte for byte");
    }
  }

  @Test
  void loadsWhatSkopeoWrites() throws Exception {
    ImageRecord image = store.get(ref);
    for (String transport : List.of("docker-archive", "oci-archive")) {
      Path file = work.resolve("skopeo-" + transport + ".tar");
      skopeo("copy", "oci:" + layout.dir() + ":1", transport + ":" + file + ":busybox:1");
      ImageStore into = fresh();

      List<ImageRecord> loaded = load(into, file);

      assertEquals(1, loaded.size(), transport);
      assertEquals(image.diffIds(), loaded.get(0).diffIds(), transport);
      assertEquals(List.of("docker.io/library/busybox:1"), loaded.get(0).repoTags(), transport);
      assertEquals(tree(store.layerDirs(image)), tree(into.layerDirs(loaded.get(0))), transport);
    }
  }

  // ---- hostile archives

  @Test
  void anEntryOutsideTheArchiveIsRefused() throws Exception {
    byte[] tar = tar(List.<Object[]>of(new Object[] {"../escape", "x".getBytes(StandardCharsets.UTF_8)}));
    assertRefused(tar, "outside the archive");
    byte[] abs = tar(List.<Object[]>of(new Object[] {"/etc/passwd", "x".getBytes(StandardCharsets.UTF_8)}));
    assertRefused(abs, "outside the archive");
  }

  @Test
  void aLayerNotMatchingItsDiffIdIsRefused() throws Exception {
    Path file = save(ImageArchive.Format.DOCKER_ARCHIVE);
    List<Object[]> entries = read(file);
    for (Object[] e : entries) {
      if (((String) e[0]).endsWith(".tar")) {
        byte[] content = (byte[]) e[1];
        content[content.length / 3] ^= 0x41; // inside a file's content: still a tar, another digest
      }
    }
    assertRefused(tar(entries), "but the image config lists");
  }

  @Test
  void aManifestNamingAMissingFileIsRefused() throws Exception {
    Path file = save(ImageArchive.Format.DOCKER_ARCHIVE);
    List<Object[]> entries = new ArrayList<>(read(file));
    entries.removeIf(e -> ((String) e[0]).endsWith(".tar"));
    assertRefused(tar(entries), "not in the archive");
  }

  private void assertRefused(byte[] tar, String reason) throws IOException {
    ImageStore into = fresh();
    BerthException e = assertThrows(BerthException.class, () -> ImageArchive.load(into, new ByteArrayInputStream(tar)));
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind(), e.getMessage());
    assertTrue(e.getMessage().contains(reason), e.getMessage());
    assertTrue(into.list().isEmpty());
  }

  private static List<Object[]> read(Path file) throws IOException {
    List<Object[]> out = new ArrayList<>();
    try (TarArchiveInputStream in = new TarArchiveInputStream(Files.newInputStream(file))) {
      TarArchiveEntry e;
      while ((e = in.getNextEntry()) != null) {
        out.add(new Object[] {e.getName(), in.readAllBytes()});
      }
    }
    return out;
  }

  private static byte[] tar(List<Object[]> entries) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (TarArchiveOutputStream out = new TarArchiveOutputStream(bytes)) {
      out.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      for (Object[] e : entries) {
        byte[] content = (byte[]) e[1];
        TarArchiveEntry entry = new TarArchiveEntry((String) e[0], true);
        entry.setSize(content.length);
        out.putArchiveEntry(entry);
        out.write(content);
        out.closeArchiveEntry();
      }
    }
    return bytes.toByteArray();
  }

  /** The relative paths, sizes and link targets of the trees. */
  private static Set<String> tree(List<Path> dirs) throws IOException {
    Set<String> out = new TreeSet<>();
    for (int i = 0; i < dirs.size(); i++) {
      Path dir = dirs.get(i);
      int layer = i;
      try (Stream<Path> s = Files.walk(dir)) {
        for (Path p : (Iterable<Path>) s::iterator) {
          String what = Files.isSymbolicLink(p) ? "->" + Files.readSymbolicLink(p)
              : Files.isRegularFile(p) ? "=" + Files.size(p) : "/";
          out.add(layer + ":" + dir.relativize(p) + what);
        }
      }
    }
    return out;
  }
}
