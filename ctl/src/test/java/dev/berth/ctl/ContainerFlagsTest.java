package dev.berth.ctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.proto.v1.ContainerSpec;
import dev.berth.proto.v1.CreateContainerRequest;
import dev.berth.proto.v1.ExecInput;
import dev.berth.proto.v1.ExecSpec;
import dev.berth.proto.v1.LogConfig;
import dev.berth.proto.v1.Resources;
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
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Flags of create, run and exec, and the exact requests they turn into. */
@Timeout(30)
class ContainerFlagsTest {
  private CliRunner cli;

  @BeforeEach
  void start() throws Exception {
    cli = new CliRunner();
    cli.env.put("FROM_ENV", "client value");
  }

  @AfterEach
  void stop() throws Exception {
    cli.close();
  }

  private static ContainerSpec.Builder spec(String image) {
    return ContainerSpec.newBuilder().setImage(image);
  }

  static Stream<Arguments> createCases() {
    return Stream.of(
        Arguments.of("just an image", List.of("alpine"), spec("alpine")),
        Arguments.of("the command keeps its dashes, even -c and --name",
            List.of("--name", "web", "alpine", "sh", "-c", "echo hi", "--name", "x"),
            spec("alpine").setName("web").addAllCmd(List.of("sh", "-c", "echo hi", "--name", "x"))),
        Arguments.of("-- before the image", List.of("--", "alpine", "-x"), spec("alpine").addCmd("-x")),
        Arguments.of("env: K=V, K from the client, unknown K dropped",
            List.of("-e", "A=1", "--env", "FROM_ENV", "-e", "NOT_SET", "-e", "EMPTY=", "alpine"),
            spec("alpine").addAllEnv(List.of("A=1", "FROM_ENV=client value", "EMPTY="))),
        Arguments.of("entrypoint replaces the image's", List.of("--entrypoint", "/bin/sh", "alpine", "-c", "true"),
            spec("alpine").setEntrypointSet(true).addEntrypoint("/bin/sh").addAllCmd(List.of("-c", "true"))),
        Arguments.of("an empty entrypoint clears it", List.of("--entrypoint", "", "alpine"),
            spec("alpine").setEntrypointSet(true)),
        Arguments.of("clustered -it and --rm", List.of("-it", "--rm", "alpine"),
            spec("alpine").setTty(true).setOpenStdin(true).setAutoRemove(true)),
        Arguments.of("resources", List.of("-m", "512m", "--cpus", "0.5", "--pids-limit", "100", "alpine"),
            spec("alpine").setResources(Resources.newBuilder().setMemory("512m").setCpus("0.5").setPidsLimit(100))),
        Arguments.of("--memory= form", List.of("--memory=1g", "alpine"),
            spec("alpine").setResources(Resources.newBuilder().setMemory("1g"))),
        Arguments.of("everything else",
            List.of("-w", "/srv", "-u", "1000:1000", "--hostname", "box", "--security-opt", "seccomp=unconfined",
                "--security-opt", "no-new-privileges=false", "-l", "app=web", "--label", "flag",
                "--log-opt", "max-size=10m", "--log-opt", "max-file=3", "--stop-signal", "SIGINT",
                "--stop-timeout", "5", "alpine:3.20"),
            spec("alpine:3.20").setWorkingDir("/srv").setUser("1000:1000").setHostname("box")
                .addSecurityOpt("seccomp=unconfined").addSecurityOpt("no-new-privileges=false")
                .putLabels("app", "web").putLabels("flag", "")
                .setLogConfig(LogConfig.newBuilder().setMaxSize("10m").setMaxFile(3))
                .setStopSignal("SIGINT").setStopTimeout(5)));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("createCases")
  void createSendsTheSpec(String title, List<String> args, ContainerSpec.Builder expected) {
    String[] argv = Stream.concat(Stream.of("create"), args.stream()).toArray(String[]::new);
    CliRunner.Result r = cli.run(argv);
    assertEquals(0, r.code(), r.err());
    assertEquals(cli.daemon.createdId + "\n", r.out());
    List<CreateContainerRequest> reqs = cli.daemon.requests(CreateContainerRequest.class);
    assertEquals(1, reqs.size());
    assertEquals(expected.build(), reqs.get(0).getSpec());
  }

  @Test
  void envFileThenFlags(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("env");
    Files.writeString(f, "# comment\n\nFILE_A=1\n  FROM_ENV\nFILE_B=two words\n");
    CliRunner.Result r = cli.run("run", "-d", "--env-file", f.toString(), "-e", "FILE_A=override", "alpine");
    assertEquals(0, r.code(), r.err());
    assertEquals(List.of("FILE_A=1", "FROM_ENV=client value", "FILE_B=two words", "FILE_A=override"),
        cli.daemon.requests(CreateContainerRequest.class).get(0).getSpec().getEnvList());
  }

  @Test
  void networkModeIsPassedOn() {
    assertEquals(0, cli.run("run", "-d", "--network", "host", "alpine").code());
    assertEquals(0, cli.run("run", "-d", "--net=none", "alpine").code());
    var specs = cli.daemon.requests(CreateContainerRequest.class);
    assertEquals("host", specs.get(0).getSpec().getNetworkMode());
    assertEquals("none", specs.get(1).getSpec().getNetworkMode());
  }

  @Test
  void runDetachedStartsPrintsTheIdAndDoesNotAttach() {
    CliRunner.Result r = cli.run("run", "-d", "--name", "web", "alpine", "sleep", "1");
    assertEquals(0, r.code(), r.err());
    assertEquals(cli.daemon.createdId + "\n", r.out());
    assertEquals(spec("alpine").setName("web").addCmd("sleep").addCmd("1").build(),
        cli.daemon.requests(CreateContainerRequest.class).get(0).getSpec());
    assertTrue(cli.daemon.requests(dev.berth.proto.v1.AttachInput.class).isEmpty());
    assertEquals(List.of(cli.daemon.createdId),
        cli.daemon.requests(dev.berth.proto.v1.ContainerRef.class).stream().map(dev.berth.proto.v1.ContainerRef::getId).toList());
  }

  @Test
  void execSendsTheSpecWithEnvFromTheClient() {
    cli.daemon.containers.put("abc", dev.berth.proto.v1.Container.newBuilder().setId("abc").setName("web").build());
    CliRunner.Result r = cli.run("exec", "-e", "A=1", "-e", "FROM_ENV", "-u", "nobody", "-w", "/tmp", "web", "ls", "-l", "-a");
    assertEquals(0, r.code(), r.err());
    ExecInput first = cli.daemon.requests(ExecInput.class).get(0);
    assertEquals(ExecSpec.newBuilder().setContainerId("web").addAllCmd(List.of("ls", "-l", "-a"))
        .addAllEnv(List.of("A=1", "FROM_ENV=client value")).setUser("nobody").setWorkingDir("/tmp").build(),
        first.getExec());
  }

  static Stream<Arguments> usageErrors() {
    return Stream.of(
        Arguments.of(List.of("run", "--bogus", "alpine"), 125, "Unknown option: '--bogus'"),
        Arguments.of(List.of("run"), 125, "Missing required parameter: 'IMAGE'"),
        Arguments.of(List.of("create", "--pids-limit", "many", "alpine"), 125, "Invalid value"),
        Arguments.of(List.of("run", "--log-opt", "mode=fast", "alpine"), 125, "unknown log opt 'mode' for json-file log driver"),
        Arguments.of(List.of("run", "--env-file", "/nonexistent/env", "alpine"), 125, "no such file or directory"),
        Arguments.of(List.of("exec", "web"), 125, "Missing required parameter: 'COMMAND'"),
        Arguments.of(List.of("ps", "--bogus"), 2, "Unknown option: '--bogus'"),
        Arguments.of(List.of("stop"), 2, "Missing required parameter"),
        Arguments.of(List.of("image", "import", "file.tar"), 2, "Missing required parameter"),
        Arguments.of(List.of("nosuchcommand"), 2, "Unmatched argument"),
        Arguments.of(List.of("stop", "-t", "soon", "web"), 2, "Invalid value"));
  }

  @ParameterizedTest(name = "{0} exits {1}")
  @MethodSource("usageErrors")
  void usageErrorsExitLikeDocker(List<String> args, int code, String message) {
    CliRunner.Result r = cli.run(args.toArray(String[]::new));
    assertEquals(code, r.code(), r.err());
    assertTrue(r.err().contains(message), r.err());
    assertTrue(r.err().contains("--help"), r.err());
    assertEquals("", r.out());
    assertTrue(cli.daemon.requests.isEmpty(), "no request for a usage error");
  }
}
