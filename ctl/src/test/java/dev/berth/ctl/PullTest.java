package dev.berth.ctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.proto.v1.CreateContainerRequest;
import dev.berth.proto.v1.PullRequest;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** `pull` and `run --pull`: what is asked of the daemon and what the user sees. */
@Timeout(30)
class PullTest {
  private CliRunner cli;

  @BeforeEach
  void start() throws Exception {
    cli = new CliRunner();
  }

  @AfterEach
  void stop() throws Exception {
    cli.close();
  }

  @Test
  void pullPrintsOneLinePerLayerStateWhenNotATerminal() {
    CliRunner.Result r = cli.run("pull", "busybox");
    assertEquals(0, r.code(), r.err());
    assertEquals(List.of("cdcdcdcdcdcd: Waiting", "cdcdcdcdcdcd: Downloading", "cdcdcdcdcdcd: Pull complete",
        "Digest: sha256:" + "cd".repeat(32), "busybox:latest"), List.of(r.out().split("\n")));
    assertEquals("busybox", cli.daemon.requests(PullRequest.class).get(0).getReference());
  }

  @Test
  void pullQuietPrintsOnlyTheImage() {
    CliRunner.Result r = cli.run("pull", "-q", "busybox");
    assertEquals("busybox:latest\n", r.out());
  }

  @Test
  void pullOfAnUnknownImageSaysSo() {
    CliRunner.Result r = cli.run("pull", "nowhere");
    assertEquals(1, r.code());
    assertTrue(r.err().contains("manifest unknown: nowhere"), r.err());
  }

  @Test
  void runPullsAMissingImageThenCreates() {
    CliRunner.Result r = cli.run("run", "-d", "missing");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.err().contains("Unable to find image 'missing' locally"), r.err());
    assertEquals(1, cli.daemon.requests(PullRequest.class).size());
    assertEquals(2, cli.daemon.requests(CreateContainerRequest.class).size(), "create, pull, create again");
  }

  @Test
  void runWithPullNeverDoesNotPull() {
    CliRunner.Result r = cli.run("run", "-d", "--pull", "never", "missing");
    assertEquals(125, r.code());
    assertTrue(cli.daemon.requests(PullRequest.class).isEmpty());
  }

  @Test
  void runWithPullAlwaysPullsFirst() {
    CliRunner.Result r = cli.run("run", "-d", "--pull", "always", "alpine");
    assertEquals(0, r.code(), r.err());
    assertEquals(1, cli.daemon.requests(PullRequest.class).size());
    assertEquals(1, cli.daemon.requests(CreateContainerRequest.class).size());
  }

  @Test
  void runRejectsAnUnknownPullPolicy() {
    CliRunner.Result r = cli.run("run", "--pull", "sometimes", "alpine");
    assertEquals(125, r.code());
    assertTrue(r.err().contains("sometimes"), r.err());
  }
}
