package dev.berth.ctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.proto.v1.ArchiveFormat;
import dev.berth.proto.v1.PruneRequest;
import dev.berth.proto.v1.PushRequest;
import dev.berth.proto.v1.SaveRequest;
import dev.berth.proto.v1.TagRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** push, tag, save, load, image prune: the requests made and what the user sees. */
@Timeout(30)
class ImageTransferTest {
  @TempDir
  Path dir;
  private CliRunner cli;

  @BeforeEach
  void start() throws Exception {
    cli = new CliRunner();
    cli.env.put("BERTH_CONFIG", dir.resolve("cfg").toString());
  }

  @AfterEach
  void stop() throws Exception {
    cli.close();
  }

  @Test
  void pushPrintsOneLinePerStateAndTheDigest() {
    CliRunner.Result r = cli.run("push", "127.0.0.1:5000/app:1");
    assertEquals(0, r.code(), r.err());
    assertEquals(List.of("121212121212: Preparing", "121212121212: Pushing", "121212121212: Pushed",
        "digest: sha256:" + "34".repeat(32)), List.of(r.out().split("\n")));
    assertEquals("127.0.0.1:5000/app:1", cli.daemon.requests(PushRequest.class).get(0).getReference());
  }

  @Test
  void commitPrintsTheNewImage() {
    CliRunner.Result r = cli.run("commit", "-m", "configured", "web", "app:2");
    assertEquals(0, r.code(), r.err());
    assertEquals("sha256:" + "77".repeat(32) + "\n", r.out());
    assertEquals(dev.berth.proto.v1.CommitRequest.newBuilder().setContainer("web").setReference("app:2")
        .setComment("configured").setPause(true).build(), cli.daemon.requests(dev.berth.proto.v1.CommitRequest.class).get(0));
  }

  /** docker commit pauses by default; its -p/--pause is a boolean flag that takes "=false". */
  @ParameterizedTest(name = "commit {0} web app:2 -> pause={1}")
  @CsvSource(delimiter = '|', textBlock = """
      ''              | true
      -p              | true
      --pause         | true
      --pause=true    | true
      --pause=false   | false
      -p=false        | false
      --pause false   | false
      -p false        | false
      """)
  void commitPausesUnlessToldNotTo(String flags, boolean pause) {
    List<String> args = new java.util.ArrayList<>(List.of("commit"));
    if (!flags.isEmpty()) {
      args.addAll(List.of(flags.split(" ")));
    }
    args.addAll(List.of("web", "app:2"));
    CliRunner.Result r = cli.run(args.toArray(String[]::new));
    assertEquals(0, r.code(), r.err());
    dev.berth.proto.v1.CommitRequest req = cli.daemon.requests(dev.berth.proto.v1.CommitRequest.class).get(0);
    assertEquals("web", req.getContainer());
    assertEquals("app:2", req.getReference());
    assertTrue(req.hasPause(), "the daemon is told either way");
    assertEquals(pause, req.getPause());
  }

  @Test
  void tagSendsBothNames() {
    assertEquals(0, cli.run("tag", "busybox", "127.0.0.1:5000/bb:1").code());
    assertEquals(TagRequest.newBuilder().setSource("busybox").setTarget("127.0.0.1:5000/bb:1").build(),
        cli.daemon.requests(TagRequest.class).get(0));
  }

  @Test
  void saveWritesTheWholeArchiveToTheFileOnly() throws Exception {
    Path out = dir.resolve("images.tar");
    CliRunner.Result r = cli.run("save", "-o", out.toString(), "--format", "oci", "busybox", "alpine");
    assertEquals(0, r.code(), r.err());
    assertEquals("first-second", Files.readString(out));
    SaveRequest req = cli.daemon.requests(SaveRequest.class).get(0);
    assertEquals(List.of("busybox", "alpine"), req.getReferencesList());
    assertEquals(ArchiveFormat.OCI_ARCHIVE, req.getFormat());
    try (Stream<Path> files = Files.list(dir)) {
      assertEquals(List.of(out), files.filter(p -> !p.getFileName().toString().equals("cfg")).toList(), "no temporary left");
    }
  }

  @Test
  void saveRefusesToWriteBinaryToATerminal() {
    cli.terminal.terminal = true;
    CliRunner.Result r = cli.run("save", "busybox");
    assertEquals(1, r.code());
    assertTrue(r.err().contains("cowardly refusing"), r.err());
  }

  @Test
  void saveRejectsAnUnknownFormat() {
    CliRunner.Result r = cli.run("save", "-o", dir.resolve("x.tar").toString(), "--format", "zip", "busybox");
    assertEquals(1, r.code());
    assertTrue(r.err().contains("zip"), r.err());
  }

  @Test
  void loadStreamsTheFileAndNamesWhatItLoaded() throws Exception {
    Path in = dir.resolve("in.tar");
    byte[] data = new byte[200_000];
    for (int i = 0; i < data.length; i++) {
      data[i] = (byte) i;
    }
    Files.write(in, data);
    CliRunner.Result r = cli.run("load", "-i", in.toString());
    assertEquals(0, r.code(), r.err());
    assertEquals("Loaded image: busybox:1\nLoaded image ID: sha256:" + "cd".repeat(32) + "\n", r.out());
    assertEquals(data.length, cli.daemon.loaded.size());
  }

  @Test
  void loadOfAMissingFileSaysSo() {
    CliRunner.Result r = cli.run("load", "-i", dir.resolve("nope.tar").toString());
    assertEquals(1, r.code());
    assertTrue(r.err().contains("no such file"), r.err());
  }

  @Test
  void pruneWithForceReportsWhatWasReclaimed() {
    CliRunner.Result r = cli.run("image", "prune", "-a", "-f");
    assertEquals(0, r.code(), r.err());
    assertEquals("Deleted Images:\ndeleted: sha256:" + "ef".repeat(32) + "\n\nTotal reclaimed space: 3.5MB\n", r.out());
    assertTrue(cli.daemon.requests(PruneRequest.class).get(0).getAll());
  }

  @Test
  void pushSendsTheCredentialsOfItsRegistry() {
    cli.stdin = new java.io.ByteArrayInputStream("pw\n".getBytes(StandardCharsets.UTF_8));
    cli.run("login", "-u", "bob", "--password-stdin", "127.0.0.1:5000");
    cli.run("push", "127.0.0.1:5000/app:1");
    assertEquals("bob", cli.daemon.requests(PushRequest.class).get(0).getAuth().getUsername());
  }
}
