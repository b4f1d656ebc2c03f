package dev.berth.ctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerRef;
import dev.berth.proto.v1.ContainerSpec;
import dev.berth.proto.v1.ContainerStatus;
import dev.berth.proto.v1.CreateContainerRequest;
import dev.berth.proto.v1.NetworkSettings;
import dev.berth.proto.v1.PortBinding;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** -p, -P, --network and --network-alias of run and create; `port`; ports in ps and inspect. */
@Timeout(30)
class PublishFlagsTest {
  private CliRunner cli;

  @BeforeEach
  void start() throws Exception {
    cli = new CliRunner();
    cli.run("network", "create", "backend");
    cli.daemon.requests.clear();
  }

  @AfterEach
  void stop() throws Exception {
    cli.close();
  }

  private static PortBinding bind(String protocol, String ip, int host, int container) {
    return PortBinding.newBuilder().setProtocol(protocol).setHostIp(ip).setHostPort(host).setContainerPort(container).build();
  }

  private static ContainerSpec.Builder spec() {
    return ContainerSpec.newBuilder().setImage("alpine");
  }

  static Stream<Arguments> flagCases() {
    return Stream.of(
        Arguments.of(List.of("-p", "8080:80"), spec().addPorts(bind("tcp", "", 8080, 80))),
        Arguments.of(List.of("--publish", "127.0.0.1:8000-8001:80-81/udp", "-p53/udp", "--publish=443"),
            spec().addPorts(bind("udp", "127.0.0.1", 8000, 80)).addPorts(bind("udp", "127.0.0.1", 8001, 81))
                .addPorts(bind("udp", "", 0, 53)).addPorts(bind("tcp", "", 0, 443))),
        Arguments.of(List.of("-P"), spec().setPublishAll(true)),
        Arguments.of(List.of("--publish-all", "-p", "9000:9000"), spec().setPublishAll(true).addPorts(bind("tcp", "", 9000, 9000))),
        Arguments.of(List.of("--network", "backend", "--network-alias", "web", "--network-alias", "www"),
            spec().setNetworkMode("backend").addNetworkAliases("web").addNetworkAliases("www")),
        Arguments.of(List.of("--net=bridge", "-p", "80"), spec().setNetworkMode("bridge").addPorts(bind("tcp", "", 0, 80))),
        Arguments.of(List.of("--network=none"), spec().setNetworkMode("none")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("flagCases")
  void flagsBecomeTheSpec(List<String> flags, ContainerSpec.Builder expected) {
    for (String command : List.of("create", "run")) {
      cli.daemon.requests.clear();
      String[] argv = Stream.of(List.of(command), command.equals("run") ? List.of("-d") : List.<String>of(), flags, List.of("alpine"))
          .flatMap(List::stream).toArray(String[]::new);
      CliRunner.Result r = cli.run(argv);
      assertEquals(0, r.code(), r.err());
      assertEquals("", r.err());
      assertEquals(List.of(expected.build()),
          cli.daemon.requests(CreateContainerRequest.class).stream().map(CreateContainerRequest::getSpec).toList(), command);
    }
  }

  static Stream<Arguments> badFlags() {
    return Stream.of(
        Arguments.of(List.of("-p", "http"), "invalid -p/--publish \"http\": invalid container port \"http\"; accepted: "),
        Arguments.of(List.of("-p", "80:80", "-p", "8000-8002:80-81"),
            "invalid -p/--publish \"8000-8002:80-81\": the host range 8000-8002 and the container range 80-81 differ in length"),
        Arguments.of(List.of("--publish", "localhost:80:80"), "invalid -p/--publish \"localhost:80:80\": \"localhost\" is not an IP address"),
        Arguments.of(List.of("-p", "80/sctp"), "invalid -p/--publish \"80/sctp\": protocol sctp is not supported"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badFlags")
  void badPublishFlagsExit125(List<String> flags, String message) {
    for (String command : List.of("create", "run")) {
      String[] argv = Stream.of(List.of(command), flags, List.of("alpine")).flatMap(List::stream).toArray(String[]::new);
      CliRunner.Result r = cli.run(argv);
      assertEquals(125, r.code(), r.err());
      assertTrue(r.err().startsWith("berth: " + message), r.err());
      assertTrue(r.err().contains("See 'berth " + command + " --help'."), r.err());
      assertEquals("", r.out());
    }
    assertTrue(cli.daemon.requests.isEmpty(), "no request for a usage error");
  }

  @Test
  void anUnknownNetworkIsTheDaemonsNotFound() {
    CliRunner.Result r = cli.run("run", "-d", "--network", "nope", "alpine");
    assertEquals(125, r.code());
    assertEquals("", r.out());
    assertEquals("Error response from daemon: network nope not found\n", r.err());
    assertTrue(cli.daemon.requests(ContainerRef.class).isEmpty(), "not started");
    r = cli.run("create", "--net", "nope", "alpine");
    assertEquals(1, r.code());
    assertEquals("Error response from daemon: network nope not found\n", r.err());
  }

  @Test
  void publishingOnTheHostNetworkWarnsLikeDocker() {
    CliRunner.Result r = cli.run("run", "-d", "--network", "host", "-p", "80:80", "alpine");
    assertEquals(0, r.code(), r.err());
    assertEquals("WARNING: Published ports are discarded when using host network mode\n", r.err());
    assertEquals(cli.daemon.createdId + "\n", r.out());
    assertEquals("", cli.run("run", "-d", "--network", "host", "alpine").err());
  }

  private void putWeb() {
    cli.daemon.containers.put("abc", Container.newBuilder().setId("abc" + "0".repeat(61)).setName("web").setImage("nginx")
        .setStatus(ContainerStatus.RUNNING)
        .setSpec(ContainerSpec.newBuilder().setImage("nginx").setNetworkMode("backend")
            .addPorts(bind("tcp", "", 8080, 80)).addPorts(bind("tcp", "127.0.0.1", 0, 443)).addPorts(bind("udp", "", 0, 53)))
        .setNetwork(NetworkSettings.newBuilder().setNetwork("backend").setNetworkId("ab".repeat(32)).setIpAddress("172.18.0.2")
            .setIpPrefixLen(16).setGateway("172.18.0.1").setMacAddress("02:42:ac:12:00:02").setBridge("br-1").addAliases("web")
            .addPorts(bind("tcp", "", 8080, 80)).addPorts(bind("tcp", "127.0.0.1", 8443, 443))
            .addPorts(bind("udp", "", 5353, 53)).addPorts(bind("tcp", "", 0, 9000)))
        .build());
  }

  @Test
  void portListsEveryPublishedPortInDockersOrder() {
    putWeb();
    CliRunner.Result r = cli.run("port", "web");
    assertEquals(0, r.code(), r.err());
    assertEquals("53/udp -> 0.0.0.0:5353\n80/tcp -> 0.0.0.0:8080\n443/tcp -> 127.0.0.1:8443\n", r.out());
    assertEquals(List.of(ContainerRef.newBuilder().setId("web").build()), cli.daemon.requests(ContainerRef.class));
  }

  static Stream<Arguments> portLookups() {
    return Stream.of(
        Arguments.of("80", 0, "0.0.0.0:8080\n", ""),
        Arguments.of("80/tcp", 0, "0.0.0.0:8080\n", ""),
        Arguments.of("443", 0, "127.0.0.1:8443\n", ""),
        Arguments.of("53/udp", 0, "0.0.0.0:5353\n", ""),
        Arguments.of("53", 1, "", "Error: No public port '53/tcp' published for web\n"),
        Arguments.of("81/tcp", 1, "", "Error: No public port '81/tcp' published for web\n"),
        Arguments.of("9000", 1, "", "Error: No public port '9000/tcp' published for web\n"),
        Arguments.of("http", 1, "", "Error: invalid port (http)\n"));
  }

  @ParameterizedTest(name = "port web {0}")
  @MethodSource("portLookups")
  void portWithAPrivatePortPrintsItsHostAddress(String port, int code, String out, String err) {
    putWeb();
    CliRunner.Result r = cli.run("port", "web", port);
    assertEquals(code, r.code(), r.err());
    assertEquals(out, r.out());
    assertEquals(err, r.err());
  }

  @Test
  void portOfAMissingContainerAndUsage() {
    CliRunner.Result r = cli.run("port", "nope");
    assertEquals(1, r.code());
    assertEquals("Error response from daemon: No such container: nope\n", r.err());
    r = cli.run("port");
    assertEquals(2, r.code());
    assertTrue(r.err().contains("Missing required parameter: 'CONTAINER'"), r.err());
  }

  @Test
  void runThenPortAndPsShowWhatTheAgentReserved() {
    CliRunner.Result r = cli.run("run", "-d", "--name", "web", "-p", "8080:80", "-p", "53/udp", "alpine");
    assertEquals(0, r.code(), r.err());
    assertEquals("53/udp -> 0.0.0.0:32768\n80/tcp -> 0.0.0.0:8080\n", cli.run("port", "web").out());
    for (boolean fast : List.of(true, false)) {
      cli.fastPath = fast;
      String ps = cli.run("ps", "-a").out();
      assertTrue(ps.contains("   0.0.0.0:32768->53/udp, 0.0.0.0:8080->80/tcp   web\n"), ps);
    }
  }

  @Test
  void inspectShowsPortBindingsAndNetworkSettingsLikeDocker() {
    putWeb();
    CliRunner.Result r = cli.run("inspect", "web");
    assertEquals(0, r.code(), r.err());
    String out = r.out();
    String host = """
                "NetworkMode": "backend",
                "PortBindings": {
                    "80/tcp": [
                        {
                            "HostIp": "",
                            "HostPort": "8080"
                        }
                    ],
                    "443/tcp": [
                        {
                            "HostIp": "127.0.0.1",
                            "HostPort": ""
                        }
                    ],
                    "53/udp": [
                        {
                            "HostIp": "",
                            "HostPort": ""
                        }
                    ]
                },
                "PublishAllPorts": false,
    """;
    assertTrue(out.contains(host), out);
    String settings = """
            "NetworkSettings": {
                "Bridge": "br-1",
                "Ports": {
                    "80/tcp": [
                        {
                            "HostIp": "0.0.0.0",
                            "HostPort": "8080"
                        }
                    ],
                    "443/tcp": [
                        {
                            "HostIp": "127.0.0.1",
                            "HostPort": "8443"
                        }
                    ],
                    "53/udp": [
                        {
                            "HostIp": "0.0.0.0",
                            "HostPort": "5353"
                        }
                    ],
                    "9000/tcp": null
                },
                "Gateway": "",
                "IPAddress": "",
                "IPPrefixLen": 0,
                "MacAddress": "",
                "Networks": {
                    "backend": {
                        "Aliases": [
                            "web"
                        ],
                        "MacAddress": "02:42:ac:12:00:02",
                        "NetworkID": "%s",
                        "Gateway": "172.18.0.1",
                        "IPAddress": "172.18.0.2",
                        "IPPrefixLen": 16
                    }
                }
            },
    """.formatted("ab".repeat(32));
    assertTrue(out.contains(settings), out);
  }

  @Test
  void inspectOnTheDefaultBridgeFillsTheTopLevelAddressAndNoneHasAnEmptyEntry() {
    cli.run("run", "-d", "--name", "a", "alpine");
    cli.daemon.containers.put("n", Container.newBuilder().setId("n").setName("isolated")
        .setSpec(ContainerSpec.newBuilder().setImage("alpine").setNetworkMode("none")).build());
    String out = cli.run("inspect", "a").out();
    assertTrue(out.contains("\"NetworkMode\": \"bridge\""), out);
    assertTrue(out.contains("\"Gateway\": \"172.17.0.1\",\n            \"IPAddress\": \"\""), out);
    out = cli.run("inspect", "isolated").out();
    assertTrue(out.contains("\"NetworkMode\": \"none\""), out);
    assertTrue(out.contains("\"Networks\": {\n                \"none\": {\n                    \"Aliases\": null,"), out);
  }
}
