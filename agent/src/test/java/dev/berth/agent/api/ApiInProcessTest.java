package dev.berth.agent.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.image.ImageStore;
import dev.berth.agent.image.LayerLimits;
import dev.berth.agent.it.AgentProcess;
import dev.berth.agent.it.Attached;
import dev.berth.agent.it.BusyboxImage;
import dev.berth.agent.registry.Puller;
import dev.berth.agent.registry.Pusher;
import dev.berth.agent.registry.RegistryClient;
import dev.berth.agent.runtime.ContainerRuntime;
import dev.berth.agent.runtime.RecordingSyscalls;
import dev.berth.agent.runtime.cgroup.Cgroups;
import dev.berth.agent.runtime.net.NetworkManager;
import dev.berth.agent.runtime.net.NetworkStore;
import dev.berth.agent.runtime.net.PortReservations;
import dev.berth.agent.runtime.net.RecordingFirewall;
import dev.berth.agent.runtime.net.RecordingNetworkDriver;
import dev.berth.agent.runtime.net.RouteTable;
import dev.berth.agent.runtime.net.Subnet;
import dev.berth.proto.v1.CommitRequest;
import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerRef;
import dev.berth.proto.v1.ContainerServiceGrpc;
import dev.berth.proto.v1.ContainerSpec;
import dev.berth.proto.v1.ContainerStatus;
import dev.berth.proto.v1.CreateContainerRequest;
import dev.berth.proto.v1.CreateNetworkRequest;
import dev.berth.proto.v1.ListNetworksRequest;
import dev.berth.proto.v1.Network;
import dev.berth.proto.v1.NetworkRef;
import dev.berth.proto.v1.NetworkServiceGrpc;
import dev.berth.proto.v1.PortBinding;
import dev.berth.proto.v1.PruneNetworksRequest;
import dev.berth.proto.v1.ExitStatus;
import dev.berth.proto.v1.Image;
import dev.berth.proto.v1.ImageRef;
import dev.berth.proto.v1.ImageServiceGrpc;
import dev.berth.proto.v1.ListContainersRequest;
import dev.berth.proto.v1.ListImagesRequest;
import dev.berth.proto.v1.RemoveContainerRequest;
import dev.berth.proto.v1.RemoveImageRequest;
import dev.berth.proto.v1.Resources;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The API through an in-process channel against the real services, runtime and image store;
 * below them the recording Syscalls, a cgroup v2 fixture tree and a launcher that reports a
 * missing command, so that everything up to the kernel runs without root.
 */
@Timeout(60)
class ApiInProcessTest {
  @TempDir
  Path tmp;
  RecordingSyscalls syscalls;
  ContainerRuntime runtime;
  Server server;
  ManagedChannel channel;
  ContainerServiceGrpc.ContainerServiceBlockingStub containers;
  ImageServiceGrpc.ImageServiceBlockingStub images;
  Path cgroupRoot;
  Puller puller;
  Pusher pusher;
  RegistryClient registries;
  RecordingNetworkDriver driver;
  RecordingFirewall firewall;
  PortReservations ports;
  NetworkManager networks;

  @BeforeEach
  void start() throws Exception {
    syscalls = new RecordingSyscalls();
    cgroupRoot = Files.createDirectories(tmp.resolve("cgroup"));
    Files.writeString(cgroupRoot.resolve("cgroup.controllers"), "cpuset cpu io memory pids\n");
    Files.writeString(cgroupRoot.resolve("cgroup.subtree_control"), "");
    Path launcher = tmp.resolve("launcher");
    Files.writeString(launcher, "#!/bin/sh\necho 'failed 127 exec: \"nope\": executable file not found in $PATH'\nexit 1\n");
    Files.setPosixFilePermissions(launcher, PosixFilePermissions.fromString("rwx------"));
    Path data = Files.createDirectories(tmp.resolve("data"));
    Cgroups cgroups = Cgroups.detect(cgroupRoot, syscalls);
    ImageStore store = new ImageStore(data.resolve("images"), syscalls, LayerLimits.DEFAULT);
    registries = new RegistryClient(Set.of());
    puller = new Puller(registries, store);
    pusher = new Pusher(registries, store);
    driver = new RecordingNetworkDriver();
    firewall = new RecordingFirewall();
    ports = new PortReservations();
    networks = new NetworkManager(new NetworkStore(data.resolve("networks"), "bt-test",
        new NetworkStore.DefaultBridge("", Subnet.parse("172.17.0.0/16")), () -> new RouteTable(List.of())),
        driver, firewall, ports, "bt-test");
    runtime = new ContainerRuntime(new ContainerRuntime.Settings(data, "bt-test", launcher, 1 << 20, 2), syscalls, cgroups,
        store, new dev.berth.agent.runtime.VolumeStore(data.resolve("volumes")), networks);
    networks.start();
    String name = InProcessServerBuilder.generateName();
    server = InProcessServerBuilder.forName(name).directExecutor()
        .addService(ServerInterceptors.intercept(new ContainerGrpcService(runtime), new ErrorInterceptor()))
        .addService(ServerInterceptors.intercept(new ImageGrpcService(store, runtime, data.resolve("tmp"), puller, pusher, registries), new ErrorInterceptor()))
        .addService(ServerInterceptors.intercept(new NetworkGrpcService(networks, runtime), new ErrorInterceptor()))
        .build().start();
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    containers = ContainerServiceGrpc.newBlockingStub(channel);
    images = ImageServiceGrpc.newBlockingStub(channel);
    importBusybox();
  }

  @AfterEach
  void stop() throws Exception {
    channel.shutdownNow();
    server.shutdownNow();
    runtime.close();
    ports.close();
    puller.close();
    pusher.close();
    registries.close();
  }

  private void importBusybox() throws Exception {
    AgentProcess.importTar(channel, "busybox", BusyboxImage.tar());
  }

  Container create(ContainerSpec.Builder spec) {
    return containers.create(CreateContainerRequest.newBuilder().setSpec(spec).build());
  }

  static void assertStatus(Status.Code code, String text, Executable call) {
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call::execute);
    assertEquals(code, e.getStatus().getCode(), e.getStatus().toString());
    assertTrue(e.getStatus().getDescription().contains(text), e.getStatus().getDescription());
  }

  interface Executable {
    void execute() throws Throwable;
  }

  @Test
  void importedImageIsListedAndFoundByNameAndIdPrefix() {
    List<Image> all = images.list(ListImagesRequest.getDefaultInstance()).getImagesList();
    assertEquals(1, all.size());
    Image img = all.get(0);
    assertTrue(img.getRepoTagsList().get(0).endsWith("busybox:latest"), img.getRepoTagsList().toString());
    assertEquals(List.of("/bin/sh"), img.getConfig().getCmdList());
    String hex = img.getId().substring("sha256:".length());
    assertEquals(img.getId(), images.inspect(ImageRef.newBuilder().setReference(hex.substring(0, 8)).build()).getId());
  }

  @Test
  void createAppliesTheImageConfigAndDefaults() {
    Container c = create(ContainerSpec.newBuilder().setImage("busybox").setName("web").addEnv("A=1")
        .setResources(Resources.newBuilder().setMemory("64m").setCpus("0.5").setPidsLimit(10)));
    assertEquals(ContainerStatus.CREATED, c.getStatus());
    assertEquals(List.of("/bin/sh"), c.getPathAndArgsList());
    assertEquals(c.getId().substring(0, 12), c.getHostname());
    assertTrue(c.getEnvList().contains("A=1"));
    assertTrue(c.getEnvList().stream().anyMatch(e -> e.startsWith("PATH=")));
    assertEquals(64L << 20, c.getMemoryLimitBytes());
    assertEquals(50_000, c.getCpuQuotaMicros());
    assertEquals(10, c.getPidsLimit());
    assertEquals("web", containers.inspect(ContainerRef.newBuilder().setId(c.getId().substring(0, 6)).build()).getName());
    assertTrue(containers.list(ListContainersRequest.getDefaultInstance()).getContainersList().isEmpty(), "not running");
    assertEquals(1, containers.list(ListContainersRequest.newBuilder().setAll(true).build()).getContainersCount());
  }

  @Test
  void badRequestsGetTheRightStatus() {
    create(ContainerSpec.newBuilder().setImage("busybox").setName("taken"));
    assertStatus(Status.Code.ALREADY_EXISTS, "taken", () -> create(ContainerSpec.newBuilder().setImage("busybox").setName("taken")));
    assertStatus(Status.Code.NOT_FOUND, "ghost:1", () -> create(ContainerSpec.newBuilder().setImage("ghost:1")));
    assertStatus(Status.Code.INVALID_ARGUMENT, "512m",
        () -> create(ContainerSpec.newBuilder().setImage("busybox").setResources(Resources.newBuilder().setMemory("big"))));
    assertStatus(Status.Code.INVALID_ARGUMENT, "seccomp=unconfined",
        () -> create(ContainerSpec.newBuilder().setImage("busybox").addSecurityOpt("apparmor=x")));
    assertStatus(Status.Code.INVALID_ARGUMENT, "Invalid container name",
        () -> create(ContainerSpec.newBuilder().setImage("busybox").setName("no spaces")));
    assertStatus(Status.Code.NOT_FOUND, "No such container: nobody",
        () -> containers.inspect(ContainerRef.newBuilder().setId("nobody").build()));
  }

  @Test
  void publishedPortsAreReservedAtCreateAndFreedAtRemove() {
    Container web = create(ContainerSpec.newBuilder().setImage("busybox").setName("web")
        .addPorts(PortBinding.newBuilder().setHostIp("127.0.0.1").setHostPort(0).setContainerPort(80)));
    PortBinding chosen = web.getNetwork().getPorts(0);
    assertTrue(chosen.getHostPort() > 0, "a host port was chosen: " + chosen);
    assertEquals("bridge", web.getNetwork().getNetwork());
    assertStatus(Status.Code.FAILED_PRECONDITION, "port is already allocated", () -> create(ContainerSpec.newBuilder()
        .setImage("busybox").addPorts(chosen)));
    assertEquals(1, containers.list(ListContainersRequest.newBuilder().setAll(true).build()).getContainersCount(),
        "the refused container is not kept");
    containers.remove(RemoveContainerRequest.newBuilder().setId("web").build());
    assertEquals(chosen.getHostPort(), create(ContainerSpec.newBuilder().setImage("busybox").addPorts(chosen))
        .getNetwork().getPorts(0).getHostPort(), "free again once its container is removed");
  }

  @Test
  void badNetworkRequestsAreRefusedWithTheReason() {
    assertStatus(Status.Code.NOT_FOUND, "network nowhere not found",
        () -> create(ContainerSpec.newBuilder().setImage("busybox").setNetworkMode("nowhere")));
    assertStatus(Status.Code.INVALID_ARGUMENT, "port publishing",
        () -> create(ContainerSpec.newBuilder().setImage("busybox").setNetworkMode("none")
            .addPorts(PortBinding.newBuilder().setContainerPort(80))));
    assertStatus(Status.Code.INVALID_ARGUMENT, "protocol",
        () -> create(ContainerSpec.newBuilder().setImage("busybox")
            .addPorts(PortBinding.newBuilder().setProtocol("sctp").setContainerPort(80))));
    assertStatus(Status.Code.INVALID_ARGUMENT, "user-defined networks",
        () -> create(ContainerSpec.newBuilder().setImage("busybox").addNetworkAliases("db")));
    NetworkServiceGrpc.NetworkServiceBlockingStub nets = NetworkServiceGrpc.newBlockingStub(channel);
    assertStatus(Status.Code.INVALID_ARGUMENT, "invalid network name",
        () -> nets.create(CreateNetworkRequest.newBuilder().setName("no spaces").build()));
    assertStatus(Status.Code.INVALID_ARGUMENT, "invalid subnet",
        () -> nets.create(CreateNetworkRequest.newBuilder().setName("n").setSubnet("10.0.0.0/33").build()));
    assertStatus(Status.Code.INVALID_ARGUMENT, "overlaps",
        () -> nets.create(CreateNetworkRequest.newBuilder().setName("n").setSubnet("172.17.128.0/24").build()));
    assertStatus(Status.Code.INVALID_ARGUMENT, "gateway",
        () -> nets.create(CreateNetworkRequest.newBuilder().setName("n").setSubnet("10.9.0.0/24").setGateway("10.8.0.1").build()));
    assertStatus(Status.Code.FAILED_PRECONDITION, "pre-defined",
        () -> nets.remove(NetworkRef.newBuilder().setId("none").build()));
  }

  @Test
  void userDefinedNetworksGetABridgeASubnetAndGoWhenUnused() {
    NetworkServiceGrpc.NetworkServiceBlockingStub nets = NetworkServiceGrpc.newBlockingStub(channel);
    Network app = nets.create(CreateNetworkRequest.newBuilder().setName("app").putLabels("team", "a").build());
    assertEquals("172.18.0.0/16", app.getSubnet(), "the first free subnet of the pool");
    assertEquals("172.18.0.1", app.getGateway());
    assertTrue(driver.bridges().containsKey(app.getBridge()));
    assertStatus(Status.Code.ALREADY_EXISTS, "already exists",
        () -> nets.create(CreateNetworkRequest.newBuilder().setName("app").build()));
    assertEquals(List.of("app", "bridge", "host", "none"), nets.list(ListNetworksRequest.getDefaultInstance())
        .getNetworksList().stream().map(Network::getName).toList());
    Container c = create(ContainerSpec.newBuilder().setImage("busybox").setNetworkMode("app"));
    assertEquals(1, nets.inspect(NetworkRef.newBuilder().setId(app.getId().substring(0, 10)).build()).getContainersCount());
    assertStatus(Status.Code.FAILED_PRECONDITION, "active endpoints",
        () -> nets.remove(NetworkRef.newBuilder().setId("app").build()));
    assertEquals(0, nets.prune(PruneNetworksRequest.getDefaultInstance()).getDeletedCount(), "in use: kept");
    containers.remove(RemoveContainerRequest.newBuilder().setId(c.getId()).build());
    assertEquals(List.of("app"), nets.prune(PruneNetworksRequest.getDefaultInstance()).getDeletedList());
    assertFalse(driver.bridges().containsKey(app.getBridge()), "its bridge went with it");
  }

  @Test
  void aFailedStartTakesItsNetworkDownAgain() throws Exception {
    Container c = create(ContainerSpec.newBuilder().setImage("busybox").addCmd("nope")
        .addPorts(PortBinding.newBuilder().setHostIp("127.0.0.1").setContainerPort(80)));
    assertStatus(Status.Code.FAILED_PRECONDITION, "executable file not found",
        () -> containers.start(ContainerRef.newBuilder().setId(c.getId()).build()));
    assertTrue(driver.calls().stream().anyMatch(x -> x.startsWith("createSandbox")), driver.calls().toString());
    assertTrue(driver.sandboxes().isEmpty(), "a veth and namespace stay: " + driver.sandboxes());
    assertTrue(firewall.current().ports().isEmpty(), "a NAT rule stays: " + firewall.current());
    Container after = containers.inspect(ContainerRef.newBuilder().setId(c.getId()).build());
    assertEquals("", after.getNetwork().getIpAddress());
    assertEquals(1, after.getNetwork().getPortsCount(), "the port stays reserved until the container is removed");

    driver.failNext("createSandbox");
    assertStatus(Status.Code.INTERNAL, "injected failure",
        () -> containers.start(ContainerRef.newBuilder().setId(c.getId()).build()));
    assertTrue(driver.sandboxes().isEmpty());
    assertEquals(0, syscalls.mounted().size(), "the rootfs stays mounted: " + syscalls.mounted());
  }

  @Test
  void aFailedStartIsRecordedAndUndoesItsMountAndCgroup() throws Exception {
    Container c = create(ContainerSpec.newBuilder().setImage("busybox").addCmd("nope"));
    assertStatus(Status.Code.FAILED_PRECONDITION, "executable file not found",
        () -> containers.start(ContainerRef.newBuilder().setId(c.getId()).build()));
    Container after = containers.inspect(ContainerRef.newBuilder().setId(c.getId()).build());
    assertEquals(ContainerStatus.EXITED, after.getStatus());
    assertEquals(127, after.getExitCode());
    assertEquals(1, syscalls.calls("mount").size());
    assertEquals(1, syscalls.calls("umount").size());
    assertFalse(Files.exists(cgroupRoot.resolve("bt-test").resolve(c.getId())), "cgroup left behind");
  }

  @Test
  void anAttachedRunOfAMissingCommandExits127WithTheReason() throws Exception {
    Container c = create(ContainerSpec.newBuilder().setImage("busybox").addCmd("nope"));
    Attached a = Attached.start(ContainerServiceGrpc.newStub(channel), c.getId());
    ExitStatus s = a.await();
    assertEquals(127, s.getExitCode());
    assertTrue(s.getError().contains("executable file not found"), s.getError());
  }

  @Test
  void imageLabelsReachContainersUnderTheirOwn() {
    Container base = create(ContainerSpec.newBuilder().setImage("busybox").putLabels("team", "infra")
        .putLabels("tier", "back"));
    Image committed = images.commit(CommitRequest.newBuilder().setContainer(base.getId()).setReference("labelled:1").build());
    assertEquals(Map.of("team", "infra", "tier", "back"), committed.getConfig().getLabelsMap());
    Container c = create(ContainerSpec.newBuilder().setImage("labelled:1").putLabels("tier", "front"));
    assertEquals(Map.of("team", "infra", "tier", "front"), c.getLabelsMap());
    assertEquals(Map.of("tier", "front"), c.getSpec().getLabelsMap(), "the request as given");
  }

  @Test
  void imagesInUseAreKeptUntilTheirContainersGo() {
    Container c = create(ContainerSpec.newBuilder().setImage("busybox"));
    assertStatus(Status.Code.FAILED_PRECONDITION, "busybox",
        () -> images.remove(RemoveImageRequest.newBuilder().setReference("busybox").build()));
    containers.remove(RemoveContainerRequest.newBuilder().setId(c.getId()).build());
    assertFalse(Files.exists(tmp.resolve("data/containers").resolve(c.getId().substring(0, 12))));
    images.remove(RemoveImageRequest.newBuilder().setReference("busybox").build());
    assertEquals(0, images.list(ListImagesRequest.getDefaultInstance()).getImagesCount());
  }
}
