package dev.berth.ctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.proto.v1.ClusterServer;
import dev.berth.proto.v1.ClusterStatus;
import dev.berth.proto.v1.Node;
import dev.berth.proto.v1.NodeContainer;
import dev.berth.proto.v1.NodeRole;
import dev.berth.proto.v1.NodeStatus;
import dev.berth.proto.v1.UpdateNodeRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** nodes, node inspect, node update and cluster status: the requests made and what the user sees. */
@Timeout(30)
class NodeCommandsTest {
  private CliRunner cli;

  @BeforeEach
  void start() throws Exception {
    cli = new CliRunner();
    cli.daemon.cluster.nodes.put("n1", Node.newBuilder().setName("n1").setAddress("127.0.0.1:7946")
        .setRole(NodeRole.NODE_ROLE_SERVER).setStatus(NodeStatus.NODE_STATUS_READY).setRegistered(true).setEligible(true)
        .putLabels("zone", "a").setCpus(4).setFreeCpus(3).setMemoryBytes(8L << 30).setFreeMemoryBytes(6L << 30)
        .addContainers(NodeContainer.newBuilder().setId("c1").setName("web").setImage("busybox").setState("running"))
        .build());
    cli.daemon.cluster.nodes.put("n2", Node.newBuilder().setName("n2").setAddress("127.0.0.1:7947")
        .setRole(NodeRole.NODE_ROLE_MEMBER).setStatus(NodeStatus.NODE_STATUS_DOWN).setRegistered(true).setDrain(true)
        .build());
  }

  @AfterEach
  void stop() throws Exception {
    cli.close();
  }

  @Test
  void nodesPrintsOneLinePerNode() {
    CliRunner.Result r = cli.run("nodes");
    assertEquals(0, r.code(), r.err());
    String[] lines = r.out().split("\n");
    assertEquals(3, lines.length, r.out());
    assertTrue(lines[0].startsWith("NAME"), r.out());
    assertTrue(lines[1].matches("n1 +127\\.0\\.0\\.1:7946 +server +ready +1\\.0/4 +2.15GB/8.59GB +1 +zone=a"), lines[1]);
    assertTrue(lines[2].matches("n2 +127\\.0\\.0\\.1:7947 +member +down \\(draining\\) +- +- +0 *"), lines[2]);
  }

  @Test
  void nodesAsJsonIsOneObjectPerLine() {
    CliRunner.Result r = cli.run("nodes", "--format", "json");
    assertEquals(0, r.code(), r.err());
    String[] lines = r.out().split("\n");
    assertEquals(2, lines.length);
    assertTrue(lines[0].startsWith("{\"Name\":\"n1\",\"Address\":\"127.0.0.1:7946\",\"Role\":\"server\",\"Status\":\"ready\""), lines[0]);
    assertTrue(lines[0].contains("\"Labels\":{\"zone\":\"a\"}"), lines[0]);
  }

  @Test
  void inspectPrintsAnArrayAndReportsTheMissing() {
    CliRunner.Result r = cli.run("node", "inspect", "n1", "nope");
    assertEquals(1, r.code());
    assertTrue(r.out().startsWith("[\n"), r.out());
    assertTrue(r.out().contains("\"Name\": \"n1\""), r.out());
    assertEquals("Error response from daemon: No such node: nope\n", r.err());
  }

  @Test
  void updateSendsLabelChangesAndFlags() {
    CliRunner.Result r = cli.run("node", "update", "--label-add", "disk=ssd", "--label-rm", "zone", "--no-eligible", "n1");
    assertEquals(0, r.code(), r.err());
    assertEquals("n1\n", r.out());
    assertEquals(UpdateNodeRequest.newBuilder().setName("n1").putLabelAdd("disk", "ssd").addLabelRm("zone").setEligible(false).build(),
        cli.daemon.requests(UpdateNodeRequest.class).get(0));
    assertEquals(java.util.Map.of("disk", "ssd"), cli.daemon.cluster.nodes.get("n1").getLabelsMap());
  }

  @Test
  void drainSendsTheDeadlineAndActivateUndoesIt() {
    CliRunner.Result r = cli.run("node", "drain", "--deadline", "10m", "--yes", "n1");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().startsWith("Node n1 is draining"), r.out());
    assertEquals(UpdateNodeRequest.newBuilder().setName("n1").setDrain(true).setDrainDeadlineMillis(600_000).build(),
        cli.daemon.requests(UpdateNodeRequest.class).get(0));
    assertEquals(0, cli.run("node", "drain", "--force", "-y", "n1").code());
    assertEquals(0, cli.daemon.requests(UpdateNodeRequest.class).get(1).getDrainDeadlineMillis());
    assertEquals(0, cli.run("node", "drain", "--no-deadline", "-y", "n1").code());
    assertEquals(-1, cli.daemon.requests(UpdateNodeRequest.class).get(2).getDrainDeadlineMillis());
    assertEquals(0, cli.run("node", "drain", "-y", "n1").code());
    assertEquals(3_600_000, cli.daemon.requests(UpdateNodeRequest.class).get(3).getDrainDeadlineMillis(),
        "Nomad's default: an hour");

    r = cli.run("node", "activate", "n1");
    assertEquals(0, r.code(), r.err());
    assertEquals(UpdateNodeRequest.newBuilder().setName("n1").setDrain(false).setEligible(true).build(),
        cli.daemon.requests(UpdateNodeRequest.class).get(4));
    assertEquals("Node n1 is eligible\n", r.out());
  }

  @Test
  void drainWithoutATerminalNeedsYesAndRefusesTwoDeadlines() {
    CliRunner.Result r = cli.run("node", "drain", "n1");
    assertEquals(1, r.code());
    assertTrue(r.err().contains("give --yes"), r.err());
    r = cli.run("node", "drain", "--force", "--deadline", "5m", "-y", "n1");
    assertEquals(1, r.code());
    assertTrue(r.err().contains("at most one of --deadline, --no-deadline and --force"), r.err());
    assertTrue(cli.daemon.requests(UpdateNodeRequest.class).isEmpty());
  }

  @Test
  void updateRefusesALabelWithoutValue() {
    CliRunner.Result r = cli.run("node", "update", "--label-add", "disk", "n1");
    assertEquals(1, r.code());
    assertTrue(r.err().contains("expected KEY=VALUE"), r.err());
    assertTrue(cli.daemon.requests(UpdateNodeRequest.class).isEmpty());
  }

  @Test
  void aStartingClusterIsReportedAsSuch() {
    cli.daemon.cluster.starting = true;
    CliRunner.Result r = cli.run("nodes");
    assertEquals(1, r.code());
    assertEquals("Error response from daemon: the cluster is still starting\n", r.err());
  }

  @Test
  void clusterStatusShowsLeaderAndServers() {
    cli.daemon.cluster.status = ClusterStatus.newBuilder().setCluster("berth").setNode("n1").setRole(NodeRole.NODE_ROLE_SERVER)
        .setPhase("ready").setLeader("n1").setTerm(2).setQuorum(true).setStartupMillis(850)
        .addServers(ClusterServer.newBuilder().setName("n1").setAddress("127.0.0.1:7946").setStatus(NodeStatus.NODE_STATUS_READY)
            .setLeader(true))
        .build();
    CliRunner.Result r = cli.run("cluster", "status");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("Leader:   n1 (term 2)\n"), r.out());
    assertTrue(r.out().contains("Raft:     healthy, 1 of 1 servers ready\n"), r.out());
    assertTrue(r.out().matches("(?s).*\nn1 +127\\.0\\.0\\.1:7946 +ready +\\*\n"), r.out());
  }

  @Test
  void clusterStatusWithoutQuorumExitsOne() {
    cli.daemon.cluster.status = ClusterStatus.newBuilder().setCluster("berth").setNode("n1").setPhase("ready")
        .addServers(ClusterServer.newBuilder().setName("n2").setStatus(NodeStatus.NODE_STATUS_DOWN)).build();
    CliRunner.Result r = cli.run("cluster", "status");
    assertEquals(1, r.code());
    assertTrue(r.out().contains("Raft:     no quorum, 0 of 1 servers ready"), r.out());
  }
}
