package dev.berth.agent.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.berth.agent.image.ImageArchive;
import dev.berth.agent.image.ImageRecord;
import dev.berth.agent.image.ImageStore;
import dev.berth.agent.image.LayerLimits;
import dev.berth.agent.it.BusyboxImage;
import dev.berth.agent.runtime.RecordingSyscalls;
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
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@code berth save} → {@code podman load}, and {@code podman save} → {@code berth load}, in
 * both archive formats. Podman runs with configuration files of the test's own (see
 * shared/PEERS.md): the vfs storage driver, so that loading mounts nothing, and its storage,
 * run and temporary directories under the test's directory, so the host's podman is untouched
 * and nothing is left behind.
 */
@Tag("registry")
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class ArchivePodmanTest {
  private static final Path PODMAN = Path.of("/usr/bin/podman");
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir static Path images;
  private static TestImages.Layout layout;

  @TempDir Path work;
  private final RecordingSyscalls sys = new RecordingSyscalls();
  private final Closer closer = new Closer();
  private TestRegistry registry;
  private ImageStore store;
  private String ref;
  private Path podmanDir;

  @BeforeAll
  static void buildImages() throws Exception {
    TestImages.assumeTools();
    assumeTrue(Files.isExecutable(PODMAN), "skipped: /usr/bin/podman is not installed");
    assumeTrue(BusyboxImage.available(), "skipped: /bin/busybox (busybox-static) is not installed");
    layout = TestImages.build(images);
  }

  @BeforeEach
  void start() throws Exception {
    registry = closer.open(TestRegistry.start(work.resolve("registry"), null));
    RegistryClient client = closer.open(new RegistryClient(Set.of(), new RegistryClient.Settings(Duration.ofSeconds(5),
        Duration.ofSeconds(20), Duration.ofSeconds(10), 3, 3, Duration.ofMillis(20))));
    store = new ImageStore(work.resolve("store"), sys, LayerLimits.DEFAULT);
    ref = registry.host() + "/busybox:1";
    TestImages.push(layout, "1", ref);
    try (Puller p = new Puller(client, store)) {
      p.pull(ref, null, null);
    }
    podmanDir = Files.createDirectories(work.resolve("podman"));
    Files.writeString(podmanDir.resolve("storage.conf"), String.join("\n",
        "[storage]",
        "driver = \"vfs\"",
        "graphroot = \"" + podmanDir.resolve("graph") + "\"",
        "runroot = \"" + podmanDir.resolve("run") + "\"",
        ""));
    Files.writeString(podmanDir.resolve("containers.conf"), String.join("\n",
        "[containers]",
        "default_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]",
        "[engine]",
        "cgroup_manager = \"cgroupfs\"",
        "events_logger = \"file\"",
        "tmp_dir = \"" + podmanDir.resolve("tmp") + "\"",
        "static_dir = \"" + podmanDir.resolve("static") + "\"",
        "volume_path = \"" + podmanDir.resolve("volumes") + "\"",
        ""));
    // Names are all fully qualified here; no search registries, so nothing ever leaves 127.0.0.1.
    Files.writeString(podmanDir.resolve("registries.conf"), "unqualified-search-registries = []\n");
  }

  @AfterEach
  void stop() throws Exception {
    try {
      // vfs layers may hold read-only directories, which @TempDir copes with; podman holds no mounts.
      if (podmanDir != null && Files.exists(podmanDir.resolve("graph"))) {
        podman("rmi", "--all", "--force");
      }
    } finally {
      closer.close();
    }
  }

  private String podman(String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of(PODMAN.toString()));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().put("CONTAINERS_CONF", podmanDir.resolve("containers.conf").toString());
    pb.environment().put("CONTAINERS_STORAGE_CONF", podmanDir.resolve("storage.conf").toString());
    pb.environment().put("CONTAINERS_REGISTRIES_CONF", podmanDir.resolve("registries.conf").toString());
    Process p = pb.start();
    byte[] out;
    try (InputStream in = p.getInputStream()) {
      out = in.readAllBytes();
    }
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      throw new IOException("timed out: " + String.join(" ", cmd));
    }
    String text = new String(out, StandardCharsets.UTF_8);
    if (p.exitValue() != 0) {
      throw new IOException(String.join(" ", cmd) + " exited with " + p.exitValue() + ": " + text);
    }
    return text;
  }

  /** Podman's view of an image: its id (the config digest's hex) and its layers' diff ids. */
  private JsonNode podmanInspect(String image) throws Exception {
    JsonNode all = JSON.readTree(podman("image", "inspect", image));
    assertEquals(1, all.size(), all.toString());
    return all.get(0);
  }

  private static List<String> diffIds(JsonNode inspect) {
    List<String> out = new ArrayList<>();
    inspect.path("RootFS").path("Layers").forEach(l -> out.add(l.asText()));
    return out;
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(ImageArchive.Format.class)
  void podmanLoadsWhatBerthSaves(ImageArchive.Format format) throws Exception {
    ImageRecord image = store.get(ref);
    Path file = work.resolve("berth-" + format + ".tar");
    try (OutputStream out = Files.newOutputStream(file)) {
      ImageArchive.save(store, List.of(ref), format, out);
    }

    String loaded = podman("load", "--input", file.toString());

    assertTrue(loaded.contains("Loaded image"), loaded);
    JsonNode inspect = podmanInspect(ref);
    assertEquals(image.id().substring("sha256:".length()), inspect.path("Id").asText(), inspect.toString());
    assertEquals(image.diffIds(), diffIds(inspect));
    assertTrue(inspect.path("RepoTags").toString().contains(ref), "found by its name: " + inspect.path("RepoTags"));
    assertEquals(List.of("/bin/sh"), List.of(inspect.path("Config").path("Cmd").get(0).asText()));
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(ImageArchive.Format.class)
  void berthLoadsWhatPodmanSaves(ImageArchive.Format format) throws Exception {
    ImageRecord image = store.get(ref);
    podman("pull", "--tls-verify=false", "--quiet", ref);
    Path file = work.resolve("podman-" + format + ".tar");
    String podmanFormat = format == ImageArchive.Format.OCI_ARCHIVE ? "oci-archive" : "docker-archive";

    podman("save", "--format", podmanFormat, "--output", file.toString(), ref);

    ImageStore into = new ImageStore(work.resolve("fresh"), sys, LayerLimits.DEFAULT);
    List<ImageRecord> loaded;
    try (InputStream in = Files.newInputStream(file)) {
      loaded = ImageArchive.load(into, in);
    }
    assertEquals(1, loaded.size(), loaded.toString());
    assertEquals(image.diffIds(), loaded.get(0).diffIds());
    assertEquals(List.of("/bin/sh"), loaded.get(0).config().cmd());
    assertTrue(loaded.get(0).repoTags().stream().anyMatch(t -> t.endsWith("busybox:1")), loaded.get(0).repoTags().toString());
    Path base = into.layerDirs(loaded.get(0)).get(0);
    assertEquals(Files.size(BusyboxImage.BUSYBOX), Files.size(base.resolve("bin/busybox")));
  }
}
