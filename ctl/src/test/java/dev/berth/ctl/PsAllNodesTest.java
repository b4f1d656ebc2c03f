package dev.berth.ctl;

import static dev.berth.ctl.CliRunner.NOW_NANOS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerStatus;
import dev.berth.proto.v1.ListContainersRequest;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code ps --all-nodes}: the agent's own containers with their node, and other nodes' as they
 * gossiped them (no times, no command), with a NODE column; without the flag nothing changes.
 */
@Timeout(30)
class PsAllNodesTest {
  private static final long SECOND = 1_000_000_000L;
  private static final String WEB_ID = "4a5b6c7d8e9f" + "0".repeat(52);
  private static final String API_ID = "9f8e7d6c5b4a" + "1".repeat(52);
  private static final String JOB_ID = "aabbccddeeff" + "2".repeat(52);
  private static final ObjectMapper JSON = new ObjectMapper();
  private CliRunner cli;

  @BeforeEach
  void start() throws Exception {
    cli = new CliRunner();
    cli.daemon.containers.put(WEB_ID, Container.newBuilder().setId(WEB_ID).setName("web").setImage("nginx:1.27")
        .addAllPathAndArgs(List.of("nginx")).setCommand("nginx").setStatus(ContainerStatus.RUNNING).setNode("n1")
        .setCreatedAtUnixNanos(NOW_NANOS - 3 * 3600 * SECOND).setStartedAtUnixNanos(NOW_NANOS - 5 * SECOND).build());
    // As the agent lists another node's containers: what that node gossiped, nothing more.
    cli.daemon.containers.put(API_ID, Container.newBuilder().setId(API_ID).setName("api").setImage("busybox:latest")
        .setStatus(ContainerStatus.RUNNING).setNode("n2").build());
    cli.daemon.containers.put(JOB_ID, Container.newBuilder().setId(JOB_ID).setName("batch").setImage("busybox:latest")
        .setStatus(ContainerStatus.EXITED).setNode("n3").build());
  }

  @AfterEach
  void stop() {
    cli.close();
  }

  @Test
  void theTableGetsANodeColumn() {
    CliRunner.Result r = cli.run("ps", "-a", "--all-nodes");
    assertEquals(0, r.code(), r.err());
    assertEquals(String.join("\n",
        "CONTAINER ID   IMAGE            COMMAND   CREATED       STATUS         PORTS     NAMES     NODE",
        "4a5b6c7d8e9f   nginx:1.27       \"nginx\"   3 hours ago   Up 5 seconds             web       n1",
        "9f8e7d6c5b4a   busybox:latest                           Up                       api       n2",
        "aabbccddeeff   busybox:latest                           Exited                   batch     n3",
        ""), r.out());
    assertEquals(ListContainersRequest.newBuilder().setAll(true).setAllNodes(true).build(), cli.daemon.requests.get(0));
  }

  @Test
  void jsonRowsNameTheNode() throws Exception {
    CliRunner.Result r = cli.run("ps", "-a", "--all-nodes", "--format", "json");
    assertEquals(0, r.code(), r.err());
    String[] lines = r.out().split("\n");
    assertEquals(3, lines.length);
    assertEquals("n1", JSON.readTree(lines[0]).get("Node").asText());
    JsonNode api = JSON.readTree(lines[1]);
    assertEquals("n2", api.get("Node").asText());
    assertEquals("Up", api.get("Status").asText());
    assertEquals("", api.get("CreatedAt").asText());
  }

  @Test
  void withoutTheFlagNothingChanges() throws Exception {
    CliRunner.Result r = cli.run("ps", "-a", "--format", "json");
    assertFalse(JSON.readTree(r.out().split("\n")[0]).has("Node"));
    String table = cli.run("ps").out();
    assertEquals("CONTAINER ID   IMAGE", table.substring(0, "CONTAINER ID   IMAGE".length()));
    assertFalse(table.contains("NODE"), table);
    assertEquals(ListContainersRequest.getDefaultInstance(), cli.daemon.requests.get(1));
  }
}
