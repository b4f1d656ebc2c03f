package dev.berth.agent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.proto.v1.CommitRequest;
import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerRef;
import dev.berth.proto.v1.ContainerSpec;
import dev.berth.proto.v1.ContainerStatus;
import dev.berth.proto.v1.CreateContainerRequest;
import dev.berth.proto.v1.Image;
import dev.berth.proto.v1.ImageServiceGrpc;
import dev.berth.proto.v1.RemoveContainerRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code berth commit} of a running container, as root with an agent of the test's own: the
 * container is frozen while its writable layer is packed (docker commit's default) and runs on
 * afterwards, also when the packing fails; with pause off it is never frozen.
 *
 * <p>The container spins in a shell loop, so its cgroup's CPU time shows whether it makes
 * progress; it writes nothing meanwhile, since a file that grows while it is packed would break
 * the commit without pause. A 64 MiB {@code /big} makes the packing last long enough to watch
 * the freezer's state meanwhile.
 */
@Tag("linux")
@Timeout(120)
class CommitLinuxTest {
  private static final Path CGROUP = Path.of("/sys/fs/cgroup");
  static AgentProcess agent;
  static ImageServiceGrpc.ImageServiceBlockingStub images;

  private Container running;
  private Path upper;

  @BeforeAll
  static void startAgent() throws Exception {
    assumeTrue(Linux.isRoot(), "needs root for namespaces, cgroups and mounts");
    assumeTrue(BusyboxImage.available(), "needs Debian's busybox-static at /bin/busybox");
    assumeTrue(Files.isDirectory(CGROUP.resolve("freezer")) || Files.exists(CGROUP.resolve("cgroup.controllers")),
        "needs a cgroup freezer: the v1 freezer hierarchy or cgroup v2");
    agent = AgentProcess.start();
    agent.importBusybox("busybox:latest");
    images = ImageServiceGrpc.newBlockingStub(agent.channel());
  }

  @AfterAll
  static void stopAgent() throws Exception {
    if (agent != null) {
      agent.close();
      assertTrue(agent.cgroupDirs().isEmpty(), "cgroups left behind: " + agent.cgroupDirs());
      assertTrue(agent.mounts().isEmpty(), "mounts left behind: " + agent.mounts());
    }
  }

  @BeforeEach
  void startCounting() throws Exception {
    running = agent.containers().create(CreateContainerRequest.newBuilder().setSpec(ContainerSpec.newBuilder()
        .setImage("busybox").addCmd("sh").addCmd("-c")
        .addCmd("head -c 67108864 /dev/zero > /big; touch /ready; while :; do :; done")).build());
    agent.containers().start(ContainerRef.newBuilder().setId(running.getId()).build());
    running = agent.containers().inspect(ContainerRef.newBuilder().setId(running.getId()).build());
    upper = agent.dataDir().resolve("containers").resolve(running.getId().substring(0, 12)).resolve("upper");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (!Files.exists(upper.resolve("ready"))) {
      assertTrue(System.nanoTime() < deadline, "the container did not get ready in 30 s");
      Thread.sleep(10);
    }
  }

  @AfterEach
  void removeIt() throws IOException {
    if (running != null) {
      // A test that failed with the container frozen would otherwise keep SIGKILL from it (v1).
      Path state = CGROUP.resolve("freezer").resolve(running.getCgroupPath()).resolve("freezer.state");
      if (Files.exists(state)) {
        Files.writeString(state, "THAWED");
      }
      agent.containers().remove(RemoveContainerRequest.newBuilder().setId(running.getId()).setForce(true).build());
    }
  }

  @Test
  void aRunningContainerIsFrozenWhileItsLayerIsPackedAndRunsOnAfterwards() throws Exception {
    Set<String> seen = watchFreezer(() -> images.commit(CommitRequest.newBuilder().setContainer(running.getId())
        .setReference("counted:1").build()));

    assertTrue(seen.contains("FROZEN"), "frozen while packing (states seen: " + seen + ")");
    assertRunsOn();
    Image committed = images.inspect(dev.berth.proto.v1.ImageRef.newBuilder().setReference("counted:1").build());
    assertEquals(2, committed.getLayersCount(), "busybox's layer and the container's");
  }

  @Test
  void aContainerWhosePackingFailsIsResumed() throws Exception {
    // A binary extended attribute is something the packer refuses (it would be corrupted).
    UserDefinedFileAttributeView xattrs = Files.getFileAttributeView(upper.resolve("big"),
        UserDefinedFileAttributeView.class);
    xattrs.write("berth.test", ByteBuffer.wrap(new byte[] {(byte) 0xff, (byte) 0xfe, 0}));

    Set<String> seen = ConcurrentHashMap.newKeySet();
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> seen.addAll(watchFreezer(
        () -> images.commit(CommitRequest.newBuilder().setContainer(running.getId()).setPause(true).build()))));

    assertEquals(Status.Code.FAILED_PRECONDITION, e.getStatus().getCode(), e.getStatus().toString());
    assertTrue(e.getStatus().getDescription().contains("berth.test"), e.getStatus().getDescription());
    assertRunsOn();
  }

  @Test
  void withPauseOffTheContainerIsNeverFrozen() throws Exception {
    Set<String> seen = watchFreezer(() -> images.commit(CommitRequest.newBuilder().setContainer(running.getId())
        .setPause(false).build()));

    assertFalse(seen.contains("FROZEN") || seen.contains("FREEZING"), "states seen: " + seen);
    assertRunsOn();
  }

  /** Runs {@code commit} while another thread reads the container's freezer state; returns the states seen. */
  private Set<String> watchFreezer(Supplier<Image> commit) throws Exception {
    Set<String> seen = ConcurrentHashMap.newKeySet();
    Thread watcher = new Thread(() -> {
      while (!Thread.currentThread().isInterrupted()) {
        try {
          seen.add(freezerState());
        } catch (IOException e) {
          seen.add("unreadable: " + e);
        }
      }
    });
    watcher.start();
    try {
      commit.get();
    } finally {
      watcher.interrupt();
      watcher.join(5000);
    }
    return seen;
  }

  /** v1's freezer.state; on v2 the same words, from cgroup.events. */
  private String freezerState() throws IOException {
    Path v1 = CGROUP.resolve("freezer").resolve(running.getCgroupPath()).resolve("freezer.state");
    if (Files.exists(v1)) {
      return Files.readString(v1).trim();
    }
    String events = Files.readString(CGROUP.resolve(running.getCgroupPath()).resolve("cgroup.events"));
    return events.lines().anyMatch(l -> l.equals("frozen 1")) ? "FROZEN" : "THAWED";
  }

  /** The container is thawed, still running and makes progress. */
  private void assertRunsOn() throws Exception {
    assertEquals("THAWED", freezerState());
    assertEquals(ContainerStatus.RUNNING,
        agent.containers().inspect(ContainerRef.newBuilder().setId(running.getId()).build()).getStatus());
    long before = cpuNanos();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (cpuNanos() <= before) {
      assertTrue(System.nanoTime() < deadline, "the container used no CPU in 30 s");
      Thread.sleep(10);
    }
  }

  /** The CPU time of the container's cgroup: v1 cpuacct.usage, v2 cpu.stat's usage_usec. */
  private long cpuNanos() throws IOException {
    Path v1 = CGROUP.resolve("cpuacct").resolve(running.getCgroupPath()).resolve("cpuacct.usage");
    if (Files.exists(v1)) {
      return Long.parseLong(Files.readString(v1).trim());
    }
    return Files.readAllLines(CGROUP.resolve(running.getCgroupPath()).resolve("cpu.stat")).stream()
        .filter(l -> l.startsWith("usage_usec ")).mapToLong(l -> Long.parseLong(l.split(" ")[1]) * 1000)
        .findFirst().orElse(0);
  }
}
