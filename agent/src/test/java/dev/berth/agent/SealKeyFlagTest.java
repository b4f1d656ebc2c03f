package dev.berth.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.berth.agent.cluster.ClusterConfig;
import dev.berth.agent.cluster.Endpoint;
import dev.berth.agent.cluster.SealKey;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** Which agents hold a seal key: --seal-key on a server; a sole server's own; never a plain member. */
class SealKeyFlagTest {
  @TempDir
  Path dir;

  private static AgentMain parse(String... args) {
    AgentMain m = new AgentMain();
    new CommandLine(m).parseArgs(args);
    return m;
  }

  private ClusterConfig member() {
    return new ClusterConfig("c", "n3", new Endpoint("10.0.0.3", 7946), List.of(new Endpoint("10.0.0.1", 7946)), false,
        List.of(), dir, Duration.ofSeconds(3), Duration.ofSeconds(2));
  }

  private ClusterConfig serverOfThree() {
    return new ClusterConfig("c", "n1", new Endpoint("10.0.0.1", 7946), List.of(new Endpoint("10.0.0.2", 7946)), true,
        List.of("n1", "n2", "n3"), dir, Duration.ofSeconds(3), Duration.ofSeconds(2));
  }

  @Test
  void theSoleServerMakesItsOwnUnderTheDataDirAndKeepsIt() {
    ClusterConfig sole = ClusterConfig.standalone("n1", dir, new Endpoint("127.0.0.1", 7946));
    SealKey made = parse().sealKey(sole);
    assertEquals(dir.resolve("seal/seal-key.pem").toString(), made.origin());
    assertEquals(made.id(), parse().sealKey(sole).id());
  }

  @Test
  void aServerOfSeveralGetsOnlyTheGivenOne() throws Exception {
    assertNull(parse().sealKey(serverOfThree()), "no key made: the other servers would not have it");
    SealKey given = SealKey.loadOrCreate(dir.resolve("given.pem"));
    assertEquals(given.id(), parse("--seal-key", dir.resolve("given.pem").toString()).sealKey(serverOfThree()).id());
  }

  @Test
  void aPlainMemberNeverHoldsOne() throws Exception {
    assertNull(parse().sealKey(member()));
    Path file = dir.resolve("given.pem");
    SealKey.loadOrCreate(file);
    BerthException e = assertThrows(BerthException.class,
        () -> parse("--seal-key", file.toString()).sealKey(member()));
    assertEquals("--seal-key " + file + " is for the servers: it opens every registry password of the cluster, and a "
        + "plain member must never hold it", e.getMessage());
  }

  @Test
  void theConfigFileTakesItToo() throws Exception {
    Path f = Files.writeString(dir.resolve("berthd.yaml"), "seal-key: /etc/berth/seal-key.pem\n");
    Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
    String[] all = ConfigFile.expand(() -> new CommandLine(new AgentMain()), new String[] {"--config", f.toString()});
    assertEquals(Path.of("/etc/berth/seal-key.pem"), parse(all).sealKey);
  }
}
