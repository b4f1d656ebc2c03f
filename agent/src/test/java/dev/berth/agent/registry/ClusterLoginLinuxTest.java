package dev.berth.agent.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.agent.it.AgentProcess;
import dev.berth.agent.it.Linux;
import dev.berth.proto.v1.AllocationInfo;
import dev.berth.proto.v1.AllocationState;
import dev.berth.proto.v1.ImageServiceGrpc;
import dev.berth.proto.v1.JobRef;
import dev.berth.proto.v1.JobServiceGrpc;
import dev.berth.proto.v1.LoginRequest;
import dev.berth.proto.v1.LogoutRequest;
import dev.berth.proto.v1.RegistryAuth;
import dev.berth.proto.v1.StopJobRequest;
import dev.berth.proto.v1.SubmitJobRequest;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A job whose image lives in a registry that wants basic auth: its allocation fails to pull
 * until {@code berth login --cluster} gives the cluster a credential, then the replacement pulls
 * with it and runs. A wrong credential is refused and never kept.
 */
@Tag("linux")
@Tag("registry")
@Timeout(240)
class ClusterLoginLinuxTest {
  @TempDir
  Path work;

  @Test
  void aJobPullsWithTheClustersLogin() throws Exception {
    assumeTrue(Linux.isRoot(), "needs root for namespaces, cgroups and mounts");
    TestImages.assumeTools();
    Path htpasswdTool = Path.of("/usr/bin/htpasswd");
    assumeTrue(Files.isExecutable(htpasswdTool), "needs htpasswd (apache2-utils) for the registry's password file");
    Path file = work.resolve("htpasswd");
    Files.writeString(file, TestRegistry.run(List.of(htpasswdTool.toString(), "-Bbn", "berth", "s3cret")).strip() + "\n");
    TestImages.Layout layout = TestImages.build(work.resolve("images"));
    try (TestRegistry registry = TestRegistry.start(work.resolve("registry"), file);
         AgentProcess agent = AgentProcess.startInHostNetwork()) {
      String image = registry.host() + "/team/busybox:1";
      TestImages.push(layout, "1", image, "--dest-creds", "berth:s3cret");
      // A stub's deadline is absolute: one per call.
      java.util.function.Supplier<JobServiceGrpc.JobServiceBlockingStub> jobs =
          () -> JobServiceGrpc.newBlockingStub(agent.channel()).withDeadlineAfter(30, TimeUnit.SECONDS);
      java.util.function.Supplier<ImageServiceGrpc.ImageServiceBlockingStub> images =
          () -> ImageServiceGrpc.newBlockingStub(agent.channel()).withDeadlineAfter(30, TimeUnit.SECONDS);
      await(60, () -> {
        try {
          jobs.get().submit(SubmitJobRequest.newBuilder().setSource("private.yaml").setText("""
              name: private
              groups:
                - name: private
                  count: 1
                  image: %s
                  command: [sleep, "3600"]
                  resources: {cpu: 10m, memory: 8m}
              """.formatted(image)).build());
          return true;
        } catch (StatusRuntimeException e) {
          return false; // the cluster is still starting
        }
      }, "the job submitted");
      await(90, () -> allocations(agent).stream().anyMatch(a -> a.getState() == AllocationState.ALLOCATION_FAILED
          && a.getMessage().contains("unauthorized")), "the anonymous pull refused");

      StatusRuntimeException wrong = assertThrows(StatusRuntimeException.class, () -> images.get().login(LoginRequest.newBuilder()
          .setServer(registry.host()).setCluster(true)
          .setAuth(RegistryAuth.newBuilder().setUsername("berth").setPassword("wrong")).build()));
      assertTrue(wrong.getStatus().getDescription().contains("unauthorized"), wrong.toString());
      assertEquals(false, images.get().logout(LogoutRequest.newBuilder().setServer(registry.host()).setCluster(true).build())
          .getRemoved(), "a refused credential is never kept");

      images.get().login(LoginRequest.newBuilder().setServer(registry.host()).setCluster(true)
          .setAuth(RegistryAuth.newBuilder().setUsername("berth").setPassword("s3cret")).build());
      await(120, () -> allocations(agent).stream().anyMatch(a -> a.getState() == AllocationState.ALLOCATION_RUNNING),
          "a replacement pulled with the cluster's login and running");

      jobs.get().stop(StopJobRequest.newBuilder().setName("private").setPurge(true).build());
      assertTrue(images.get().logout(LogoutRequest.newBuilder().setServer(registry.host()).setCluster(true).build())
          .getRemoved());
      await(60, () -> {
        try {
          allocations(agent);
          return false;
        } catch (StatusRuntimeException e) {
          return true; // purged
        }
      }, "the job purged");
    }
  }

  private static List<AllocationInfo> allocations(AgentProcess agent) {
    return JobServiceGrpc.newBlockingStub(agent.channel()).withDeadlineAfter(30, TimeUnit.SECONDS)
        .status(JobRef.newBuilder().setName("private").build()).getAllocationsList();
  }

  private static void await(long seconds, BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (!condition.getAsBoolean()) {
      assertTrue(System.nanoTime() < deadline, "not within " + seconds + " s: " + what);
      Thread.sleep(250);
    }
  }
}
