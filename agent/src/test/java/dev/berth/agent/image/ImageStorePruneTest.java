package dev.berth.agent.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import dev.berth.agent.runtime.RecordingSyscalls;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Prune and garbage collection, tag validation, and the export lease. */
@Timeout(value = 1, unit = TimeUnit.MINUTES)
class ImageStorePruneTest {
  @TempDir Path root;
  private ImageStore store;

  @BeforeEach
  void open() {
    store = new ImageStore(root, new RecordingSyscalls(), LayerLimits.DEFAULT);
  }

  private ImageRecord importOne(String content, String ref) {
    byte[] tar = Tars.tar().file("data", content).build();
    return store.importTar(new ByteArrayInputStream(tar), ImportRequest.of(ref));
  }

  private long count(String dir) throws IOException {
    try (Stream<Path> s = Files.list(root.resolve(dir))) {
      return s.count();
    }
  }

  @Test
  void prunesDanglingImagesOnlyAndReclaimsTheirContent() throws Exception {
    ImageRecord kept = importOne("kept", "kept:1");
    ImageRecord dangling = importOne("old", "moving:1");
    importOne("new", "moving:1"); // the tag moves: the first image dangles
    ImageRecord usedDangling = importOne("used", "used:1");
    store.tag("used:1", "used:2");
    store.remove("used:1", false, id -> false);
    store.remove("used:2", true, id -> false); // gone: nothing to do with in-use below
    ImageRecord inUse = importOne("in use", "");
    long snapshotsBefore = count("snapshots");

    PruneResult r = store.prune(false, id -> id.equals(inUse.id()));

    assertEquals(List.of(dangling.id()), r.deletedImages());
    assertTrue(r.reclaimedBytes() > 0, r.toString());
    assertTrue(store.find(inUse.id()).isPresent(), "in use: kept");
    assertEquals(kept.id(), store.get("kept:1").id());
    assertEquals(snapshotsBefore - 1, count("snapshots"));
    assertFalse(Files.exists(root.resolve("blobs/sha256").resolve(dangling.id().substring(7))));
    assertTrue(store.layerDirs(store.get("kept:1")).size() == 1);
    assertTrue(usedDangling.id() != null);
  }

  @Test
  void pruneAllKeepsOnlyImagesInUseAndDeletesNothingReferenced() throws Exception {
    ImageRecord a = importOne("a", "a:1");
    ImageRecord b = importOne("b", "b:1");
    store.tag("b:1", "b:2");

    PruneResult r = store.prune(true, id -> id.equals(b.id()));

    assertEquals(List.of(a.id()), r.deletedImages());
    assertEquals(Set.of("docker.io/library/b:1", "docker.io/library/b:2"), Set.copyOf(store.get(b.id()).repoTags()));
    assertEquals(1, store.layerDirs(store.get("b:1")).size());
    assertEquals(1, count("snapshots"));
    // config, manifest and layer of b only
    assertEquals(3, count("blobs/sha256"));
    assertEquals(0, store.prune(true, id -> true).deletedImages().size());
    assertEquals(new PruneResult(List.of(), 0), store.prune(false, id -> false));
    // reopened, the store still reads
    assertEquals(b.id(), new ImageStore(root, new RecordingSyscalls(), LayerLimits.DEFAULT).get("b:2").id());
  }

  @Test
  void anExportHoldsItsLayersAgainstPrune() throws Exception {
    ImageRecord a = importOne("a", "a:1");
    try (ImageExport ex = store.export("a:1")) {
      store.prune(true, id -> false);
      assertTrue(store.list().isEmpty());
      try (var in = ex.openBlob(ex.layers().get(0).digest())) {
        assertTrue(in.readAllBytes().length > 0, "the held blob is still there");
      }
    }
    store.prune(true, id -> false);
    assertEquals(0, count("snapshots"));
    assertEquals(0, count("blobs/sha256"));
    assertTrue(a.id() != null);
  }

  @Test
  void tagValidatesTheTargetAndTheSource() {
    importOne("a", "a:1");
    BerthException bad = assertThrows(BerthException.class, () -> store.tag("a:1", "Not/Valid:"));
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, bad.kind());
    BerthException missing = assertThrows(BerthException.class, () -> store.tag("nope:1", "b:1"));
    assertEquals(BerthException.Kind.NOT_FOUND, missing.kind());
    assertEquals("No such image: nope:1", missing.getMessage());
    // the resolution cache follows the tag
    assertEquals(store.get("a:1").id(), store.tag("a:1", "b:1").id());
    importOne("c", "b:1");
    assertEquals(List.of("docker.io/library/a:1"), store.get("a:1").repoTags());
  }
}
