package dev.berth.agent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerSpec;
import dev.berth.proto.v1.CreateContainerRequest;
import dev.berth.proto.v1.ListVolumesRequest;
import dev.berth.proto.v1.Mount;
import dev.berth.proto.v1.RemoveContainerRequest;
import dev.berth.proto.v1.RemoveVolumeRequest;
import dev.berth.proto.v1.VolumeRef;
import dev.berth.proto.v1.VolumeServiceGrpc;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Volumes, bind mounts and tmpfs in real containers: data that outlives a container, or does not. */
@Tag("linux")
@Timeout(120)
class VolumeLinuxTest {
  static AgentProcess agent;
  @TempDir
  static Path host;

  @BeforeAll
  static void start() throws Exception {
    assumeTrue(Linux.isRoot(), "needs root for namespaces, cgroups and mounts");
    assumeTrue(BusyboxImage.available(), "needs Debian's busybox-static at /bin/busybox");
    agent = AgentProcess.start();
    agent.importBusybox("busybox");
  }

  @AfterAll
  static void stop() throws Exception {
    if (agent != null) {
      agent.close();
      assertTrue(agent.mounts().isEmpty(), "mounts left behind: " + agent.mounts());
    }
  }

  static VolumeServiceGrpc.VolumeServiceBlockingStub volumes() {
    return VolumeServiceGrpc.newBlockingStub(agent.channel());
  }

  static Mount volume(String name, String target) {
    return Mount.newBuilder().setType(Mount.Type.VOLUME).setSource(name).setTarget(target).build();
  }

  /** Runs to completion attached; returns the container (still there) and its output. */
  static Attached run(ContainerSpec.Builder spec) throws Exception {
    Container c = agent.containers().create(CreateContainerRequest.newBuilder().setSpec(spec.setImage("busybox")).build());
    Attached a = Attached.start(agent.containersAsync(), c.getId());
    a.await();
    last = c;
    return a;
  }

  static Container last;

  static void rm(Container c, boolean volumes) {
    agent.containers().remove(RemoveContainerRequest.newBuilder().setId(c.getId()).setForce(true).setVolumes(volumes).build());
  }

  @Test
  void namedVolumeDataOutlivesItsContainer() throws Exception {
    Attached writer = run(ContainerSpec.newBuilder().addAllCmd(List.of("sh", "-c", "echo kept > /db/row"))
        .addMounts(volume("pgdata", "/db")));
    assertEquals(0, writer.exitCode(), writer.stderr());
    Container first = last;
    StatusRuntimeException inUse = assertThrows(StatusRuntimeException.class,
        () -> volumes().remove(RemoveVolumeRequest.newBuilder().setName("pgdata").build()));
    assertEquals(Status.Code.FAILED_PRECONDITION, inUse.getStatus().getCode());
    assertTrue(volumes().inspect(VolumeRef.newBuilder().setName("pgdata").build()).getUsedByList().contains(first.getId()));
    rm(first, true); // -v removes anonymous volumes only

    Attached reader = run(ContainerSpec.newBuilder().addAllCmd(List.of("cat", "/db/row")).addMounts(volume("pgdata", "/db")));
    assertEquals("kept\n", reader.stdout());
    rm(last, false);
    volumes().remove(RemoveVolumeRequest.newBuilder().setName("pgdata").build());
    assertTrue(volumes().list(ListVolumesRequest.getDefaultInstance()).getVolumesList().stream()
        .noneMatch(v -> v.getName().equals("pgdata")));
  }

  @Test
  void anEmptyVolumeIsFilledWithTheImagesFilesUnlessNoCopy() throws Exception {
    Attached seeded = run(ContainerSpec.newBuilder().addAllCmd(List.of("sh", "-c", "cat /etc/passwd; echo added > /etc/mine"))
        .addMounts(volume("etcvol", "/etc")));
    assertTrue(seeded.stdout().startsWith("root:x:0:0:"), seeded.stdout() + seeded.stderr());
    rm(last, false);
    // Not empty any more: the next container sees what the first one left, not the image's again.
    Attached again = run(ContainerSpec.newBuilder().addAllCmd(List.of("cat", "/etc/mine")).addMounts(volume("etcvol", "/etc")));
    assertEquals("added\n", again.stdout());
    rm(last, false);
    volumes().remove(RemoveVolumeRequest.newBuilder().setName("etcvol").build());

    Attached bare = run(ContainerSpec.newBuilder().addAllCmd(List.of("ls", "-A", "/etc"))
        .addMounts(volume("bare", "/etc").toBuilder().setNoCopy(true)));
    // Only what the runtime itself binds into /etc (hostname, hosts, resolv.conf): nothing of the image.
    assertFalse(bare.stdout().contains("passwd"), bare.stdout());
    rm(last, false);
    volumes().remove(RemoveVolumeRequest.newBuilder().setName("bare").build());
  }

  @Test
  void dashVCreatesAMissingHostDirectoryButMountDoesNot() throws Exception {
    Path missing = host.resolve("made/by/run");
    Mount bind = Mount.newBuilder().setType(Mount.Type.BIND).setSource(missing.toString()).setTarget("/out").build();
    StatusRuntimeException refused = assertThrows(StatusRuntimeException.class, () -> run(ContainerSpec.newBuilder()
        .addCmd("true").addMounts(bind)));
    assertEquals(Status.Code.INVALID_ARGUMENT, refused.getStatus().getCode());
    assertFalse(Files.exists(missing));

    Attached a = run(ContainerSpec.newBuilder().addAllCmd(List.of("sh", "-c", "echo hi > /out/f"))
        .addMounts(bind.toBuilder().setCreateHostPath(true)));
    assertEquals(0, a.exitCode(), a.stderr());
    assertEquals("hi\n", Files.readString(missing.resolve("f")));
    rm(last, false);
  }

  @Test
  void anonymousVolumesGoWithRmV() throws Exception {
    run(ContainerSpec.newBuilder().addAllCmd(List.of("sh", "-c", "echo x > /scratch/f")).addMounts(volume("", "/scratch")));
    Container c = last;
    String name = c.getMountsList().get(0).getSource();
    assertEquals(64, name.length(), "a generated name");
    assertTrue(volumes().inspect(VolumeRef.newBuilder().setName(name).build()).getAnonymous());
    rm(c, true);
    assertThrows(StatusRuntimeException.class, () -> volumes().inspect(VolumeRef.newBuilder().setName(name).build()));

    run(ContainerSpec.newBuilder().addCmd("true").addMounts(volume("", "/scratch")));
    String kept = last.getMountsList().get(0).getSource();
    rm(last, false);
    assertEquals(kept, volumes().inspect(VolumeRef.newBuilder().setName(kept).build()).getName(), "kept without -v");
    volumes().remove(RemoveVolumeRequest.newBuilder().setName(kept).build());
  }

  @Test
  void bindMountsWriteThroughOrRefuseWhenReadOnly() throws Exception {
    Path dir = Files.createDirectories(host.resolve("shared"));
    Files.writeString(dir.resolve("in"), "from the host\n");
    Attached rw = run(ContainerSpec.newBuilder().addAllCmd(List.of("sh", "-c", "cat /mnt/in; echo back > /mnt/out"))
        .addMounts(Mount.newBuilder().setType(Mount.Type.BIND).setSource(dir.toString()).setTarget("/mnt")));
    assertEquals("from the host\n", rw.stdout());
    assertEquals("back\n", Files.readString(dir.resolve("out")));
    rm(last, false);

    Attached ro = run(ContainerSpec.newBuilder().addAllCmd(List.of("sh", "-c", "echo no > /mnt/denied"))
        .addMounts(Mount.newBuilder().setType(Mount.Type.BIND).setSource(dir.toString()).setTarget("/mnt").setReadOnly(true)));
    assertTrue(ro.exitCode() != 0 && ro.stderr().contains("Read-only file system"), ro.stderr());
    assertFalse(Files.exists(dir.resolve("denied")));
    rm(last, false);
  }

  @Test
  void tmpfsIsMemoryWithItsSize() throws Exception {
    Attached a = run(ContainerSpec.newBuilder().addAllCmd(List.of("sh", "-c", "grep ' /fast ' /proc/mounts"))
        .addMounts(Mount.newBuilder().setType(Mount.Type.TMPFS).setTarget("/fast").setTmpfsSizeBytes(8 << 20)));
    assertTrue(a.stdout().startsWith("tmpfs /fast tmpfs") && a.stdout().contains("size=8192k"), a.stdout());
    rm(last, false);
  }

  @Test
  void badMountsAreRefusedBeforeAnythingIsMade() {
    int before = volumes().list(ListVolumesRequest.getDefaultInstance()).getVolumesCount();
    for (Mount m : List.of(
        Mount.newBuilder().setType(Mount.Type.BIND).setSource("relative/path").setTarget("/x").build(),
        Mount.newBuilder().setType(Mount.Type.BIND).setSource("/no/such/berth/dir").setTarget("/x").build(),
        Mount.newBuilder().setType(Mount.Type.VOLUME).setTarget("not-absolute").build(),
        Mount.newBuilder().setType(Mount.Type.VOLUME).setSource("bad name!").setTarget("/x").build())) {
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> agent.containers().create(
          CreateContainerRequest.newBuilder().setSpec(ContainerSpec.newBuilder().setImage("busybox").addCmd("true")
              .addMounts(volume("", "/first")).addMounts(m)).build()));
      assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), m.toString());
    }
    assertEquals(before, volumes().list(ListVolumesRequest.getDefaultInstance()).getVolumesCount(),
        "the anonymous volume made before the bad mount is gone again");
  }
}
