package dev.berth.ctl;

import static dev.berth.ctl.CliRunner.NOW;
import static dev.berth.ctl.CliRunner.NOW_NANOS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerSpec;
import dev.berth.proto.v1.ContainerStatus;
import dev.berth.proto.v1.CreateContainerRequest;
import dev.berth.proto.v1.Health;
import dev.berth.proto.v1.HealthConfig;
import dev.berth.proto.v1.HealthLogEntry;
import dev.berth.proto.v1.HealthStatus;
import dev.berth.proto.v1.RestartPolicy;
import java.time.Clock;
import java.time.ZoneOffset;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** --restart and --health-* as docker's CLI takes them, and how ps and inspect show restarts and health. */
@Timeout(30)
class SelfHealingFlagsTest {
  private static final long S = 1_000_000_000L;
  private static final ObjectMapper JSON = new ObjectMapper();
  private CliRunner cli;

  @BeforeEach
  void start() throws Exception {
    cli = new CliRunner();
  }

  @AfterEach
  void stop() throws Exception {
    cli.close();
  }

  private static ContainerSpec.Builder spec() {
    return ContainerSpec.newBuilder().setImage("alpine");
  }

  private static HealthConfig.Builder shell(String cmd) {
    return HealthConfig.newBuilder().addTest("CMD-SHELL").addTest(cmd);
  }

  static Stream<Arguments> flags() {
    return Stream.of(
        Arguments.of(List.of("--restart", "always"), spec().setRestartPolicy(RestartPolicy.newBuilder().setName("always"))),
        Arguments.of(List.of("--restart=on-failure:3"),
            spec().setRestartPolicy(RestartPolicy.newBuilder().setName("on-failure").setMaxRetries(3))),
        Arguments.of(List.of("--restart", "no", "--rm"),
            spec().setAutoRemove(true).setRestartPolicy(RestartPolicy.newBuilder().setName("no"))),
        Arguments.of(List.of("--health-cmd", "curl -f http://localhost/ || exit 1"),
            spec().setHealthcheck(shell("curl -f http://localhost/ || exit 1"))),
        Arguments.of(List.of("--health-cmd", "true", "--health-interval", "1m30s", "--health-timeout", "500ms",
            "--health-retries", "5", "--health-start-period", "1.5s"),
            spec().setHealthcheck(shell("true").setIntervalNanos(90 * S).setTimeoutNanos(S / 2).setRetries(5)
                .setStartPeriodNanos(3 * S / 2))),
        Arguments.of(List.of("--health-interval", "2s"), spec().setHealthcheck(HealthConfig.newBuilder().setIntervalNanos(2 * S))),
        Arguments.of(List.of("--no-healthcheck"), spec().setHealthcheck(HealthConfig.newBuilder().setDisabled(true))));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("flags")
  void flagsBecomeTheSpec(List<String> args, ContainerSpec.Builder expected) {
    String[] argv = Stream.concat(Stream.concat(Stream.of("create"), args.stream()), Stream.of("alpine")).toArray(String[]::new);
    CliRunner.Result r = cli.run(argv);
    assertEquals(0, r.code(), r.err());
    assertEquals(expected.build(), cli.daemon.requests(CreateContainerRequest.class).get(0).getSpec());
  }

  static Stream<Arguments> usageErrors() {
    return Stream.of(
        Arguments.of(List.of("--restart", "on-failure:x"), "maximum retry count must be an integer"),
        Arguments.of(List.of("--restart", "on-failure:1:2"), "invalid restart policy format"),
        Arguments.of(List.of("--restart", "always", "--rm"), "cannot specify both --restart and --rm"),
        Arguments.of(List.of("--no-healthcheck", "--health-cmd", "true"), "--no-healthcheck conflicts with --health-* options"),
        Arguments.of(List.of("--health-interval", "-1s"), "--health-interval cannot be negative"),
        Arguments.of(List.of("--health-timeout", "soon"), "invalid duration \"soon\""),
        Arguments.of(List.of("--health-retries", "-1"), "--health-retries cannot be negative"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("usageErrors")
  void badFlagsAreUsageErrors(List<String> args, String message) {
    String[] argv = Stream.concat(Stream.concat(Stream.of("run"), args.stream()), Stream.of("alpine")).toArray(String[]::new);
    CliRunner.Result r = cli.run(argv);
    assertEquals(125, r.code(), r.err());
    assertTrue(r.err().contains(message), r.err());
    assertTrue(cli.daemon.requests.isEmpty(), "no request for a usage error");
  }

  static Stream<Arguments> statuses() {
    Container up = Container.newBuilder().setStatus(ContainerStatus.RUNNING).setStartedAtUnixNanos(NOW_NANOS - 3 * S).build();
    return Stream.of(
        Arguments.of(up, "Up 3 seconds"),
        Arguments.of(up.toBuilder().setHealth(Health.newBuilder().setStatus(HealthStatus.HEALTH_STARTING)).build(),
            "Up 3 seconds (health: starting)"),
        Arguments.of(up.toBuilder().setHealth(Health.newBuilder().setStatus(HealthStatus.HEALTH_HEALTHY)).build(),
            "Up 3 seconds (healthy)"),
        Arguments.of(up.toBuilder().setHealth(Health.newBuilder().setStatus(HealthStatus.HEALTH_UNHEALTHY)).build(),
            "Up 3 seconds (unhealthy)"),
        Arguments.of(Container.newBuilder().setStatus(ContainerStatus.EXITED).setExitCode(1).setRestarting(true)
            .setFinishedAtUnixNanos(NOW_NANOS - 3 * S).build(), "Restarting (1) 3 seconds ago"),
        Arguments.of(Container.newBuilder().setStatus(ContainerStatus.EXITED).setExitCode(3).setRestartCount(3)
            .setFinishedAtUnixNanos(NOW_NANOS - 3 * S).build(), "Exited (3) 3 seconds ago"));
  }

  @ParameterizedTest(name = "{1}")
  @MethodSource("statuses")
  void psStatus(Container c, String text) {
    assertEquals(text, Format.status(c, Clock.fixed(NOW, ZoneOffset.UTC)));
  }

  private static final String ID = "5a6b7c8d9e0f" + "1".repeat(52);

  private void putRestarting() {
    cli.daemon.containers.put(ID, Container.newBuilder().setId(ID).setName("looper").setImage("alpine")
        .setSpec(spec().setRestartPolicy(RestartPolicy.newBuilder().setName("on-failure").setMaxRetries(5)))
        .addPathAndArgs("false").setStatus(ContainerStatus.EXITED).setExitCode(1).setRestarting(true).setRestartCount(2)
        .setCreatedAtUnixNanos(NOW_NANOS - 60 * S).setFinishedAtUnixNanos(NOW_NANOS - S)
        .setHealthcheck(shell("true").setIntervalNanos(2 * S).setRetries(2))
        .setHealth(Health.newBuilder().setStatus(HealthStatus.HEALTH_UNHEALTHY).setFailingStreak(2)
            .addLog(HealthLogEntry.newBuilder().setStartUnixNanos(NOW_NANOS - 3 * S).setEndUnixNanos(NOW_NANOS - 3 * S + 5)
                .setExitCode(-1).setOutput("Health check exceeded timeout (1s)")))
        .build());
  }

  @ParameterizedTest(name = "fast path {0}")
  @ValueSource(booleans = {true, false})
  void aRestartingContainerIsListedAsDockerListsIt(boolean fast) {
    putRestarting();
    cli.fastPath = fast;
    CliRunner.Result r = cli.run("ps");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("Restarting (1) 1 second ago"), r.out());
  }

  @Test
  void inspectShowsRestartsAndHealth() throws Exception {
    putRestarting();
    CliRunner.Result r = cli.run("inspect", "looper");
    assertEquals(0, r.code(), r.err());
    JsonNode c = JSON.readTree(r.out()).get(0);
    assertEquals("restarting", c.at("/State/Status").asText());
    assertTrue(c.at("/State/Restarting").asBoolean());
    assertTrue(c.at("/State/Running").asBoolean(), "docker counts a restarting container as running");
    assertEquals(2, c.get("RestartCount").asInt());
    assertEquals("on-failure", c.at("/HostConfig/RestartPolicy/Name").asText());
    assertEquals(5, c.at("/HostConfig/RestartPolicy/MaximumRetryCount").asInt());
    assertEquals("unhealthy", c.at("/State/Health/Status").asText());
    assertEquals(2, c.at("/State/Health/FailingStreak").asInt());
    assertEquals(-1, c.at("/State/Health/Log/0/ExitCode").asInt());
    assertEquals("Health check exceeded timeout (1s)", c.at("/State/Health/Log/0/Output").asText());
    assertEquals("2024-05-01T11:59:57Z", c.at("/State/Health/Log/0/Start").asText());
    assertEquals("CMD-SHELL", c.at("/Config/Healthcheck/Test/0").asText());
    assertEquals(2 * S, c.at("/Config/Healthcheck/Interval").asLong());
    assertTrue(c.at("/Config/Healthcheck/Timeout").isMissingNode(), "unset fields are left out");
  }

  @Test
  void aContainerWithoutPolicyShowsNo() throws Exception {
    cli.daemon.containers.put(ID, Container.newBuilder().setId(ID).setName("plain").setStatus(ContainerStatus.RUNNING).build());
    JsonNode c = JSON.readTree(cli.run("inspect", "plain").out()).get(0);
    assertEquals("no", c.at("/HostConfig/RestartPolicy/Name").asText());
    assertEquals(0, c.get("RestartCount").asInt());
    assertTrue(c.at("/State/Health").isMissingNode());
    assertTrue(c.at("/Config/Healthcheck").isMissingNode());
  }
}
