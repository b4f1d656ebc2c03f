package dev.berth.agent.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.agent.it.AgentProcess;
import dev.berth.agent.it.Attached;
import dev.berth.agent.it.Linux;
import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerSpec;
import dev.berth.proto.v1.CreateContainerRequest;
import dev.berth.proto.v1.ImageServiceGrpc;
import dev.berth.proto.v1.LayerState;
import dev.berth.proto.v1.PullProgress;
import dev.berth.proto.v1.PullRequest;
import dev.berth.proto.v1.RemoveContainerRequest;
import dev.berth.proto.v1.ArchiveFormat;
import dev.berth.proto.v1.LoadChunk;
import dev.berth.proto.v1.LoadResponse;
import dev.berth.proto.v1.PushProgress;
import dev.berth.proto.v1.PushRequest;
import dev.berth.proto.v1.PushState;
import dev.berth.proto.v1.RemoveImageRequest;
import dev.berth.proto.v1.SaveRequest;
import dev.berth.proto.v1.TagRequest;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The seed's `docker run` of an image that lives in a registry: berthd pulls it from a real
 * docker-registry, and the container runs with the image's config applied.
 */
@Tag("linux")
@Tag("registry")
@Timeout(180)
class PullAndRunLinuxTest {
  @TempDir
  static Path work;
  static TestRegistry registry;
  static AgentProcess agent;
  static String image;

  @BeforeAll
  static void setUp() throws Exception {
    assumeTrue(Linux.isRoot(), "needs root for namespaces, cgroups and mounts");
    TestImages.assumeTools();
    TestImages.Layout layout = TestImages.build(work.resolve("images"));
    // The image config as an image author sets it: entrypoint, env, working dir.
    TestRegistry.run(List.of(TestImages.UMOCI.toString(), "config", "--image", layout.dir() + ":1", "--tag", "cfg",
        "--config.entrypoint", "/bin/sh", "--config.cmd", "-c", "--config.cmd", "echo default",
        "--config.env", "GREETING=from the image", "--config.workingdir", "/etc", "--config.volume", "/data"));
    registry = TestRegistry.start(work.resolve("registry"), null);
    image = registry.host() + "/team/busybox:cfg";
    TestImages.push(layout, "cfg", image);
    agent = AgentProcess.startInHostNetwork();
  }

  @AfterAll
  static void tearDown() throws Exception {
    if (agent != null) {
      agent.close();
    }
    if (registry != null) {
      registry.close();
    }
  }

  static List<PullProgress> pull(String reference) {
    List<PullProgress> events = new ArrayList<>();
    ImageServiceGrpc.newBlockingStub(agent.channel()).withDeadlineAfter(120, TimeUnit.SECONDS)
        .pull(PullRequest.newBuilder().setReference(reference).build()).forEachRemaining(events::add);
    return events;
  }

  @Test
  void tagPushSaveAndLoadGoThroughTheApi() throws Exception {
    pull(image);
    ImageServiceGrpc.ImageServiceBlockingStub images = ImageServiceGrpc.newBlockingStub(agent.channel())
        .withDeadlineAfter(120, TimeUnit.SECONDS);
    String copy = registry.host() + "/other/busybox:copy";
    images.tag(TagRequest.newBuilder().setSource(image).setTarget(copy).build());
    List<PushProgress> pushed = new ArrayList<>();
    images.push(PushRequest.newBuilder().setReference(copy).build()).forEachRemaining(pushed::add);
    assertTrue(pushed.get(pushed.size() - 1).getDigest().startsWith("sha256:"), pushed.toString());
    assertTrue(pushed.stream().anyMatch(p -> p.hasLayer() && p.getLayer().getState() == PushState.MOUNTED), pushed.toString());

    java.io.ByteArrayOutputStream archive = new java.io.ByteArrayOutputStream();
    images.save(SaveRequest.newBuilder().addReferences(copy).setFormat(ArchiveFormat.DOCKER_ARCHIVE).build())
        .forEachRemaining(c -> archive.writeBytes(c.getData().toByteArray()));
    images.remove(RemoveImageRequest.newBuilder().setReference(copy).build());

    java.util.concurrent.CompletableFuture<LoadResponse> loaded = new java.util.concurrent.CompletableFuture<>();
    io.grpc.stub.StreamObserver<LoadChunk> in = ImageServiceGrpc.newStub(agent.channel()).load(new io.grpc.stub.StreamObserver<>() {
      @Override
      public void onNext(LoadResponse r) {
        loaded.complete(r);
      }

      @Override
      public void onError(Throwable t) {
        loaded.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {}
    });
    byte[] bytes = archive.toByteArray();
    for (int off = 0; off < bytes.length; off += 1 << 16) {
      in.onNext(LoadChunk.newBuilder().setData(com.google.protobuf.ByteString.copyFrom(bytes, off,
          Math.min(1 << 16, bytes.length - off))).build());
    }
    in.onCompleted();
    assertTrue(loaded.get(60, TimeUnit.SECONDS).getImages(0).getRepoTagsList().contains(copy));

    Container c = agent.containers().create(CreateContainerRequest.newBuilder().setSpec(ContainerSpec.newBuilder()
        .setImage(copy).addCmd("-c").addCmd("echo loaded")).build());
    Attached a = Attached.start(agent.containersAsync(), c.getId());
    assertEquals(0, a.exitCode(), a.stdout() + a.stderr());
    assertEquals("loaded\n", a.stdout());
    agent.containers().remove(RemoveContainerRequest.newBuilder().setId(c.getId()).setForce(true).build());
  }

  @Test
  void aCommittedContainerRunsUnchangedOnAnotherHost() throws Exception {
    pull(image);
    // Configure a container: a new file, a file of the image deleted, a changed one.
    Container c = agent.containers().create(CreateContainerRequest.newBuilder().setSpec(ContainerSpec.newBuilder()
        .setImage(image).addCmd("-c").addCmd("echo configured > /etc/app.conf; rm /etc/passwd; echo changed > /etc/group")
        .addEnv("MODE=prod")).build());
    assertEquals(0, Attached.start(agent.containersAsync(), c.getId()).exitCode());
    String committed = registry.host() + "/team/configured:1";
    ImageServiceGrpc.ImageServiceBlockingStub images = ImageServiceGrpc.newBlockingStub(agent.channel())
        .withDeadlineAfter(120, TimeUnit.SECONDS);
    dev.berth.proto.v1.Image img = images.commit(dev.berth.proto.v1.CommitRequest.newBuilder().setContainer(c.getId())
        .setReference(committed).build());
    assertEquals(3, img.getLayersCount(), "the image's two layers and the container's");
    images.push(PushRequest.newBuilder().setReference(committed).build()).forEachRemaining(p -> { });
    agent.containers().remove(RemoveContainerRequest.newBuilder().setId(c.getId()).setForce(true).build());

    // Another host pulls it and runs it with no further configuration.
    try (AgentProcess other = AgentProcess.startInHostNetwork()) {
      ImageServiceGrpc.newBlockingStub(other.channel()).withDeadlineAfter(120, TimeUnit.SECONDS)
          .pull(PullRequest.newBuilder().setReference(committed).build()).forEachRemaining(p -> { });
      Container run = other.containers().create(CreateContainerRequest.newBuilder().setSpec(ContainerSpec.newBuilder()
          .setImage(committed)).build());
      Attached a = Attached.start(other.containersAsync(), run.getId());
      // Its command, as committed, runs again: rm finds nothing to delete, the rest succeeds.
      assertEquals(0, a.exitCode(), a.stdout() + a.stderr());
      assertTrue(a.stderr().contains("/etc/passwd"), a.stderr());
      Container check = other.containers().create(CreateContainerRequest.newBuilder().setSpec(ContainerSpec.newBuilder()
          .setImage(committed).addCmd("-c").addCmd("cat /etc/app.conf /etc/group; ls /etc/passwd 2>&1; echo $MODE")).build());
      Attached b = Attached.start(other.containersAsync(), check.getId());
      b.await();
      assertEquals("configured\nchanged\nls: /etc/passwd: No such file or directory\nprod\n", b.stdout() + b.stderr());
    }
  }

  @Test
  void pullsFromTheRegistryAndRunsWithTheImageConfig() throws Exception {
    List<PullProgress> first = pull(image);
    PullProgress last = first.get(first.size() - 1);
    assertTrue(last.hasImage(), "the last event is the image: " + last);
    assertTrue(last.getImage().getRepoTagsList().contains(image), last.getImage().getRepoTagsList().toString());
    assertTrue(first.stream().anyMatch(e -> e.hasLayer() && e.getLayer().getState() == LayerState.DONE), first.toString());

    // The entrypoint, env and working dir come from the image; the command from the user.
    Container c = agent.containers().create(CreateContainerRequest.newBuilder().setSpec(ContainerSpec.newBuilder()
        .setImage(image).addCmd("-c").addCmd("echo \"$GREETING\"; pwd; cat /" + TestImages.GONE + " 2>&1 || echo gone")).build());
    Attached a = Attached.start(agent.containersAsync(), c.getId());
    assertEquals(0, a.exitCode(), a.stdout() + a.stderr());
    assertEquals("from the image\n/etc\ngone\n", a.stdout().replaceAll("cat: .*\n", ""));
    // The image's VOLUME gets an anonymous volume, as with docker run.
    assertEquals(1, c.getMountsCount(), c.getMountsList().toString());
    assertEquals("/data", c.getMounts(0).getTarget());
    assertEquals(64, c.getMounts(0).getSource().length());
    agent.containers().remove(RemoveContainerRequest.newBuilder().setId(c.getId()).setForce(true).setVolumes(true).build());

    // Everything is there now: a second pull downloads nothing.
    List<PullProgress> again = pull(image);
    assertTrue(again.stream().filter(PullProgress::hasLayer)
        .noneMatch(e -> e.getLayer().getState() == LayerState.DOWNLOADING), again.toString());
    assertEquals(2, again.stream().filter(e -> e.hasLayer() && e.getLayer().getState() == LayerState.ALREADY_EXISTS).count(),
        again.toString());
  }
}
