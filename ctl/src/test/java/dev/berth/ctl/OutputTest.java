package dev.berth.ctl;

import static dev.berth.ctl.CliRunner.NOW_NANOS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerSpec;
import dev.berth.proto.v1.ContainerStatus;
import dev.berth.proto.v1.Image;
import dev.berth.proto.v1.ImageConfig;
import dev.berth.proto.v1.ListContainersRequest;
import dev.berth.proto.v1.LogEntry;
import dev.berth.proto.v1.LogsRequest;
import dev.berth.proto.v1.NetworkSettings;
import dev.berth.proto.v1.PortBinding;
import dev.berth.proto.v1.Stream;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** What ps, images, inspect, logs and info print, with a fixed clock. */
@Timeout(30)
class OutputTest {
  private static final long SECOND = 1_000_000_000L;
  private static final String WEB_ID = "4a5b6c7d8e9f" + "0".repeat(52);
  private static final String DB_ID = "0123456789ab" + "f".repeat(52);
  private static final ObjectMapper JSON = new ObjectMapper();
  private CliRunner cli;

  @BeforeEach
  void start() throws Exception {
    cli = new CliRunner();
    cli.daemon.containers.put(WEB_ID, Container.newBuilder().setId(WEB_ID).setName("web").setImage("nginx:1.27")
        .setImageId("sha256:" + "e".repeat(64))
        .setSpec(ContainerSpec.newBuilder().setImage("nginx:1.27").setTty(true).addCmd("nginx"))
        .addAllPathAndArgs(List.of("nginx", "-g", "daemon off;")).setCommand("nginx -g 'daemon off;'")
        .addEnv("PATH=/usr/bin").setWorkingDir("/").setHostname("4a5b6c7d8e9f")
        .setStatus(ContainerStatus.RUNNING).setPid(4242).putLabels("tier", "front").putLabels("app", "web")
        .setCreatedAtUnixNanos(NOW_NANOS - 3 * 3600 * SECOND).setStartedAtUnixNanos(NOW_NANOS - 5 * SECOND + 123)
        .setMemoryLimitBytes(512 << 20).setCpuQuotaMicros(50_000).setCpuPeriodMicros(100_000)
        .setNetwork(NetworkSettings.newBuilder().setNetwork("bridge")
            .addPorts(PortBinding.newBuilder().setProtocol("tcp").setHostPort(8080).setContainerPort(80))
            .addPorts(PortBinding.newBuilder().setProtocol("udp").setHostIp("127.0.0.1").setHostPort(9000).setContainerPort(9000)))
        .build());
    cli.daemon.containers.put(DB_ID, Container.newBuilder().setId(DB_ID).setName("db").setImage("sha256:" + "d".repeat(64))
        .addAllPathAndArgs(List.of("postgres")).setStatus(ContainerStatus.EXITED).setExitCode(137)
        .setCreatedAtUnixNanos(NOW_NANOS - 2 * 24 * 3600 * SECOND).setFinishedAtUnixNanos(NOW_NANOS - 120 * SECOND).build());
    cli.daemon.images.put("alpine:3.20", Image.newBuilder().setId("sha256:" + "a1b2c3d4e5f6".repeat(5) + "abcd")
        .addRepoTags("alpine:3.20").addRepoTags("alpine:latest").setSizeBytes(7_797_760)
        .addRepoDigests("alpine@sha256:" + "99".repeat(32))
        .setCreatedUnixNanos(NOW_NANOS - 15L * 24 * 3600 * SECOND).setOs("linux").setArchitecture("amd64")
        .addLayers("sha256:" + "9".repeat(64))
        .setConfig(ImageConfig.newBuilder().addCmd("/bin/sh").addEnv("PATH=/bin").addExposedPorts("80/tcp")).build());
    cli.daemon.images.put("none", Image.newBuilder().setId("sha256:" + "7".repeat(64)).setSizeBytes(999)
        .setCreatedUnixNanos(NOW_NANOS - 30 * SECOND).build());
  }

  @AfterEach
  void stop() throws Exception {
    cli.close();
  }

  @ParameterizedTest(name = "fast path {0}")
  @ValueSource(booleans = {true, false})
  void psTable(boolean fast) {
    cli.fastPath = fast;
    CliRunner.Result r = cli.run("ps", "-a");
    assertEquals(0, r.code(), r.err());
    assertEquals(String.join("\n",
        "CONTAINER ID   IMAGE          COMMAND                  CREATED       STATUS                       PORTS                                            NAMES",
        "4a5b6c7d8e9f   nginx:1.27     \"nginx -g 'daemon of…\"   3 hours ago   Up 4 seconds                 127.0.0.1:9000->9000/udp, 0.0.0.0:8080->80/tcp   web",
        "0123456789ab   dddddddddddd   \"postgres\"               2 days ago    Exited (137) 2 minutes ago                                                    db",
        ""), r.out());
    assertEquals(ListContainersRequest.newBuilder().setAll(true).build(), cli.daemon.requests.get(0));
  }

  @Test
  void psWithoutAllAsksForRunningOnly() {
    CliRunner.Result r = cli.run("ps");
    assertEquals(0, r.code(), r.err());
    assertEquals(3 - 1, r.out().split("\n").length);
    assertEquals(ListContainersRequest.getDefaultInstance(), cli.daemon.requests.get(0));
  }

  @ParameterizedTest(name = "fast path {0}")
  @ValueSource(booleans = {true, false})
  void psQuietAndNoTrunc(boolean fast) {
    cli.fastPath = fast;
    assertEquals("4a5b6c7d8e9f\n0123456789ab\n", cli.run("ps", "-aq").out());
    assertEquals(WEB_ID + "\n" + DB_ID + "\n", cli.run("ps", "-a", "-q", "--no-trunc").out());
    String wide = cli.run("ps", "--no-trunc").out();
    assertTrue(wide.contains(WEB_ID + "   nginx:1.27   \"nginx -g 'daemon off;'\"   3 hours ago"), wide);
  }

  @ParameterizedTest(name = "fast path {0}")
  @ValueSource(booleans = {true, false})
  void psJsonIsOneObjectPerLine(boolean fast) throws Exception {
    cli.fastPath = fast;
    CliRunner.Result r = cli.run("ps", "-a", "--format", "json");
    assertEquals(0, r.code(), r.err());
    String[] lines = r.out().split("\n");
    assertEquals(2, lines.length);
    JsonNode web = JSON.readTree(lines[0]);
    assertEquals("4a5b6c7d8e9f", web.get("ID").asText());
    assertEquals("nginx:1.27", web.get("Image").asText());
    assertEquals("\"nginx -g 'daemon of…\"", web.get("Command").asText());
    assertEquals("3 hours ago", web.get("RunningFor").asText());
    assertEquals("Up 4 seconds", web.get("Status").asText());
    assertEquals("running", web.get("State").asText());
    assertEquals("web", web.get("Names").asText());
    assertEquals("127.0.0.1:9000->9000/udp, 0.0.0.0:8080->80/tcp", web.get("Ports").asText());
    assertEquals("bridge", web.get("Networks").asText());
    assertEquals("app=web,tier=front", web.get("Labels").asText());
    assertEquals("2024-05-01 09:00:00 +0000 UTC", web.get("CreatedAt").asText());
    assertEquals("exited", JSON.readTree(lines[1]).get("State").asText());
  }

  @ParameterizedTest(name = "fast path {0}")
  @ValueSource(booleans = {true, false})
  void images(boolean fast) throws Exception {
    cli.fastPath = fast;
    CliRunner.Result r = cli.run("images");
    assertEquals(0, r.code(), r.err());
    assertEquals(String.join("\n",
        "REPOSITORY   TAG       IMAGE ID       CREATED          SIZE",
        "alpine       3.20      a1b2c3d4e5f6   2 weeks ago      7.8MB",
        "alpine       latest    a1b2c3d4e5f6   2 weeks ago      7.8MB",
        "<none>       <none>    777777777777   30 seconds ago   999B",
        ""), r.out());
    assertEquals("a1b2c3d4e5f6\n777777777777\n", cli.run("images", "-q").out());
    JsonNode first = JSON.readTree(cli.run("images", "--format", "json").out().split("\n")[0]);
    assertEquals("alpine", first.get("Repository").asText());
    assertEquals("3.20", first.get("Tag").asText());
    assertEquals("7.8MB", first.get("Size").asText());
    assertEquals("2 weeks ago", first.get("CreatedSince").asText());
  }

  @ParameterizedTest(name = "fast path {0}")
  @ValueSource(booleans = {true, false})
  void imagesWithDigests(boolean fast) throws Exception {
    cli.fastPath = fast;
    CliRunner.Result r = cli.run("images", "--digests");
    assertEquals(0, r.code(), r.err());
    String[] lines = r.out().split("\n");
    assertTrue(lines[0].startsWith("REPOSITORY   TAG       DIGEST"), lines[0]);
    assertTrue(lines[1].contains("sha256:" + "99".repeat(32)), lines[1]);
    assertEquals(List.of("<none>", "<none>", "<none>", "777777777777"), List.of(lines[3].split("\\s+")).subList(0, 4));
    assertEquals("sha256:" + "99".repeat(32),
        JSON.readTree(cli.run("images", "--format", "json").out().split("\n")[0]).get("Digest").asText());
  }

  @Test
  void imageLsIsImages() {
    assertEquals(cli.run("images").out(), cli.run("image", "ls").out());
  }

  @Test
  void inspectIsAPrettyDockerStyleArray() throws Exception {
    CliRunner.Result r = cli.run("inspect", "web");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().startsWith("[\n    {\n        \"Id\": \"" + WEB_ID + "\",\n"), r.out());
    JsonNode c = JSON.readTree(r.out()).get(0);
    assertEquals("/web", c.get("Name").asText());
    assertEquals("2024-05-01T09:00:00Z", c.get("Created").asText());
    assertEquals("nginx", c.get("Path").asText());
    assertEquals(List.of("-g", "daemon off;"), List.of(c.get("Args").get(0).asText(), c.get("Args").get(1).asText()));
    assertEquals("running", c.at("/State/Status").asText());
    assertTrue(c.at("/State/Running").asBoolean());
    assertEquals(4242, c.at("/State/Pid").asInt());
    assertEquals("2024-05-01T11:59:55.000000123Z", c.at("/State/StartedAt").asText());
    assertEquals("0001-01-01T00:00:00Z", c.at("/State/FinishedAt").asText());
    assertEquals(512 << 20, c.at("/HostConfig/Memory").asLong());
    assertEquals(500_000_000L, c.at("/HostConfig/NanoCpus").asLong());
    assertTrue(c.at("/Config/Tty").asBoolean());
    assertEquals("PATH=/usr/bin", c.at("/Config/Env/0").asText());
    assertEquals("nginx", c.at("/Config/Cmd/0").asText());
    assertTrue(c.at("/Config/Entrypoint").isNull());
    assertEquals("front", c.at("/Config/Labels/tier").asText());
  }

  @Test
  void inspectReportsMissingOnesAfterTheFoundOnes() throws Exception {
    CliRunner.Result r = cli.run("inspect", "db", "nope");
    assertEquals(1, r.code());
    assertEquals(1, JSON.readTree(r.out()).size());
    assertEquals("Error response from daemon: No such container: nope\n", r.err());
    assertEquals("[]\n", cli.run("inspect", "nope").out());
  }

  @Test
  void imageInspect() throws Exception {
    CliRunner.Result r = cli.run("image", "inspect", "alpine:3.20");
    assertEquals(0, r.code(), r.err());
    JsonNode i = JSON.readTree(r.out()).get(0);
    assertEquals("alpine:latest", i.at("/RepoTags/1").asText());
    assertEquals(7_797_760, i.get("Size").asLong());
    assertEquals("/bin/sh", i.at("/Config/Cmd/0").asText());
    assertTrue(i.at("/Config/ExposedPorts").has("80/tcp"));
    assertEquals("layers", i.at("/RootFS/Type").asText());
  }

  @Test
  void logsSplitStreamsAndPrefixTimestamps() {
    cli.daemon.logs.add(LogEntry.newBuilder().setStream(Stream.STDOUT).setData(ByteString.copyFromUtf8("out 1\n"))
        .setTimeUnixNanos(NOW_NANOS + 5).build());
    cli.daemon.logs.add(LogEntry.newBuilder().setStream(Stream.STDERR).setData(ByteString.copyFromUtf8("err 1\n"))
        .setTimeUnixNanos(NOW_NANOS + 1_500_000_000L).build());
    cli.daemon.logs.add(LogEntry.newBuilder().setStream(Stream.STDOUT).setData(ByteString.copyFromUtf8("partial"))
        .setTimeUnixNanos(NOW_NANOS + 2 * SECOND).build());
    CliRunner.Result plain = cli.run("logs", "web");
    assertEquals("out 1\npartial", plain.out());
    assertEquals("err 1\n", plain.err());
    CliRunner.Result stamped = cli.run("logs", "-t", "--tail", "10", "-f", "web");
    assertEquals("2024-05-01T12:00:00.000000005Z out 1\n2024-05-01T12:00:02.000000000Z partial", stamped.out());
    assertEquals("2024-05-01T12:00:01.500000000Z err 1\n", stamped.err());
    List<LogsRequest> reqs = cli.daemon.requests(LogsRequest.class);
    assertEquals(LogsRequest.newBuilder().setId("web").setTail(-1).build(), reqs.get(0));
    assertEquals(LogsRequest.newBuilder().setId("web").setTail(10).setFollow(true).setTimestamps(true).build(), reqs.get(1));
  }

  @Test
  void infoAndVersion() {
    CliRunner.Result info = cli.run("info");
    assertEquals(0, info.code(), info.err());
    assertTrue(info.out().contains(" Containers: 2\n"), info.out());
    assertTrue(info.out().contains(" Server Version: 0.1.0-fake\n"), info.out());
    assertTrue(info.out().contains(" Total Memory: 8GiB\n"), info.out());
    CliRunner.Result version = cli.run("version");
    assertEquals(0, version.code(), version.err());
    assertTrue(version.out().contains("  Version:          0.1.0-fake\n"), version.out());
  }

  @Test
  void lifecycleCommandsEchoTheirArguments() {
    assertEquals("web\ndb\n", cli.run("stop", "-t", "3", "web", "db").out());
    assertEquals(dev.berth.proto.v1.StopContainerRequest.newBuilder().setId("web").setTimeoutSeconds(3).setHasTimeout(true).build(),
        cli.daemon.requests.get(0));
    assertEquals("web\n", cli.run("kill", "-s", "HUP", "web").out());
    assertEquals(dev.berth.proto.v1.KillContainerRequest.newBuilder().setId("web").setSignal("HUP").build(),
        cli.daemon.requests.get(2));
    assertEquals("db\n", cli.run("rm", "-f", "db").out());
    assertEquals(dev.berth.proto.v1.RemoveContainerRequest.newBuilder().setId("db").setForce(true).build(),
        cli.daemon.requests.get(3));
    assertEquals("137\n", cli.run("wait", "db").out());
    assertEquals("web\n", cli.run("start", "web").out());
  }
}
