package dev.berth.ctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.proto.v1.LoginRequest;
import dev.berth.proto.v1.PullRequest;
import dev.berth.proto.v1.RegistryAuth;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** `login`/`logout`: credentials checked by the daemon, kept private, sent with pulls of their registry only. */
@Timeout(30)
class LoginTest {
  @TempDir
  Path home;
  private CliRunner cli;

  @BeforeEach
  void start() throws Exception {
    cli = new CliRunner();
    cli.env.put("BERTH_CONFIG", home.resolve("berth").toString());
  }

  @AfterEach
  void stop() throws Exception {
    cli.close();
  }

  private CliRunner.Result login(String server, String user, String password) {
    cli.stdin = new ByteArrayInputStream((password + "\n").getBytes(StandardCharsets.UTF_8));
    return cli.run("login", "-u", user, "--password-stdin", server);
  }

  @Test
  void loginStoresCredentialsReadableByTheOwnerOnly() throws Exception {
    CliRunner.Result r = login("127.0.0.1:5000", "alice", "s3cret");
    assertEquals(0, r.code(), r.err());
    assertEquals("Login Succeeded\n", r.out());
    LoginRequest sent = cli.daemon.requests(LoginRequest.class).get(0);
    assertEquals("127.0.0.1:5000", sent.getServer());
    assertEquals(RegistryAuth.newBuilder().setUsername("alice").setPassword("s3cret").build(), sent.getAuth());
    Path file = home.resolve("berth/config.json");
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
    assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file.getParent())));
    assertFalse(Files.readString(file).contains("s3cret"), "stored as docker does, base64, not in the clear");
  }

  @Test
  void aClusterLoginAsksTheAgentToKeepItAndAClusterLogoutToForgetIt() {
    cli.stdin = new ByteArrayInputStream("s3cret\n".getBytes(StandardCharsets.UTF_8));
    CliRunner.Result r = cli.run("login", "--cluster", "-u", "alice", "--password-stdin", "127.0.0.1:5000");
    assertEquals(0, r.code(), r.err());
    assertEquals("Login Succeeded (kept for the cluster's jobs)\n", r.out());
    assertTrue(cli.daemon.requests(LoginRequest.class).get(0).getCluster());
    assertFalse(login("127.0.0.1:5001", "bob", "pw").out().isEmpty());
    assertFalse(cli.daemon.requests(LoginRequest.class).get(1).getCluster(), "only when asked for");

    CliRunner.Result out = cli.run("logout", "--cluster", "127.0.0.1:5000");
    assertEquals("Removing the cluster's login credentials for 127.0.0.1:5000\n", out.out());
    assertTrue(cli.daemon.requests(dev.berth.proto.v1.LogoutRequest.class).get(0).getCluster());
    assertEquals("The cluster has no login for 127.0.0.1:5002\n", cli.run("logout", "--cluster", "127.0.0.1:5002").out());
    // The user's own stored login is untouched by the cluster's logout.
    assertTrue(cli.run("logout", "127.0.0.1:5000").out().startsWith("Removing login credentials"));
  }

  @Test
  void aRefusedLoginStoresNothing() {
    CliRunner.Result r = login("127.0.0.1:5000", "alice", "wrong");
    assertEquals(1, r.code());
    assertTrue(r.err().contains("unauthorized"), r.err());
    assertFalse(Files.exists(home.resolve("berth/config.json")));
  }

  @Test
  void pullsSendTheCredentialsOfTheirRegistryOnly() {
    login("127.0.0.1:5000", "alice", "s3cret");
    cli.run("pull", "127.0.0.1:5000/app:1");
    cli.run("pull", "busybox");
    var pulls = cli.daemon.requests(PullRequest.class);
    assertEquals("alice", pulls.get(0).getAuth().getUsername());
    assertEquals(RegistryAuth.getDefaultInstance(), pulls.get(1).getAuth());
  }

  @Test
  void logoutForgets() {
    login("127.0.0.1:5000", "alice", "s3cret");
    assertEquals("Removing login credentials for 127.0.0.1:5000\n", cli.run("logout", "127.0.0.1:5000").out());
    assertEquals("Not logged in to 127.0.0.1:5000\n", cli.run("logout", "127.0.0.1:5000").out());
    cli.run("pull", "127.0.0.1:5000/app:1");
    assertEquals(RegistryAuth.getDefaultInstance(), cli.daemon.requests(PullRequest.class).get(0).getAuth());
  }

  @ParameterizedTest(name = "{0} → {1}")
  @CsvSource({
      "busybox, docker.io",
      "library/busybox:1, docker.io",
      "user/app, docker.io",
      "127.0.0.1:5000/app:1, 127.0.0.1:5000",
      "localhost/app, localhost",
      "registry.example.com/team/app@sha256:abc, registry.example.com",
      "index.docker.io/library/busybox, docker.io",
  })
  void registryOfAReference(String reference, String registry) {
    assertEquals(registry, Credentials.registryOf(reference));
  }
}
