package dev.berth.agent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerRef;
import dev.berth.proto.v1.ContainerSpec;
import dev.berth.proto.v1.CreateContainerRequest;
import dev.berth.proto.v1.CreateNetworkRequest;
import dev.berth.proto.v1.ExecSpec;
import dev.berth.proto.v1.ImportHeader;
import dev.berth.proto.v1.ListContainersRequest;
import dev.berth.proto.v1.Network;
import dev.berth.proto.v1.NetworkRef;
import dev.berth.proto.v1.NetworkServiceGrpc;
import dev.berth.proto.v1.PortBinding;
import dev.berth.proto.v1.RemoveContainerRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Bridge networks with real traffic. The agent runs in a network namespace the test made
 * ({@link AgentProcess#start}); every request below goes to 127.0.0.1 or to addresses inside
 * that namespace, from a client started inside it ({@link AgentProcess#inNetns}).
 */
@Tag("linux")
@Timeout(180)
class NetworkLinuxTest {
  static AgentProcess agent;
  final List<String> created = new ArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    assumeTrue(Linux.isRoot(), "needs root for namespaces, bridges and nftables");
    assumeTrue(BusyboxImage.available(), "needs Debian's busybox-static at /bin/busybox");
    agent = AgentProcess.start();
    agent.importBusybox(ImportHeader.newBuilder().setReference("web").addCmd("/bin/sh").addExposedPorts("80/tcp").build());
  }

  @AfterAll
  static void stop() throws Exception {
    if (agent != null) {
      agent.close();
      assertTrue(agent.mounts().isEmpty(), "mounts left behind: " + agent.mounts());
    }
  }

  @AfterEach
  void removeContainers() {
    for (String id : created) {
      try {
        agent.containers().remove(RemoveContainerRequest.newBuilder().setId(id).setForce(true).build());
      } catch (StatusRuntimeException e) {
        // removed by the test itself
      }
    }
  }

  static NetworkServiceGrpc.NetworkServiceBlockingStub networks() {
    return NetworkServiceGrpc.newBlockingStub(agent.channel());
  }

  /** A busybox httpd answering {@code content} on port 80. */
  static ContainerSpec.Builder httpd(String content) {
    return ContainerSpec.newBuilder().setImage("web").addAllCmd(List.of("sh", "-c",
        "mkdir -p /www && echo " + content + " > /www/index.html && exec httpd -f -p 80 -h /www"));
  }

  static ContainerSpec.Builder sleeper() {
    return ContainerSpec.newBuilder().setImage("web").addAllCmd(List.of("sleep", "1000"));
  }

  static PortBinding port(int host, int container) {
    return PortBinding.newBuilder().setHostPort(host).setContainerPort(container).build();
  }

  Container run(ContainerSpec.Builder spec) {
    Container c = agent.containers().create(CreateContainerRequest.newBuilder().setSpec(spec).build());
    created.add(c.getId());
    return agent.containers().start(ContainerRef.newBuilder().setId(c.getId()).build());
  }

  /** GETs a URL from inside the agent's namespace, retrying while the server starts. */
  static String get(String url) throws Exception {
    AgentProcess.Exec last = null;
    for (int i = 0; i < 50; i++) {
      last = agent.inNetns("timeout", "5", "busybox", "wget", "-q", "-O-", url);
      if (last.code() == 0) {
        return last.output();
      }
      Thread.sleep(100);
    }
    throw new AssertionError("GET " + url + " failed: " + last.output());
  }

  /** Runs a command in a running container; its exit code and output. */
  static Attached exec(Container c, String... cmd) throws Exception {
    Attached a = Attached.exec(agent.containersAsync(), ExecSpec.newBuilder().setContainerId(c.getId())
        .addAllCmd(List.of(cmd)).build());
    a.await();
    return a;
  }

  @Test
  void twoVersionsSideBySideOnTheirOwnHostPorts() throws Exception {
    Container v1 = run(httpd("version-1").addPorts(port(18080, 80)));
    Container v2 = run(httpd("version-2").addPorts(port(0, 80)));
    int v2Port = v2.getNetwork().getPorts(0).getHostPort();
    assertTrue(v2Port > 0 && v2Port != 18080, "a free host port was chosen: " + v2Port);

    assertEquals("version-1\n", get("http://127.0.0.1:18080/"));
    assertEquals("version-2\n", get("http://127.0.0.1:" + v2Port + "/"));
    // The host's other addresses answer too (the bridge's gateway is one), and the container's own address.
    String gateway = v1.getNetwork().getGateway();
    assertEquals("version-1\n", get("http://" + gateway + ":18080/"));
    assertEquals("version-2\n", get("http://" + v2.getNetwork().getIpAddress() + ":80/"));
    assertNotEquals(v1.getNetwork().getIpAddress(), v2.getNetwork().getIpAddress());
    assertEquals("bridge", v1.getNetwork().getNetwork());
  }

  @Test
  void aPortPublishedOnOneAddressAnswersThereOnly() throws Exception {
    String gateway = agent.containers().inspect(ContainerRef.newBuilder().setId(run(sleeper()).getId()).build())
        .getNetwork().getGateway();
    run(httpd("pinned").addPorts(port(18086, 80).toBuilder().setHostIp(gateway)));
    assertEquals("pinned\n", get("http://" + gateway + ":18086/"));
    AgentProcess.Exec loopback = agent.inNetns("timeout", "3", "busybox", "wget", "-q", "-O-", "http://127.0.0.1:18086/");
    assertNotEquals(0, loopback.code(), "published on " + gateway + " only, yet 127.0.0.1 answered: " + loopback.output());
  }

  @Test
  void publishAllPublishesTheImagesExposedPortsOnFreeHostPorts() throws Exception {
    Container c = run(httpd("exposed").setPublishAll(true));
    assertEquals(1, c.getNetwork().getPortsCount(), c.getNetwork().toString());
    PortBinding p = c.getNetwork().getPorts(0);
    assertEquals(80, p.getContainerPort());
    assertEquals("exposed\n", get("http://127.0.0.1:" + p.getHostPort() + "/"));
  }

  @Test
  void aHostPortInUseIsRefusedAtCreate() throws Exception {
    run(sleeper().addPorts(port(18081, 80)));
    StatusRuntimeException taken = assertThrows(StatusRuntimeException.class,
        () -> agent.containers().create(CreateContainerRequest.newBuilder().setSpec(sleeper().addPorts(port(18081, 80))).build()));
    assertEquals(Status.Code.FAILED_PRECONDITION, taken.getStatus().getCode());
    assertTrue(taken.getStatus().getDescription().contains("18081"), taken.getStatus().getDescription());

    // A port another process of the host listens on.
    Process nc = new ProcessBuilder("nsenter", "--net=/run/netns/" + agent.netns(), "--", "busybox", "nc", "-l", "-p", "18082")
        .redirectErrorStream(true).start();
    try {
      // Only once nc listens: a create racing its bind would hold the port first and make nc exit.
      for (int i = 0; i < 100 && agent.inNetns("ss", "-Hltn", "sport = :18082").output().isBlank(); i++) {
        assertTrue(nc.isAlive(), "nc exited");
        Thread.sleep(50);
      }
      StatusRuntimeException foreign = assertThrows(StatusRuntimeException.class,
          () -> agent.containers().create(CreateContainerRequest.newBuilder().setSpec(sleeper().addPorts(port(18082, 80))).build()));
      assertEquals(Status.Code.FAILED_PRECONDITION, foreign.getStatus().getCode());
      assertTrue(foreign.getStatus().getDescription().contains("18082"), foreign.getStatus().getDescription());
    } finally {
      nc.destroyForcibly().waitFor();
    }
    long mine = agent.containers().list(ListContainersRequest.newBuilder().setAll(true).build()).getContainersList().stream()
        .filter(x -> created.contains(x.getId())).count();
    assertEquals(1, mine, "a refused create leaves no container");
  }

  @Test
  void containersOfOneNetworkResolveEachOtherAndOtherNetworksAreCutOff() throws Exception {
    Network front = networks().create(CreateNetworkRequest.newBuilder().setName("front").build());
    Network back = networks().create(CreateNetworkRequest.newBuilder().setName("back").setSubnet("10.213.7.0/24").build());
    try {
      assertEquals("10.213.7.1", back.getGateway());
      Container web = run(httpd("from-web").setName("web1").setNetworkMode("front").addNetworkAliases("www"));
      Container client = run(sleeper().setName("client1").setNetworkMode("front"));
      Container other = run(sleeper().setName("other1").setNetworkMode("back"));
      assertTrue(other.getNetwork().getIpAddress().startsWith("10.213.7."), other.getNetwork().getIpAddress());

      Attached byName = execRetrying(client, "wget", "-q", "-O-", "http://web1/");
      assertEquals("from-web\n", byName.stdout());
      assertEquals("from-web\n", exec(client, "wget", "-q", "-O-", "http://www/").stdout());

      Attached crossByAddress = exec(other, "timeout", "3", "wget", "-q", "-O-", "http://" + web.getNetwork().getIpAddress() + "/");
      assertNotEquals(0, crossByAddress.exitCode(), "another network reached web1: " + crossByAddress.stdout());
      Attached crossByName = exec(other, "timeout", "3", "wget", "-q", "-O-", "http://web1/");
      assertNotEquals(0, crossByName.exitCode(), "another network resolved web1");

      Network inspected = networks().inspect(NetworkRef.newBuilder().setId("front").build());
      assertEquals(2, inspected.getContainersCount());
      StatusRuntimeException inUse = assertThrows(StatusRuntimeException.class,
          () -> networks().remove(NetworkRef.newBuilder().setId("front").build()));
      assertEquals(Status.Code.FAILED_PRECONDITION, inUse.getStatus().getCode());
    } finally {
      removeContainers();
      created.clear();
      networks().remove(NetworkRef.newBuilder().setId("front").build());
      networks().remove(NetworkRef.newBuilder().setId("back").build());
    }
    assertFalse(agent.inNetns("ip", "-o", "link").output().contains(front.getBridge()), "the bridge of a removed network stays");
  }

  /** The names of the links in the agent's network namespace. */
  static List<String> links() throws Exception {
    return java.util.Arrays.stream(agent.inNetns("ip", "-o", "link").output().split("\n"))
        .filter(l -> l.matches("\\d+: .*")).map(l -> l.split(":\\s+")[1].split("@")[0]).sorted().toList();
  }

  static Attached execRetrying(Container c, String... cmd) throws Exception {
    Attached a = null;
    for (int i = 0; i < 50; i++) {
      a = exec(c, cmd);
      if (a.exitCode() == 0) {
        return a;
      }
      Thread.sleep(100);
    }
    return a;
  }

  @Test
  void aSubnetOverlappingAnotherNetworkOrARouteIsRefused() {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> networks().create(CreateNetworkRequest.newBuilder().setName("clash").setSubnet("172.17.5.0/24").build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().contains("172.17.0.0/16"), e.getStatus().getDescription());
    StatusRuntimeException reserved = assertThrows(StatusRuntimeException.class,
        () -> networks().remove(NetworkRef.newBuilder().setId("bridge").build()));
    assertEquals(Status.Code.FAILED_PRECONDITION, reserved.getStatus().getCode());
  }

  @Test
  void removingAContainerLeavesNothingOfItsNetworkBehind() throws Exception {
    List<String> before = links();
    Container c = run(httpd("gone").addPorts(port(18083, 80)));
    assertEquals("gone\n", get("http://127.0.0.1:18083/"));
    String rules = agent.inNetns("nft", "list", "ruleset").output();
    assertTrue(rules.contains("18083"), rules);
    assertTrue(agent.inNetns("ip", "-o", "link").output().contains("vb"), "a veth on the host side");

    agent.containers().remove(RemoveContainerRequest.newBuilder().setId(c.getId()).setForce(true).build());
    assertEquals(before, links(), "links left behind");
    assertFalse(agent.inNetns("nft", "list", "ruleset").output().contains("18083"), "a NAT rule left behind");
    assertTrue(agent.mounts().stream().noneMatch(m -> m.contains(c.getId().substring(0, 12))), "a pinned namespace left");
    // Its port is free again.
    run(sleeper().addPorts(port(18083, 80)));
  }

  @Test
  void runningContainersStayReachableAcrossAnAgentRestart() throws Exception {
    Container c = run(httpd("survivor").addPorts(port(18084, 80)));
    assertEquals("survivor\n", get("http://127.0.0.1:18084/"));
    agent.killHard();
    assertEquals("survivor\n", get("http://127.0.0.1:18084/"), "reachable while the agent is down");
    agent.launch();
    assertEquals("survivor\n", get("http://127.0.0.1:18084/"));
    Container after = agent.containers().inspect(ContainerRef.newBuilder().setId(c.getId()).build());
    assertEquals(c.getNetwork().getIpAddress(), after.getNetwork().getIpAddress());
    // Its port stays reserved, and its network is undone when it goes.
    assertThrows(StatusRuntimeException.class,
        () -> agent.containers().create(CreateContainerRequest.newBuilder().setSpec(sleeper().addPorts(port(18084, 80))).build()));
    agent.containers().remove(RemoveContainerRequest.newBuilder().setId(c.getId()).setForce(true).build());
    assertFalse(agent.inNetns("nft", "list", "ruleset").output().contains("18084"));
  }

  @Test
  void publishingIsRefusedOnNoneAndDiscardedOnHost() {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
        () -> agent.containers().create(CreateContainerRequest.newBuilder()
            .setSpec(sleeper().setNetworkMode("none").addPorts(port(18085, 80))).build()));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
    Container host = agent.containers().create(CreateContainerRequest.newBuilder()
        .setSpec(sleeper().setNetworkMode("host").addPorts(port(18085, 80))).build());
    created.add(host.getId());
    assertEquals(0, host.getNetwork().getPortsCount());
  }
}
