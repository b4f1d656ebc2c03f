package dev.berth.ctl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.berth.proto.v1.AttachInput;
import dev.berth.proto.v1.AttachOpen;
import dev.berth.proto.v1.AttachOutput;
import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ExecInput;
import dev.berth.proto.v1.ExitStatus;
import dev.berth.proto.v1.ImportChunk;
import dev.berth.proto.v1.ImportHeader;
import dev.berth.proto.v1.KillContainerRequest;
import dev.berth.proto.v1.TerminalSize;
import java.io.ByteArrayInputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** run/exec/start -a streaming: output frames, stdin forwarding, tty handling; image import chunks. */
@Timeout(30)
class StreamingTest {
  private CliRunner cli;

  @BeforeEach
  void start() throws Exception {
    cli = new CliRunner();
    cli.daemon.containers.put("abc123", Container.newBuilder().setId("abc123").setName("web").build());
    cli.daemon.output.add(AttachOutput.newBuilder().setStdout(ByteString.copyFromUtf8("hello\n")).build());
    cli.daemon.output.add(AttachOutput.newBuilder().setStderr(ByteString.copyFrom(new byte[] {(byte) 0xff, 'x', '\n'})).build());
    cli.daemon.output.add(AttachOutput.newBuilder().setStdout(ByteString.copyFromUtf8("bye\n")).build());
  }

  @AfterEach
  void stop() throws Exception {
    cli.close();
  }

  @Test
  void runCopiesOutputFramesAsRawBytes() {
    CliRunner.Result r = cli.run("run", "alpine");
    assertEquals(0, r.code(), r.err());
    assertEquals("hello\nbye\n", r.out());
    assertArrayEquals(new byte[] {(byte) 0xff, 'x', '\n'}, r.stderr(), "stderr bytes pass through undecoded");
    AttachInput open = cli.daemon.requests(AttachInput.class).get(0);
    assertEquals(AttachOpen.newBuilder().setId(cli.daemon.createdId).setStart(true).build(), open.getOpen());
    assertEquals(1, cli.daemon.requests(AttachInput.class).size(), "no stdin without -i");
  }

  @Test
  void runWithoutATtyPassesSignalsToTheContainer() throws Exception {
    CliRunner.Result r = cli.run("run", "alpine");
    assertEquals(0, r.code(), r.err());
    cli.terminal.signalListener.accept("INT");
    for (int i = 0; i < 100 && cli.daemon.requests(KillContainerRequest.class).isEmpty(); i++) {
      Thread.sleep(20);
    }
    assertEquals(List.of(KillContainerRequest.newBuilder().setId(cli.daemon.createdId).setSignal("INT").build()),
        cli.daemon.requests(KillContainerRequest.class));
  }

  @Test
  void runWithATtyLeavesSignalsToThePty() {
    cli.terminal.terminal = true;
    CliRunner.Result r = cli.run("run", "-t", "alpine");
    assertEquals(0, r.code(), r.err());
    assertEquals(null, cli.terminal.signalListener);
  }

  @Test
  void runForwardsStdinThenClosesIt() {
    cli.stdin = new ByteArrayInputStream("line one\nline two\n".getBytes(StandardCharsets.UTF_8));
    cli.daemon.exit = ExitStatus.newBuilder().setExitCode(42).build();
    CliRunner.Result r = cli.run("run", "-i", "alpine", "cat");
    assertEquals(42, r.code(), r.err());
    assertEquals("hello\nbye\nline one\nline two\n", r.out());
    List<AttachInput> in = cli.daemon.requests(AttachInput.class);
    assertTrue(in.get(0).getOpen().getStdin());
    assertEquals("line one\nline two\n", in.get(1).getStdin().toStringUtf8());
    assertTrue(in.get(in.size() - 1).getCloseStdin());
    assertEquals(3, in.size());
  }

  @Test
  void largeStdinIsChunkedAndEchoedCompletely() {
    byte[] data = new byte[3 << 20];
    new Random(7).nextBytes(data);
    cli.stdin = new ByteArrayInputStream(data);
    cli.daemon.output.clear();
    CliRunner.Result r = cli.run("exec", "-i", "web", "cat");
    assertEquals(0, r.code(), r.err());
    assertArrayEquals(data, r.stdout());
    List<ExecInput> in = cli.daemon.requests(ExecInput.class);
    assertTrue(in.size() > 90, "3 MiB go in chunks of at most 32 KiB: " + in.size());
    assertTrue(in.get(in.size() - 1).getCloseStdin());
  }

  @Test
  void ttyOnATerminalGoesRawSendsTheSizeAndResizes() throws Exception {
    cli.terminal.terminal = true;
    PipedOutputStream keyboard = new PipedOutputStream();
    cli.stdin = new PipedInputStream(keyboard);
    CompletableFuture<CliRunner.Result> run = CompletableFuture.supplyAsync(() -> cli.run("run", "-it", "alpine", "sh"));
    assertTrue(cli.terminal.resizeRegistered.await(10, TimeUnit.SECONDS));
    assertEquals(1, cli.terminal.raw.get());
    cli.terminal.size = TerminalSize.newBuilder().setRows(50).setCols(132).build();
    cli.terminal.resizeListener.run();
    keyboard.write("exit\n".getBytes(StandardCharsets.UTF_8));
    keyboard.close();
    CliRunner.Result r = run.get(10, TimeUnit.SECONDS);
    assertEquals(0, r.code(), r.err());
    assertEquals(1, cli.terminal.restored.get(), "the terminal is restored");
    List<AttachInput> in = cli.daemon.requests(AttachInput.class);
    assertEquals(TerminalSize.newBuilder().setRows(24).setCols(80).build(), in.get(0).getOpen().getSize());
    assertEquals(TerminalSize.newBuilder().setRows(50).setCols(132).build(), in.get(1).getResize());
    assertEquals("exit\n", in.get(2).getStdin().toStringUtf8());
    assertTrue(in.get(3).getCloseStdin());
    assertTrue(cli.daemon.requests(dev.berth.proto.v1.CreateContainerRequest.class).get(0).getSpec().getTty());
  }

  @Test
  void ttyWithoutATerminalStaysCooked() {
    CliRunner.Result r = cli.run("exec", "-t", "web", "ls");
    assertEquals(0, r.code(), r.err());
    assertEquals(0, cli.terminal.raw.get());
    ExecInput first = cli.daemon.requests(ExecInput.class).get(0);
    assertTrue(first.getExec().getTty());
    assertTrue(!first.getExec().hasSize());
  }

  @Test
  void execExitsWithTheProcessCode() {
    cli.daemon.exit = ExitStatus.newBuilder().setExitCode(5).build();
    CliRunner.Result r = cli.run("exec", "web", "false");
    assertEquals(5, r.code());
    assertEquals("hello\nbye\n", r.out());
  }

  @Test
  void startAttachExitsWithTheContainersCode() {
    cli.daemon.exit = ExitStatus.newBuilder().setExitCode(9).build();
    CliRunner.Result r = cli.run("start", "-a", "web");
    assertEquals(9, r.code(), r.err());
    assertEquals(AttachOpen.newBuilder().setId("web").setStart(true).build(),
        cli.daemon.requests(AttachInput.class).get(0).getOpen());
  }

  @Test
  void imageImportStreamsChunksAfterTheHeader(@TempDir Path dir) throws Exception {
    byte[] tar = new byte[200 * 1024 + 17];
    new Random(1).nextBytes(tar);
    Path f = dir.resolve("rootfs.tar");
    Files.write(f, tar);
    CliRunner.Result r = cli.run("image", "import", "--change", "CMD [\"sh\", \"-l\"]", "-c", "ENV A=1 B=2",
        "-c", "WORKDIR /srv", "-c", "EXPOSE 80 53/udp", f.toString(), "mine:1.0");
    assertEquals(0, r.code(), r.err());
    assertEquals("sha256:" + "ab".repeat(32) + "\n", r.out());
    assertEquals(ImportHeader.newBuilder().setReference("mine:1.0").addCmd("sh").addCmd("-l")
        .addEnv("A=1").addEnv("B=2").setWorkingDir("/srv").addExposedPorts("80/tcp").addExposedPorts("53/udp").build(),
        cli.daemon.requests(ImportChunk.class).get(0).getHeader());
    assertArrayEquals(tar, cli.daemon.imported.toByteArray());
  }

  @Test
  void imageImportRefusesABadExposedPort() {
    CliRunner.Result r = cli.run("image", "import", "-c", "EXPOSE 80/sctp", "-", "app");
    assertEquals(1, r.code());
    assertTrue(r.err().contains("invalid port \"80/sctp\" in --change EXPOSE"), r.err());
  }

  @Test
  void imageImportReadsStdinForDash() {
    cli.stdin = new ByteArrayInputStream("tarball bytes".getBytes(StandardCharsets.UTF_8));
    CliRunner.Result r = cli.run("image", "import", "--change", "ENTRYPOINT /bin/app --serve", "-", "app");
    assertEquals(0, r.code(), r.err());
    assertEquals(List.of("/bin/sh", "-c", "/bin/app --serve"),
        cli.daemon.requests(ImportChunk.class).get(0).getHeader().getEntrypointList());
    assertEquals("tarball bytes", cli.daemon.imported.toString(StandardCharsets.UTF_8));
  }

  @Test
  void imageImportOfAMissingFile() {
    CliRunner.Result r = cli.run("image", "import", "/nonexistent.tar", "x");
    assertEquals(1, r.code());
    assertEquals("open /nonexistent.tar: no such file or directory\n", r.err());
  }
}
