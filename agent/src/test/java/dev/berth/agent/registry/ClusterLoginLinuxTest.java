package dev.berth.agent.registry;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
import dev.berth.proto.v1.RegistryCredential;
import dev.berth.proto.v1.StopJobRequest;
import dev.berth.proto.v1.SubmitJobRequest;
import dev.berth.proto.v1.SubmitJobResponse;
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
 * with it and runs. A wrong credential is refused and never kept. Then a job that brings its own
 * credential pulls with it, and a re-submit with the same credential is no new version. Both
 * credentials are kept sealed: the agent's whole data dir, its Raft log included, never holds the
 * password, nor does what the API shows of the job.
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
    // Unique, so that finding it anywhere means it was kept.
    String password = "s3cret-" + java.util.UUID.randomUUID();
    Files.writeString(file, TestRegistry.run(List.of(htpasswdTool.toString(), "-Bbn", "berth", password)).strip() + "\n");
    TestImages.Layout layout = TestImages.build(work.resolve("images"));
    try (TestRegistry registry = TestRegistry.start(work.resolve("registry"), file);
         AgentProcess agent = AgentProcess.startInHostNetwork()) {
      String image = registry.host() + "/team/busybox:1";
      TestImages.push(layout, "1", image, "--dest-creds", "berth:" + password);
      String own = registry.host() + "/team/own:1";
      TestImages.push(layout, "1", own, "--dest-creds", "berth:" + password);
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
          .setAuth(RegistryAuth.newBuilder().setUsername("berth").setPassword(password)).build());
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

      // No cluster login now: the job's own credential, sealed, is what pulls.
      // Kept only in the job's text, so only in the replicated state.
      String marker = "marker-" + java.util.UUID.randomUUID();
      SubmitJobRequest withCredential = SubmitJobRequest.newBuilder().setSource("own.yaml").setText("""
          # %s
          name: private
          groups:
            - name: private
              count: 1
              image: %s
              command: [sleep, "3600"]
              resources: {cpu: 10m, memory: 8m}
          """.formatted(marker, own)).addCredentials(RegistryCredential.newBuilder().setRegistry(registry.host())
              .setUsername("berth").setPassword(password)).build();
      SubmitJobResponse first = jobs.get().submit(withCredential);
      assertTrue(first.getChanged());
      await(120, () -> allocations(agent).stream().anyMatch(a -> a.getState() == AllocationState.ALLOCATION_RUNNING),
          "the job pulled with its own credential and running");
      SubmitJobResponse again = jobs.get().submit(withCredential);
      assertEquals(false, again.getChanged(), "the same credential, sealed again, is no new version");
      assertEquals(first.getVersion(), again.getVersion());
      assertFalse(jobs.get().status(JobRef.newBuilder().setName("private").build()).toString().contains(password),
          "job status shows the password");

      // The replicated state as the agent keeps it on disk: the job is there, the password is not.
      assertTrue(dataDirHolds(agent.dataDir(), marker), "the scan does not see the replicated job at all");
      assertFalse(dataDirHolds(agent.dataDir(), password), "the agent's data dir holds the password");
      assertFalse(agent.log().contains(password), "the agent logged the password");
      jobs.get().stop(StopJobRequest.newBuilder().setName("private").setPurge(true).build());
    }
  }

  /** Whether any file under {@code dir} holds {@code text} (UTF-8) as it is. */
  private static boolean dataDirHolds(Path dir, String text) throws java.io.IOException {
    byte[] needle = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    boolean[] found = new boolean[1];
    Files.walkFileTree(dir, new java.nio.file.SimpleFileVisitor<>() {
      @Override
      public java.nio.file.FileVisitResult visitFile(Path f, java.nio.file.attribute.BasicFileAttributes attrs) {
        if (!attrs.isRegularFile()) {
          return java.nio.file.FileVisitResult.CONTINUE;
        }
        try {
          found[0] = indexOf(Files.readAllBytes(f), needle) >= 0;
        } catch (java.io.IOException e) {
          // a file the agent removed meanwhile
        }
        return found[0] ? java.nio.file.FileVisitResult.TERMINATE : java.nio.file.FileVisitResult.CONTINUE;
      }

      @Override
      public java.nio.file.FileVisitResult visitFileFailed(Path f, java.io.IOException e) {
        return java.nio.file.FileVisitResult.CONTINUE;
      }
    });
    return found[0];
  }

  private static int indexOf(byte[] hay, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= hay.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (hay[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
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
