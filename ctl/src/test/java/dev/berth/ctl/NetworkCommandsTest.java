package dev.berth.ctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.proto.v1.CreateNetworkRequest;
import dev.berth.proto.v1.Network;
import dev.berth.proto.v1.NetworkEndpoint;
import dev.berth.proto.v1.NetworkRef;
import dev.berth.proto.v1.PruneNetworksRequest;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** network create, ls, inspect, rm and prune: the requests made and what the user sees. */
@Timeout(30)
class NetworkCommandsTest {
  private CliRunner cli;

  @BeforeEach
  void start() throws Exception {
    cli = new CliRunner();
  }

  @AfterEach
  void stop() throws Exception {
    cli.close();
  }

  private Network put(String name, String id, String... containers) {
    Network.Builder n = Network.newBuilder().setId(id).setName(name).setDriver("bridge").setSubnet("172.20.0.0/16")
        .setGateway("172.20.0.1").setBridge("br-" + id.substring(0, 12)).setCreatedUnixNanos(CliRunner.NOW_NANOS + 5);
    for (int i = 0; i < containers.length; i++) {
      n.addContainers(NetworkEndpoint.newBuilder().setContainerId(containers[i] + "0".repeat(60)).setName("c" + i)
          .setIpAddress("172.20.0." + (i + 2)).setMacAddress("02:42:ac:14:00:0" + (i + 2)));
    }
    Network built = n.build();
    cli.daemon.network.networks.put(name, built);
    return built;
  }

  @Test
  void createPrintsTheIdAndSendsEveryFlag() {
    CliRunner.Result r = cli.run("network", "create", "--subnet", "10.5.0.0/24", "--gateway", "10.5.0.254",
        "--label", "app=web", "--label", "tier", "--internal", "backend");
    assertEquals(0, r.code(), r.err());
    Network created = cli.daemon.network.networks.get("backend");
    assertEquals(created.getId() + "\n", r.out());
    assertEquals(CreateNetworkRequest.newBuilder().setName("backend").setDriver("bridge").setSubnet("10.5.0.0/24")
        .setGateway("10.5.0.254").putLabels("app", "web").putLabels("tier", "").setInternal(true).build(),
        cli.daemon.requests(CreateNetworkRequest.class).get(0));
    r = cli.run("network", "create", "-d", "bridge", "front");
    assertEquals(0, r.code(), r.err());
    assertEquals(CreateNetworkRequest.newBuilder().setName("front").setDriver("bridge").build(),
        cli.daemon.requests(CreateNetworkRequest.class).get(1));
  }

  @Test
  void createRefusesOtherDriversAndAGatewayWithoutSubnet() {
    CliRunner.Result r = cli.run("network", "create", "--driver", "overlay", "x");
    assertEquals(1, r.code());
    assertEquals("network driver \"overlay\" is not supported: berth creates \"bridge\" networks only\n", r.err());
    r = cli.run("network", "create", "--gateway", "10.0.0.1", "x");
    assertEquals(1, r.code());
    assertEquals("every ip-range or gateway must have a corresponding subnet\n", r.err());
    assertTrue(cli.daemon.requests.isEmpty());
  }

  @Test
  void createOfAnExistingNameIsTheDaemonsError() {
    CliRunner.Result r = cli.run("network", "create", "bridge");
    assertEquals(1, r.code());
    assertEquals("", r.out());
    assertEquals("Error response from daemon: network with name bridge already exists\n", r.err());
  }

  @Test
  void lsIsDockersTableSortedByName() {
    put("net10", "10".repeat(32));
    put("net2", "20".repeat(32));
    CliRunner.Result r = cli.run("network", "ls");
    assertEquals(0, r.code(), r.err());
    assertEquals("""
        NETWORK ID     NAME      DRIVER    SCOPE
        b1b1b1b1b1b1   bridge    bridge    local
        c2c2c2c2c2c2   host      host      local
        202020202020   net2      bridge    local
        101010101010   net10     bridge    local
        d3d3d3d3d3d3   none      null      local
        """, r.out());
    assertEquals(r.out(), cli.run("network", "list").out());
    assertEquals("b1b1b1b1b1b1\nc2c2c2c2c2c2\n202020202020\n101010101010\nd3d3d3d3d3d3\n", cli.run("network", "ls", "-q").out());
    assertTrue(cli.run("network", "ls", "--no-trunc").out().contains("b1".repeat(32) + "   bridge"));
  }

  @Test
  void lsJsonIsOneObjectPerLine() {
    cli.daemon.network.networks.clear();
    cli.daemon.network.networks.put("data", put("data", "ab".repeat(32)).toBuilder().putLabels("b", "2").putLabels("a", "1")
        .setInternal(true).build());
    CliRunner.Result r = cli.run("network", "ls", "--format", "json");
    assertEquals(0, r.code(), r.err());
    assertEquals("{\"CreatedAt\":\"2024-05-01 12:00:00 +0000 UTC\",\"Driver\":\"bridge\",\"ID\":\"abababababab\",\"IPv6\":\"false\","
        + "\"Internal\":\"true\",\"Labels\":\"a=1,b=2\",\"Name\":\"data\",\"Scope\":\"local\"}\n", r.out());
    r = cli.run("network", "ls", "--format", "{{.Name}}");
    assertEquals(1, r.code());
    assertTrue(r.err().contains("use table or json"), r.err());
  }

  @Test
  void inspectIsAPrettyDockerStyleArrayWithMissingOnesAfter() {
    put("backend", "ab".repeat(32), "c1");
    cli.daemon.network.networks.put("backend", cli.daemon.network.networks.get("backend").toBuilder().putLabels("app", "web").build());
    CliRunner.Result r = cli.run("network", "inspect", "backend", "nope");
    assertEquals(1, r.code());
    assertEquals("""
        [
            {
                "Name": "backend",
                "Id": "%s",
                "Created": "2024-05-01T12:00:00.000000005Z",
                "Scope": "local",
                "Driver": "bridge",
                "EnableIPv6": false,
                "IPAM": {
                    "Driver": "default",
                    "Options": {},
                    "Config": [
                        {
                            "Subnet": "172.20.0.0/16",
                            "Gateway": "172.20.0.1"
                        }
                    ]
                },
                "Internal": false,
                "Attachable": false,
                "Ingress": false,
                "ConfigFrom": {
                    "Network": ""
                },
                "ConfigOnly": false,
                "Containers": {
                    "%s": {
                        "Name": "c0",
                        "EndpointID": "",
                        "MacAddress": "02:42:ac:14:00:02",
                        "IPv4Address": "172.20.0.2/16",
                        "IPv6Address": ""
                    }
                },
                "Options": {},
                "Labels": {
                    "app": "web"
                },
                "Berth": {
                    "Bridge": "br-abababababab",
                    "Predefined": false
                }
            }
        ]
        """.formatted("ab".repeat(32), "c1" + "0".repeat(60)), r.out());
    assertEquals("Error response from daemon: network nope not found\n", r.err());
    assertEquals(List.of(NetworkRef.newBuilder().setId("backend").build(), NetworkRef.newBuilder().setId("nope").build()),
        cli.daemon.requests(NetworkRef.class));
  }

  @Test
  void inspectOfAPredefinedNetworkWithoutSubnet() {
    CliRunner.Result r = cli.run("network", "inspect", "c2c2");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("\"Name\": \"host\""), r.out());
    assertTrue(r.out().contains("\"Config\": []"), r.out());
    assertTrue(r.out().contains("\"Predefined\": true"), r.out());
  }

  @Test
  void rmEchoesEachAndGoesOnAfterAFailure() {
    put("a", "aa".repeat(32));
    put("busy", "bb".repeat(32), "c1");
    put("c", "cc".repeat(32));
    CliRunner.Result r = cli.run("network", "rm", "a", "bridge", "busy", "nope", "c");
    assertEquals(1, r.code());
    assertEquals("a\nc\n", r.out());
    assertEquals("Error response from daemon: bridge is a pre-defined network and cannot be removed\n"
        + "Error response from daemon: error while removing network: network busy id " + "bb".repeat(32) + " has active endpoints\n"
        + "Error response from daemon: network nope not found\n", r.err());
    assertEquals(List.of("a", "bridge", "busy", "nope", "c"),
        cli.daemon.requests(NetworkRef.class).stream().map(NetworkRef::getId).toList());
    assertTrue(!cli.daemon.network.networks.containsKey("a") && !cli.daemon.network.networks.containsKey("c"));
  }

  @Test
  void rmForceIsSilentAboutMissingOnesOnly() {
    put("a", "aa".repeat(32));
    CliRunner.Result r = cli.run("network", "remove", "-f", "nope", "a");
    assertEquals(0, r.code(), r.err());
    assertEquals("a\n", r.out());
    assertEquals("", r.err());
    r = cli.run("network", "rm", "--force", "host");
    assertEquals(1, r.code());
    assertEquals("Error response from daemon: host is a pre-defined network and cannot be removed\n", r.err());
  }

  @Test
  void pruneRemovesUnusedUserDefinedNetworks() {
    put("idle", "aa".repeat(32));
    put("busy", "bb".repeat(32), "c1");
    put("idle2", "cc".repeat(32));
    CliRunner.Result r = cli.run("network", "prune", "-f");
    assertEquals(0, r.code(), r.err());
    assertEquals("Deleted Networks:\nidle\nidle2\n\n", r.out());
    assertEquals(List.of(PruneNetworksRequest.getDefaultInstance()), cli.daemon.requests(PruneNetworksRequest.class));
    r = cli.run("network", "prune", "--force");
    assertEquals(0, r.code(), r.err());
    assertEquals("", r.out());
  }

  @Test
  void pruneWithoutForceAndNoTerminalRefuses() {
    CliRunner.Result r = cli.run("network", "prune");
    assertEquals(1, r.code());
    assertTrue(r.err().contains("give -f"), r.err());
    assertTrue(cli.daemon.requests.isEmpty());
  }

  @Test
  void networkAloneListsItsCommandsAndTopLevelHelpNamesIt() {
    CliRunner.Result r = cli.run("network");
    assertEquals(0, r.code(), r.err());
    for (String sub : List.of("create", "ls", "inspect", "rm", "prune")) {
      assertTrue(r.out().contains("  " + sub), r.out());
    }
    String help = cli.run("--help").out();
    assertTrue(help.contains("  network") && help.contains("  port"), help);
  }

  @Test
  void usageErrorsExit2() {
    for (List<String> args : List.of(List.of("network", "rm"), List.of("network", "create"), List.of("network", "inspect"),
        List.of("network", "frobnicate"), List.of("network", "ls", "--bogus"))) {
      CliRunner.Result r = cli.run(args.toArray(String[]::new));
      assertEquals(2, r.code(), args + ": " + r.err());
      assertTrue(r.err().contains("--help"), r.err());
    }
    assertTrue(cli.daemon.requests.isEmpty());
  }
}
