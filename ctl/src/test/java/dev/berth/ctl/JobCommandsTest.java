package dev.berth.ctl;

import static dev.berth.ctl.FakeJobService.allocation;
import static dev.berth.ctl.FakeJobService.group;
import static dev.berth.ctl.FakeJobService.job;
import static dev.berth.ctl.FakeJobService.port;
import static dev.berth.proto.v1.AllocationState.ALLOCATION_FAILED;
import static dev.berth.proto.v1.AllocationState.ALLOCATION_PENDING;
import static dev.berth.proto.v1.AllocationState.ALLOCATION_RUNNING;
import static dev.berth.proto.v1.AllocationState.ALLOCATION_STOPPED;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.berth.proto.v1.GroupPlan;
import dev.berth.proto.v1.JobHistory;
import dev.berth.proto.v1.JobRef;
import dev.berth.proto.v1.JobSummary;
import dev.berth.proto.v1.JobVersionInfo;
import dev.berth.proto.v1.NodeVerdict;
import dev.berth.proto.v1.PlanJobRequest;
import dev.berth.proto.v1.PlanJobResponse;
import dev.berth.proto.v1.PlannedAllocation;
import dev.berth.proto.v1.PlannedStop;
import dev.berth.proto.v1.RegistryAuth;
import dev.berth.proto.v1.RegistryCredential;
import dev.berth.proto.v1.RollbackJobRequest;
import dev.berth.proto.v1.StopJobRequest;
import dev.berth.proto.v1.SubmitJobRequest;
import dev.berth.proto.v1.SubmitJobResponse;
import io.grpc.Status;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** job run, plan, status, ls and stop against an in-process JobService: the requests made and what the user sees. */
@Timeout(30)
class JobCommandsTest {
  private static final String WEB_YAML = """
      name: web
      groups:
        - name: web
          count: 2
          image: registry.example.com:5000/team/web:1.0
          ports: ["8080:80"]
        - name: sidecar
          image: nginx:1.25
      """;

  @TempDir
  Path dir;

  private CliRunner cli;
  private FakeJobService jobs;
  private Path file;

  @BeforeEach
  void start() throws Exception {
    cli = new CliRunner();
    jobs = new FakeJobService();
    cli.connector = jobs::connect;
    cli.env.put("BERTH_CONFIG", dir.resolve("config").toString());
    file = dir.resolve("web.yaml");
    Files.writeString(file, WEB_YAML);
  }

  @AfterEach
  void stop() throws Exception {
    jobs.close();
    cli.close();
  }

  @Test
  void runSubmitsTheFileAndPrintsEachChangeUntilEveryReplicaRuns() {
    jobs.statuses.add(job(3, group("web", 2, 1, 0, ""),
        allocation("a0", 0, "n1", ALLOCATION_PENDING, 3)).build());
    jobs.statuses.add(job(3, group("web", 2, 0, 1, ""),
        allocation("a0", 0, "n1", ALLOCATION_RUNNING, 3).addPorts(port("10.0.0.1", 8080, 80)),
        allocation("a1", 1, "n2", ALLOCATION_PENDING, 3).setMessage("pulling nginx:1.25")).build());
    jobs.statuses.add(job(3, group("web", 2, 0, 2, ""),
        allocation("a0", 0, "n1", ALLOCATION_RUNNING, 3).addPorts(port("10.0.0.1", 8080, 80)),
        allocation("a1", 1, "n2", ALLOCATION_RUNNING, 3).addPorts(port("10.0.0.2", 8080, 80))).build());

    CliRunner.Result r = cli.run("job", "run", "-f", file.toString());

    assertEquals(0, r.code(), r.out() + r.err());
    assertEquals("""
        Job "web" submitted: version 3, evaluation ev-1
        web[0] on n1: pending
        web[0] on n1: running (10.0.0.1:8080->80)
        web[1] on n2: pending: pulling nginx:1.25
        web[1] on n2: running (10.0.0.2:8080->80)
        Job "web" version 3: web 2/2 running
        """, r.out());
    assertEquals("", r.err());
    SubmitJobRequest sent = jobs.requests(SubmitJobRequest.class).get(0);
    assertEquals(file.toString(), sent.getSource());
    assertEquals(WEB_YAML, sent.getText());
    assertEquals(0, sent.getCredentialsCount());
    assertEquals(List.of(JobRef.newBuilder().setName("web").build()), jobs.requests(JobRef.class).subList(0, 1));
  }

  @Test
  void runTakesThePositionalFileAndStdin() {
    jobs.statuses.add(job(3, group("web", 1, 0, 1, ""), allocation("a0", 0, "n1", ALLOCATION_RUNNING, 3)).build());
    assertEquals(0, cli.run("job", "run", file.toString()).code());
    cli.stdin = new ByteArrayInputStream("name: web\n".getBytes(StandardCharsets.UTF_8));
    CliRunner.Result r = cli.run("job", "run", "-f", "-");
    assertEquals(0, r.code(), r.err());
    SubmitJobRequest sent = jobs.requests(SubmitJobRequest.class).get(1);
    assertEquals("<stdin>", sent.getSource());
    assertEquals("name: web\n", sent.getText());
  }

  @Test
  void detachPrintsTheSubmissionAndDoesNotPoll() {
    jobs.submitResponse = SubmitJobResponse.newBuilder().setJob("web").setVersion(7).setEvaluationId("ev-9").build();
    CliRunner.Result r = cli.run("job", "run", "--detach", "-f", file.toString());
    assertEquals(0, r.code(), r.err());
    assertEquals("Job \"web\" unchanged: version 7, evaluation ev-9\n", r.out());
    assertTrue(jobs.requests(JobRef.class).isEmpty());
  }

  @Test
  void aTimeoutPrintsWhatIsStillPendingAndWhy() {
    jobs.statuses.add(job(3, group("web", 2, 1, 1, "no node has 2 free cpus (3 nodes checked)"),
        allocation("a0", 0, "n1", ALLOCATION_RUNNING, 3)).build());

    long start = System.nanoTime();
    CliRunner.Result r = cli.run("job", "run", "--timeout", "300ms", "-f", file.toString());
    long tookMillis = (System.nanoTime() - start) / 1_000_000;

    assertEquals(1, r.code(), r.out());
    assertEquals("""
        Job "web" submitted: version 3, evaluation ev-1
        web[0] on n1: running
        web: 1 pending: no node has 2 free cpus (3 nodes checked)
        Not converged after 300ms:
        web: 1 of 2 running
          pending: no node has 2 free cpus (3 nodes checked)
        """, r.out());
    assertEquals("Error: job \"web\" did not converge within 300ms\n", r.err());
    assertTrue(tookMillis >= 300 && tookMillis < 5_000, tookMillis + " ms");
    assertTrue(jobs.requests(JobRef.class).size() >= 2, "polled again before giving up");
  }

  @Test
  void aFailedReplicaEndsTheRunWithItsMessage() {
    jobs.statuses.add(job(3, group("web", 2, 0, 1, ""),
        allocation("a0", 0, "n1", ALLOCATION_RUNNING, 3),
        allocation("a1", 1, "n2", ALLOCATION_PENDING, 3)).build());
    jobs.statuses.add(job(3, group("web", 2, 0, 1, ""),
        allocation("a0", 0, "n1", ALLOCATION_RUNNING, 3),
        allocation("a1", 1, "n2", ALLOCATION_FAILED, 3).setMessage("pull access denied for team/web")).build());

    CliRunner.Result r = cli.run("job", "run", "-f", file.toString());

    assertEquals(1, r.code());
    assertTrue(r.out().endsWith("web[1] on n2: failed: pull access denied for team/web\n"), r.out());
    assertEquals("Error: job \"web\": web[1] on n2 failed: pull access denied for team/web\n", r.err());
  }

  @Test
  void anUpdateWaitsForTheNewVersionsReplicas() {
    // version 2 runs both replicas; version 3's replace them one by one
    jobs.statuses.add(job(3, group("web", 2, 0, 2, ""),
        allocation("old0", 0, "n1", ALLOCATION_RUNNING, 2),
        allocation("old1", 1, "n2", ALLOCATION_RUNNING, 2)).build());
    jobs.statuses.add(job(3, group("web", 2, 0, 2, ""),
        allocation("old0", 0, "n1", ALLOCATION_STOPPED, 2).setDesiredRunning(false),
        allocation("new0", 0, "n1", ALLOCATION_RUNNING, 3).setGeneration(2),
        allocation("old1", 1, "n2", ALLOCATION_RUNNING, 2)).build());
    jobs.statuses.add(job(3, group("web", 2, 0, 2, ""),
        allocation("old0", 0, "n1", ALLOCATION_STOPPED, 2).setDesiredRunning(false),
        allocation("new0", 0, "n1", ALLOCATION_RUNNING, 3).setGeneration(2),
        allocation("old1", 1, "n2", ALLOCATION_STOPPED, 2).setDesiredRunning(false),
        allocation("new1", 1, "n2", ALLOCATION_RUNNING, 3).setGeneration(2)).build());

    CliRunner.Result r = cli.run("job", "run", "-f", file.toString());

    assertEquals(0, r.code(), r.out() + r.err());
    assertEquals("""
        Job "web" submitted: version 3, evaluation ev-1
        web[0] on n1: stopped
        web[0] on n1: running
        web[1] on n2: stopped
        web[1] on n2: running
        Job "web" version 3: web 2/2 running
        """, r.out());
    assertEquals(3, jobs.requests(JobRef.class).size());
  }

  @Test
  void registryAuthFlagsAreSentAndStoredCredentialsOnlyWhenAsked() throws Exception {
    Credentials stored = new Credentials(cli.env);
    stored.put("registry.example.com:5000", RegistryAuth.newBuilder().setUsername("team").setPassword("s3cret").build());
    stored.put("docker.io", RegistryAuth.newBuilder().setUsername("hub").setPassword("hubpw").build());
    stored.put("other.example.com", RegistryAuth.newBuilder().setUsername("x").setPassword("y").build());

    assertEquals(0, cli.run("job", "run", "-d", "--registry-auth", "ghcr.io=bob:pa:ss", file.toString()).code());
    assertEquals(List.of(credential("ghcr.io", "bob", "pa:ss")),
        jobs.requests(SubmitJobRequest.class).get(0).getCredentialsList());

    CliRunner.Result r = cli.run("job", "run", "-d", "--with-registry-auth", "--registry-auth", "docker.io=flag:wins", file.toString());
    assertEquals(0, r.code(), r.err());
    // the images' registries only: other.example.com is stored but not used by the job
    assertEquals(List.of(credential("docker.io", "flag", "wins"), credential("registry.example.com:5000", "team", "s3cret")),
        jobs.requests(SubmitJobRequest.class).get(1).getCredentialsList());
  }

  @Test
  void storedCredentialsAreFoundInAJsonJobFileToo() throws Exception {
    new Credentials(cli.env).put("docker.io", RegistryAuth.newBuilder().setUsername("hub").setPassword("pw").build());
    Path json = dir.resolve("web.json");
    // tab-indented JSON: not valid YAML, read as JSON
    Files.writeString(json, "{\n\t\"name\": \"web\",\n\t\"groups\": [{\"name\": \"web\", \"image\": \"nginx\"}]\n}\n");
    assertEquals(0, cli.run("job", "run", "-d", "--with-registry-auth", json.toString()).code());
    assertEquals(List.of(credential("docker.io", "hub", "pw")), jobs.requests(SubmitJobRequest.class).get(0).getCredentialsList());
  }

  private static RegistryCredential credential(String registry, String user, String password) {
    return RegistryCredential.newBuilder().setRegistry(registry).setUsername(user).setPassword(password).build();
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "--registry-auth ghcr.io                  | invalid --registry-auth \"ghcr.io\": expected REGISTRY=USER:PASSWORD",
      "--registry-auth ghcr.io=bob:             | invalid --registry-auth \"ghcr.io=bob:***\"",
      "--registry-auth =bob:pw                  | invalid --registry-auth \"=bob:***\"",
      "--timeout 0s                             | invalid duration \"0s\"",
      "--timeout soon                           | invalid duration \"soon\"",
  })
  void badFlagValuesAreRefusedBeforeAnyCall(String flags, String message) {
    String[] extra = flags.trim().split(" ");
    String[] args = new String[extra.length + 3];
    args[0] = "job";
    args[1] = "run";
    System.arraycopy(extra, 0, args, 2, extra.length);
    args[args.length - 1] = file.toString();
    CliRunner.Result r = cli.run(args);
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().startsWith("berth: " + message.trim()), r.err());
    assertTrue(r.err().contains("See 'berth job run --help'."), r.err());
    assertFalse(r.err().contains("pw"), "no password in the message: " + r.err());
    assertTrue(jobs.requests.isEmpty());
  }

  @Test
  void aMissingOrDoubleFileIsRefused() {
    CliRunner.Result missing = cli.run("job", "run", dir.resolve("nope.yaml").toString());
    assertEquals(1, missing.code());
    assertEquals("open " + dir.resolve("nope.yaml") + ": no such file or directory\n", missing.err());
    CliRunner.Result none = cli.run("job", "run");
    assertEquals(2, none.code());
    assertTrue(none.err().startsWith("berth: no job file: give -f FILE (- for stdin)"), none.err());
    CliRunner.Result both = cli.run("job", "run", "-f", "a.yaml", "b.yaml");
    assertEquals(2, both.code());
    assertTrue(jobs.requests.isEmpty());
  }

  @Test
  void theAgentsRefusalIsShownWithItsLocation() {
    jobs.refusal = Status.INVALID_ARGUMENT.withDescription(file + ":4:5: unknown key \"replicas\" in task group \"web\"").asRuntimeException();
    CliRunner.Result r = cli.run("job", "run", file.toString());
    assertEquals(1, r.code());
    assertEquals("", r.out());
    assertEquals("Error response from daemon: " + file + ":4:5: unknown key \"replicas\" in task group \"web\"\n", r.err());
  }

  @Test
  void aStartingClusterIsReportedAsSuch() {
    jobs.starting = true;
    CliRunner.Result r = cli.run("job", "ls");
    assertEquals(1, r.code());
    assertEquals("Error response from daemon: the cluster is still starting\n", r.err());
  }

  private static PlanJobResponse plan(boolean allPlaced) {
    GroupPlan.Builder g = GroupPlan.newBuilder().setGroup("web").setNodesChecked(4)
        .addPlacements(PlannedAllocation.newBuilder().setGroup("web").setIndex(0).setNode("n1").addPorts(port("10.0.0.1", 8080, 80)))
        .addPlacements(PlannedAllocation.newBuilder().setGroup("web").setIndex(1).setNode("n2"))
        .addStops(PlannedStop.newBuilder().setAllocationId("0123456789abcdef").setGroup("web").setIndex(3).setNode("n3")
            .setReason("count lowered to 3"))
        .addNodes(NodeVerdict.newBuilder().setNode("n1").setFeasible(true))
        .addNodes(NodeVerdict.newBuilder().setNode("n3").setFilter("resources").setReason("needs 2 cpus, 1 free"))
        .addNodes(NodeVerdict.newBuilder().setNode("n4").setFilter("constraints").setReason("label.zone == b: is a"));
    if (allPlaced) {
      g.setSummary("all replicas placed");
    } else {
      g.addUnplaced(2).setSummary("1 replica would stay pending: resources exhausted on 2 nodes");
    }
    return PlanJobResponse.newBuilder().setJob("web").addGroups(g).addWarnings("group \"web\" has no resources: defaults apply").build();
  }

  @Test
  void planShowsPlacementsStopsAndRejectedNodesAndExitsOneWhenSomeStayPending() {
    jobs.planResponse = plan(false);
    CliRunner.Result r = cli.run("job", "plan", "-f", file.toString());
    assertEquals(1, r.code(), r.err());
    assertEquals("""
        Job "web"
        Warning: group "web" has no resources: defaults apply

        Group "web"
        REPLICA   NODE      PORTS
        web[0]    n1        10.0.0.1:8080->80
        web[1]    n2        -
        web[2]    -         (stays pending)

        STOP      NODE      ID             REASON
        web[3]    n3        0123456789ab   count lowered to 3

        NOT CHOSEN   FILTER        REASON
        n3           resources     needs 2 cpus, 1 free
        n4           constraints   label.zone == b: is a

        Scheduler dry-run:
        - web: 1 replica would stay pending: resources exhausted on 2 nodes (4 nodes checked)
        """, r.out());
    PlanJobRequest sent = jobs.requests(PlanJobRequest.class).get(0);
    assertEquals(file.toString(), sent.getSource());
    assertEquals(WEB_YAML, sent.getText());
  }

  @Test
  void planExitsZeroWhenAllArePlacedAndPrintsJson() throws Exception {
    jobs.planResponse = plan(true);
    CliRunner.Result r = cli.run("job", "plan", "--format", "json", file.toString());
    assertEquals(0, r.code(), r.err());
    JsonNode json = new ObjectMapper().readTree(r.out());
    assertEquals("web", json.get("job").asText());
    JsonNode g = json.get("groups").get(0);
    assertEquals("n1", g.get("placements").get(0).get("node").asText());
    assertEquals(8080, g.get("placements").get(0).get("ports").get(0).get("hostPort").asInt());
    assertEquals("10.0.0.1", g.get("placements").get(0).get("ports").get(0).get("hostIp").asText());
    assertEquals(4, g.get("nodesChecked").asLong());
    assertTrue(g.get("nodesChecked").isNumber());
    assertEquals("resources", g.get("nodes").get(1).get("filter").asText());
    assertFalse(g.get("nodes").get(1).get("feasible").asBoolean());
    assertEquals(0, g.get("unplaced").size());
    assertEquals("count lowered to 3", g.get("stops").get(0).get("reason").asText());
  }

  @Test
  void planErrorsExit255() {
    jobs.refusal = Status.INVALID_ARGUMENT.withDescription("web.yaml:1:1: no \"name\"").asRuntimeException();
    CliRunner.Result r = cli.run("job", "plan", file.toString());
    assertEquals(255, r.code());
    assertEquals("Error response from daemon: web.yaml:1:1: no \"name\"\n", r.err());
    assertEquals(255, cli.run("job", "plan", dir.resolve("nope.yaml").toString()).code());
    assertEquals(2, cli.run("job", "plan", "--format", "yaml", file.toString()).code());
  }

  @Test
  void statusShowsTheJobItsGroupsAndAllocations() {
    jobs.known.add("web");
    jobs.statuses.add(job(3, group("web", 3, 1, 2, "no node has 2 free cpus"),
        allocation("0123456789abcdef0123", 0, "n1", ALLOCATION_RUNNING, 3)
            .addPorts(port("10.0.0.1", 8080, 80)).addPorts(port("10.0.0.1", 23456, 9100)),
        allocation("b1", 1, "n2", ALLOCATION_FAILED, 3).setDesiredRunning(false).setMessage("exit code 1"),
        allocation("b2", 1, "n3", ALLOCATION_RUNNING, 3).setGeneration(2).setHealthy(true)
            .setUpdatedAtUnixMillis(CliRunner.NOW.toEpochMilli() - 5_000),
        allocation("c1", 2, "n1", ALLOCATION_RUNNING, 2).setHealthy(true))
        .setDeployment("running").setStableVersion(2).build());

    CliRunner.Result r = cli.run("job", "status", "web");

    assertEquals(0, r.code(), r.err());
    assertEquals("""
        Name:       web
        Type:       service
        Priority:   50
        Version:    3
        Status:     running
        Submitted:  2024-05-01T11:58:00Z (2 minutes ago)
        Deployment: running
        Stable:     version 2

        GROUP     DESIRED   PENDING   RUNNING   COMPLETE   FAILED    LOST      PENDING REASON
        web       3         1         2         0          0         0         no node has 2 free cpus

        ID             REPLICA   NODE      VERSION   STATE     HEALTHY   DESIRED   PORTS                                     UPDATED              MESSAGE
        0123456789ab   web[0]    n1        3         running   no        run       10.0.0.1:8080->80, 10.0.0.1:23456->9100   About a minute ago
        b2             web[1]    n3        3         running   yes       run       -                                         5 seconds ago
        b1             web[1]    n2        3         failed    no        stop      -                                         About a minute ago   exit code 1
        c1             web[2]    n1        2         running   yes       run       -                                         About a minute ago
        """, r.out());
  }

  @Test
  void statusShowsAFailedRolloutWithItsMessageAndNoStableVersion() {
    jobs.known.add("web");
    jobs.statuses.add(job(2, group("web", 1, 0, 1, ""), allocation("a0", 0, "n1", ALLOCATION_FAILED, 2))
        .setDeployment("failed").setDeploymentMessage("web[0] failed on n1: exited with code 1").build());
    String out = cli.run("job", "status", "web").out();
    assertTrue(out.contains("Deployment: failed (web[0] failed on n1: exited with code 1)\nStable:     none yet\n"), out);
  }

  @Test
  void historyListsTheKeptVersionsNewestFirst() throws Exception {
    jobs.known.add("web");
    long now = CliRunner.NOW.toEpochMilli();
    jobs.history = JobHistory.newBuilder().setVersion(3)
        .addVersions(JobVersionInfo.newBuilder().setVersion(3).setCurrent(true).setSubmittedAtUnixMillis(now - 5_000)
            .setDeployment("running").setChanges("count web: 2 \u2192 3"))
        .addVersions(JobVersionInfo.newBuilder().setVersion(2).setSubmittedAtUnixMillis(now - 120_000)
            .setDeployment("failed").setDeploymentMessage("web[0] failed on n1: exited with code 1")
            .setChanges("image web: busybox \u2192 busybox:broken"))
        .addVersions(JobVersionInfo.newBuilder().setVersion(1).setStable(true).setSubmittedAtUnixMillis(now - 180_000)
            .setDeployment("successful").setChanges("first kept version").setText(WEB_YAML))
        .build();

    CliRunner.Result r = cli.run("job", "history", "web");

    assertEquals(0, r.code(), r.err());
    assertEquals("""
        VERSION       SUBMITTED       STABLE    ROLLOUT      CHANGES                               MESSAGE
        3 (current)   5 seconds ago   no        running      count web: 2 \u2192 3
        2             2 minutes ago   no        failed       image web: busybox \u2192 busybox:broken   web[0] failed on n1: exited with code 1
        1             3 minutes ago   yes       successful   first kept version
        """, r.out());
    assertEquals(List.of(JobRef.newBuilder().setName("web").build()), jobs.requests(JobRef.class));

    JsonNode json = new ObjectMapper().readTree(cli.run("job", "history", "--format", "json", "web").out());
    assertEquals(3, json.get("versions").size());
    assertEquals(WEB_YAML, json.get("versions").get(2).get("text").asText());
    assertEquals(1, cli.run("job", "history", "nope").code());
  }

  @Test
  void rollbackSendsTheVersionAndSaysWhatItBecame() {
    jobs.known.add("web");
    CliRunner.Result r = cli.run("job", "rollback", "--version", "2", "web");
    assertEquals(0, r.code(), r.err());
    assertEquals("Job \"web\" rolled back to version 2: now version 5 (evaluation ev-012345678)\n", r.out());
    assertEquals(List.of(RollbackJobRequest.newBuilder().setName("web").setVersion(2).build()),
        jobs.requests(RollbackJobRequest.class));

    CliRunner.Result none = cli.run("job", "rollback", "web");
    assertEquals(1, none.code());
    assertEquals("Error response from daemon: job web has no stable version older than its current version 4 to roll"
        + " back to (versions kept: 1..4); name one with --version\n", none.err());
    assertEquals(2, cli.run("job", "rollback", "--version", "-1", "web").code());
    assertEquals(2, cli.run("job", "rollback", "--version", "two", "web").code());
  }

  @Test
  void statusAsJsonIsTheAgentsAnswer() throws Exception {
    jobs.known.add("web");
    jobs.statuses.add(job(3, group("web", 1, 0, 1, ""), allocation("a0", 0, "n1", ALLOCATION_RUNNING, 3)).setSource(WEB_YAML).build());
    CliRunner.Result r = cli.run("job", "status", "--format", "json", "web");
    assertEquals(0, r.code(), r.err());
    JsonNode json = new ObjectMapper().readTree(r.out());
    assertEquals("web", json.get("name").asText());
    assertEquals(3, json.get("version").asLong());
    assertEquals("ALLOCATION_RUNNING", json.get("allocations").get(0).get("state").asText());
    assertTrue(json.get("allocations").get(0).get("desiredRunning").asBoolean());
    assertEquals(WEB_YAML, json.get("source").asText());
    assertEquals(1, json.get("groups").get(0).get("desired").asInt());
  }

  @Test
  void statusOfAnUnknownJobIsAnError() {
    CliRunner.Result r = cli.run("job", "status", "nope");
    assertEquals(1, r.code());
    assertEquals("Error response from daemon: job \"nope\" not found\n", r.err());
  }

  @Test
  void lsListsJobsAsTableOrJsonLines() throws Exception {
    jobs.jobs.add(JobSummary.newBuilder().setName("web").setType("service").setPriority(50).setStatus("running")
        .setDesired(3).setRunning(2).setVersion(3).setSubmittedAtUnixMillis(CliRunner.NOW.toEpochMilli() - 180_000).build());
    jobs.jobs.add(JobSummary.newBuilder().setName("etl").setType("batch").setPriority(70).setStatus("complete")
        .setDesired(1).setVersion(1).build());
    CliRunner.Result r = cli.run("job", "ls");
    assertEquals(0, r.code(), r.err());
    assertEquals("""
        NAME      TYPE      PRIORITY   STATUS     RUNNING/DESIRED   VERSION   SUBMITTED
        web       service   50         running    2/3               3         3 minutes ago
        etl       batch     70         complete   0/1               1         -
        """, r.out());
    CliRunner.Result json = cli.run("job", "ls", "--format", "json");
    String[] lines = json.out().split("\n");
    assertEquals(2, lines.length);
    JsonNode first = new ObjectMapper().readTree(lines[0]);
    assertEquals("web", first.get("name").asText());
    assertEquals(2, first.get("running").asInt());
    assertEquals(CliRunner.NOW.toEpochMilli() - 180_000, first.get("submittedAtUnixMillis").asLong());
  }

  @Test
  void stopSendsPurgeAndReportsEachJob() {
    jobs.known.add("web");
    CliRunner.Result r = cli.run("job", "stop", "--purge", "web", "nope");
    assertEquals(1, r.code());
    assertEquals("Job \"web\" stopped: version 4; purged once its allocations have stopped\n", r.out());
    assertEquals("Error response from daemon: job \"nope\" not found\n", r.err());
    assertEquals(List.of(StopJobRequest.newBuilder().setName("web").setPurge(true).build(),
        StopJobRequest.newBuilder().setName("nope").setPurge(true).build()), jobs.requests(StopJobRequest.class));
    CliRunner.Result plain = cli.run("job", "stop", "web");
    assertEquals(0, plain.code());
    assertEquals("Job \"web\" stopped: version 4\n", plain.out());
    assertFalse(jobs.requests(StopJobRequest.class).get(2).getPurge());
  }

  @Test
  void helpListsTheCommandsAndThePlanExitCodes() {
    assertTrue(cli.run("--help").out().contains("job"));
    String help = cli.run("job", "--help").out();
    for (String c : List.of("run", "plan", "status", "ls", "stop")) {
      assertTrue(help.contains("  " + c), help);
    }
    String plan = cli.run("job", "plan", "--help").out();
    assertTrue(plan.contains("0 every replica would be placed; 1 some would stay pending;"), plan);
  }
}
