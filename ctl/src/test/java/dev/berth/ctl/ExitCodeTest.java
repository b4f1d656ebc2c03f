package dev.berth.ctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ExitStatus;
import dev.berth.proto.v1.RemoveContainerRequest;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Exit codes and error messages: the container's code, daemon refusals, an absent daemon. */
@Timeout(30)
class ExitCodeTest {
  private CliRunner cli;

  @BeforeEach
  void start() throws Exception {
    cli = new CliRunner();
    cli.daemon.containers.put("abc123", Container.newBuilder().setId("abc123").setName("web").setExitCode(3).build());
  }

  @AfterEach
  void stop() throws Exception {
    cli.close();
  }

  @ParameterizedTest(name = "container exits {0}")
  @MethodSource("exitCodes")
  void runExitsWithTheContainersCode(int code) {
    cli.daemon.exit = ExitStatus.newBuilder().setExitCode(code).build();
    CliRunner.Result r = cli.run("run", "alpine", "sh", "-c", "exit " + code);
    assertEquals(code, r.code(), r.err());
    assertEquals("", r.err());
  }

  static Stream<Integer> exitCodes() {
    return Stream.of(0, 1, 3, 127, 137);
  }

  @Test
  void startFailureIsReportedWithItsCode() {
    cli.daemon.exit = ExitStatus.newBuilder().setExitCode(127).setError("exec: \"nope\": executable file not found in $PATH").build();
    CliRunner.Result r = cli.run("run", "alpine", "nope");
    assertEquals(127, r.code());
    assertEquals("Error response from daemon: exec: \"nope\": executable file not found in $PATH\n", r.err());
  }

  @Test
  void runRemovesTheContainerWithRm() {
    CliRunner.Result r = cli.run("run", "--rm", "alpine", "true");
    assertEquals(0, r.code(), r.err());
    assertEquals(List.of(RemoveContainerRequest.newBuilder().setId(cli.daemon.createdId).setForce(true).setVolumes(true).build()),
        cli.daemon.requests(RemoveContainerRequest.class));
  }

  static Stream<Arguments> daemonRefusals() {
    return Stream.of(
        Arguments.of(List.of("run", "--pull", "never", "missing"), 125, "Error response from daemon: No such image: missing\n"),
        Arguments.of(List.of("create", "--pull", "never", "missing"), 1, "Error response from daemon: No such image: missing\n"),
        Arguments.of(List.of("inspect", "nope"), 1, "Error response from daemon: No such container: nope\n"),
        Arguments.of(List.of("stop", "nope"), 1, "Error response from daemon: No such container: nope\n"),
        Arguments.of(List.of("logs", "nope"), 1, "Error response from daemon: No such container: nope\n"),
        Arguments.of(List.of("exec", "nope", "ls"), 1, "Error response from daemon: No such container: nope\n"),
        Arguments.of(List.of("start", "-a", "nope"), 1, "Error response from daemon: No such container: nope\n"),
        Arguments.of(List.of("rmi", "nope"), 1, "Error response from daemon: No such image: nope\n"),
        Arguments.of(List.of("image", "inspect", "nope"), 1, "Error response from daemon: No such image: nope\n"));
  }

  @ParameterizedTest(name = "{0} exits {1}")
  @MethodSource("daemonRefusals")
  void daemonErrorsPrintTheAgentsMessage(List<String> args, int code, String err) {
    CliRunner.Result r = cli.run(args.toArray(String[]::new));
    assertEquals(code, r.code());
    assertEquals(err, r.err());
  }

  @Test
  void multipleIdsContinuePastAFailure() {
    CliRunner.Result r = cli.run("rm", "nope", "web");
    assertEquals(1, r.code());
    assertEquals("web\n", r.out());
    assertEquals("Error response from daemon: No such container: nope\n", r.err());
  }

  static Stream<Arguments> unreachable() {
    return Stream.of(Arguments.of(List.of("ps"), 1), Arguments.of(List.of("images", "-q"), 1),
        Arguments.of(List.of("inspect", "x"), 1), Arguments.of(List.of("run", "alpine"), 125),
        Arguments.of(List.of("version"), 1));
  }

  @ParameterizedTest(name = "{0} exits {1}")
  @MethodSource("unreachable")
  void anAbsentDaemonIsNamed(List<String> args, int code, @TempDir Path dir) {
    cli.connector = DaemonAddress::connect;  // the real unix-socket transport
    String socket = dir.resolve("berthd.sock").toString();
    String[] argv = Stream.concat(Stream.of("-H", socket), args.stream()).toArray(String[]::new);
    CliRunner.Result r = cli.run(argv);
    assertEquals(code, r.code());
    assertTrue(r.err().endsWith("Cannot connect to the Berth daemon at unix://" + socket + ". Is berthd running?\n"), r.err());
  }

  @Test
  void anAbsentTcpDaemonIsNamed() {
    cli.connector = DaemonAddress::connect;
    CliRunner.Result r = cli.run("-H", "tcp://127.0.0.1:1", "ps");
    assertEquals(1, r.code());
    assertEquals("Cannot connect to the Berth daemon at tcp://127.0.0.1:1. Is berthd running?\n", r.err());
  }

  @Test
  void hostComesFromFlagThenEnvironmentThenDefault() {
    cli.run("ps");
    cli.env.put("BERTH_HOST", "unix:///tmp/from-env.sock");
    cli.run("ps");
    cli.run("-H", "10.0.0.1:2375", "ps");
    cli.run("--host=/run/x.sock", "ps", "-a");
    cli.fastPath = false;
    cli.run("--host", "/run/y.sock", "ps");
    assertEquals(List.of("unix:///run/berth/berthd.sock", "unix:///tmp/from-env.sock", "tcp://10.0.0.1:2375",
        "unix:///run/x.sock", "unix:///run/y.sock"), cli.connects.stream().map(DaemonAddress::display).toList());
  }

  @Test
  void aBadHostIsAnError() {
    CliRunner.Result r = cli.run("-H", "nonsense", "ps");
    assertEquals(1, r.code());
    assertTrue(r.err().startsWith("invalid host \"nonsense\""), r.err());
  }

  @Test
  void helpAndVersionExitZero() {
    CliRunner.Result help = cli.run("--help");
    assertEquals(0, help.code());
    assertTrue(help.out().contains("images   List images"), help.out());
    CliRunner.Result runHelp = cli.run("run", "--help");
    assertEquals(0, runHelp.code());
    assertTrue(runHelp.out().contains("Usage: berth run"), runHelp.out());
    assertTrue(cli.run("-v").out().startsWith("Berth version "));
    assertEquals(0, cli.run().code());
  }
}
