package dev.berth.agent.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.image.ImageStore;
import dev.berth.agent.image.LayerLimits;
import dev.berth.agent.it.AgentProcess;
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
import dev.berth.agent.task.Backoff;
import dev.berth.agent.task.Supervisor;
import dev.berth.proto.v1.CommitRequest;
import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerRef;
import dev.berth.proto.v1.ContainerServiceGrpc;
import dev.berth.proto.v1.ContainerSpec;
import dev.berth.proto.v1.ContainerStatus;
import dev.berth.proto.v1.CreateContainerRequest;
import dev.berth.proto.v1.HealthConfig;
import dev.berth.proto.v1.ImageServiceGrpc;
import dev.berth.proto.v1.ListContainersRequest;
import dev.berth.proto.v1.RestartPolicy;
import dev.berth.proto.v1.StopContainerRequest;
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
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Restart policies and health check settings through the API, in process: the real services,
 * runtime and supervisor over the recording Syscalls and a launcher that reports a start and
 * leaves no shim behind, so every run ends at once with its exit unknown (as a launcher that
 * died leaves it). No root needed.
 */
@Timeout(60)
class TaskInProcessTest {
  @TempDir
  Path tmp;
  Path data;
  Path launcher;
  RecordingSyscalls syscalls;
  Cgroups cgroups;
  ImageStore store;
  ContainerRuntime runtime;
  Supervisor supervisor;
  Server server;
  ManagedChannel channel;
  ContainerServiceGrpc.ContainerServiceBlockingStub containers;
  ImageServiceGrpc.ImageServiceBlockingStub images;
  Puller puller;
  Pusher pusher;
  RegistryClient registries;
  PortReservations ports;

  @BeforeEach
  void start() throws Exception {
    syscalls = new RecordingSyscalls();
    Path cgroupRoot = Files.createDirectories(tmp.resolve("cgroup"));
    Files.writeString(cgroupRoot.resolve("cgroup.controllers"), "cpuset cpu io memory pids\n");
    Files.writeString(cgroupRoot.resolve("cgroup.subtree_control"), "");
    launcher = tmp.resolve("launcher");
    // "Started": the shell's own pid as shim and container; it is gone a moment later, with no exit file.
    Files.writeString(launcher, "#!/bin/sh\necho \"ok $$ $$\"\n");
    Files.setPosixFilePermissions(launcher, PosixFilePermissions.fromString("rwx------"));
    data = Files.createDirectories(tmp.resolve("data"));
    cgroups = Cgroups.detect(cgroupRoot, syscalls);
    store = new ImageStore(data.resolve("images"), syscalls, LayerLimits.DEFAULT);
    registries = new RegistryClient(Set.of());
    puller = new Puller(registries, store);
    pusher = new Pusher(registries, store);
    ports = new PortReservations();
    boot(Duration.ofMillis(20));
    AgentProcess.importTar(channel, "busybox", BusyboxImage.tar());
  }

  /** A runtime and supervisor over the data dir (again: as after an agent restart). */
  private void boot(Duration backoffBase) throws Exception {
    NetworkManager networks = new NetworkManager(new NetworkStore(data.resolve("networks"), "bt-test",
        new NetworkStore.DefaultBridge("", Subnet.parse("172.17.0.0/16")), () -> new RouteTable(List.of())),
        new RecordingNetworkDriver(), new RecordingFirewall(), ports, "bt-test");
    supervisor = new Supervisor(new Backoff.Settings(backoffBase, backoffBase.multipliedBy(4), Duration.ofSeconds(10)),
        Clock.systemUTC());
    runtime = new ContainerRuntime(new ContainerRuntime.Settings(data, "bt-test", launcher, 1 << 20, 2), syscalls, cgroups,
        store, new dev.berth.agent.runtime.VolumeStore(data.resolve("volumes")), networks, supervisor);
    supervisor.bind(runtime);
    networks.start();
    String name = InProcessServerBuilder.generateName();
    server = InProcessServerBuilder.forName(name).directExecutor()
        .addService(ServerInterceptors.intercept(new ContainerGrpcService(runtime, supervisor), new ErrorInterceptor()))
        .addService(ServerInterceptors.intercept(new ImageGrpcService(store, runtime, data.resolve("tmp"), puller, pusher,
            registries), new ErrorInterceptor()))
        .build().start();
    channel = InProcessChannelBuilder.forName(name).directExecutor().build();
    containers = ContainerServiceGrpc.newBlockingStub(channel);
    images = ImageServiceGrpc.newBlockingStub(channel);
  }

  private void shutdown() throws Exception {
    channel.shutdownNow();
    server.shutdownNow();
    supervisor.close();
    runtime.close();
  }

  @AfterEach
  void stop() throws Exception {
    shutdown();
    ports.close();
    puller.close();
    pusher.close();
    registries.close();
  }

  private Container run(ContainerSpec.Builder spec) {
    Container c = containers.create(CreateContainerRequest.newBuilder().setSpec(spec.setImage("busybox")
        .setNetworkMode("none")).build());
    return containers.start(ContainerRef.newBuilder().setId(c.getId()).build());
  }

  private Container inspect(String id) {
    return containers.inspect(ContainerRef.newBuilder().setId(id).build());
  }

  private Container await(String id, Predicate<Container> p, String what) throws InterruptedException {
    long deadline = System.nanoTime() + 20_000_000_000L;
    Container c = inspect(id);
    while (!p.test(c)) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting until " + what + ": " + c);
      }
      Thread.sleep(10);
      c = inspect(id);
    }
    return c;
  }

  private static boolean settled(Container c) {
    return c.getStatus() == ContainerStatus.EXITED && !c.getRestarting();
  }

  @Test
  void onFailureRestartsUpToItsLimitAndTreatsAnUnknownExitAsAFailure() throws Exception {
    Container c = run(ContainerSpec.newBuilder().setRestartPolicy(RestartPolicy.newBuilder().setName("on-failure")
        .setMaxRetries(3)));
    Container done = await(c.getId(), x -> x.getRestartCount() == 3 && settled(x), "three restarts");
    Thread.sleep(300); // 20 + 40 + 80 ms of backoff would have passed for a fourth
    done = inspect(c.getId());
    assertEquals(3, done.getRestartCount());
    assertTrue(settled(done), done.toString());
    assertTrue(done.getExitUnknown(), "an exit nobody saw stays unknown");
    assertEquals("on-failure", done.getSpec().getRestartPolicy().getName());
  }

  @Test
  void noPolicyNoRestart() throws Exception {
    Container c = run(ContainerSpec.newBuilder());
    Container done = await(c.getId(), TaskInProcessTest::settled, "the exit");
    Thread.sleep(200);
    assertEquals(0, inspect(c.getId()).getRestartCount());
    assertTrue(done.getExitUnknown());
  }

  @Test
  void aRestartingContainerIsListedAndAStopEndsIt() throws Exception {
    shutdown();
    boot(Duration.ofSeconds(5)); // long enough to look at it while it waits
    Container c = run(ContainerSpec.newBuilder().setName("looper").setRestartPolicy(RestartPolicy.newBuilder()
        .setName("always")));
    Container waiting = await(c.getId(), Container::getRestarting, "restarting");
    assertEquals(ContainerStatus.EXITED, waiting.getStatus());
    List<Container> listed = containers.list(ListContainersRequest.getDefaultInstance()).getContainersList();
    assertEquals(List.of("looper"), listed.stream().map(Container::getName).toList(), "listed without --all, as docker does");

    containers.stop(StopContainerRequest.newBuilder().setId("looper").build());
    Container stopped = inspect("looper");
    assertFalse(stopped.getRestarting());
    assertTrue(containers.list(ListContainersRequest.getDefaultInstance()).getContainersList().isEmpty());

    // A user start counts from zero again and the policy applies again.
    containers.start(ContainerRef.newBuilder().setId("looper").build());
    await("looper", Container::getRestarting, "restarting again");
    assertEquals(0, inspect("looper").getRestartCount());
  }

  @Test
  void anAgentStartRestartsAlwaysButNotAStoppedUnlessStopped() throws Exception {
    shutdown();
    boot(Duration.ofSeconds(30)); // no restart of its own before the "agent restart" below
    Container always = run(ContainerSpec.newBuilder().setName("always").setRestartPolicy(RestartPolicy.newBuilder()
        .setName("always")));
    Container unless = run(ContainerSpec.newBuilder().setName("unless").setRestartPolicy(RestartPolicy.newBuilder()
        .setName("unless-stopped")));
    Container plain = run(ContainerSpec.newBuilder().setName("plain"));
    await("always", Container::getRestarting, "restarting");
    await("unless", Container::getRestarting, "restarting");
    containers.stop(StopContainerRequest.newBuilder().setId("always").build());
    containers.stop(StopContainerRequest.newBuilder().setId("unless").build());
    await("plain", TaskInProcessTest::settled, "the exit");

    shutdown();
    boot(Duration.ofSeconds(30));
    // always comes back even though it was stopped (Docker: "restarted only when the daemon restarts");
    // unless-stopped and no stay down.
    await(always.getId(), x -> x.getRestartCount() == 1, "always started again");
    Thread.sleep(200);
    assertEquals(0, inspect(unless.getId()).getRestartCount());
    assertEquals(0, inspect(plain.getId()).getRestartCount());
    assertFalse(inspect(unless.getId()).getRestarting());
  }

  @Test
  void badPoliciesAndChecksAreRefused() {
    for (ContainerSpec.Builder bad : List.of(
        ContainerSpec.newBuilder().setRestartPolicy(RestartPolicy.newBuilder().setName("sometimes")),
        ContainerSpec.newBuilder().setRestartPolicy(RestartPolicy.newBuilder().setName("always").setMaxRetries(2)),
        ContainerSpec.newBuilder().setRestartPolicy(RestartPolicy.newBuilder().setName("always")).setAutoRemove(true),
        ContainerSpec.newBuilder().setHealthcheck(HealthConfig.newBuilder().addTest("CMD-SHELL").addTest("true")
            .setIntervalNanos(10)),
        ContainerSpec.newBuilder().setHealthcheck(HealthConfig.newBuilder().addTest("SHELL").addTest("true")))) {
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
          () -> containers.create(CreateContainerRequest.newBuilder().setSpec(bad.setImage("busybox")).build()));
      assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), bad.toString());
    }
  }

  @Test
  void aCommittedHealthcheckIsTheNextContainersAndCanBeTurnedOff() {
    HealthConfig check = HealthConfig.newBuilder().addTest("CMD-SHELL").addTest("test -e /tmp/ok")
        .setIntervalNanos(2_000_000_000L).setRetries(2).build();
    Container base = containers.create(CreateContainerRequest.newBuilder().setSpec(ContainerSpec.newBuilder()
        .setImage("busybox").setHealthcheck(check)).build());
    assertEquals(check, base.getHealthcheck());
    images.commit(CommitRequest.newBuilder().setContainer(base.getId()).setReference("checked:1").build());

    Container inherits = containers.create(CreateContainerRequest.newBuilder().setSpec(ContainerSpec.newBuilder()
        .setImage("checked:1")).build());
    assertEquals(check, inherits.getHealthcheck(), "the image's Healthcheck");
    Container tuned = containers.create(CreateContainerRequest.newBuilder().setSpec(ContainerSpec.newBuilder()
        .setImage("checked:1").setHealthcheck(HealthConfig.newBuilder().setTimeoutNanos(1_000_000_000L))).build());
    assertEquals(check.toBuilder().setTimeoutNanos(1_000_000_000L).build(), tuned.getHealthcheck(), "field by field");
    Container off = containers.create(CreateContainerRequest.newBuilder().setSpec(ContainerSpec.newBuilder()
        .setImage("checked:1").setHealthcheck(HealthConfig.newBuilder().setDisabled(true))).build());
    assertTrue(off.getHealthcheck().getDisabled());
    assertFalse(off.hasHealth());
  }
}
