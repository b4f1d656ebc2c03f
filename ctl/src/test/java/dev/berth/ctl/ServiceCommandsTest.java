package dev.berth.ctl;

import static dev.berth.ctl.FakeJobService.allocation;
import static dev.berth.ctl.FakeJobService.group;
import static dev.berth.ctl.FakeJobService.job;
import static dev.berth.ctl.FakeJobService.port;
import static dev.berth.proto.v1.AllocationState.ALLOCATION_PENDING;
import static dev.berth.proto.v1.AllocationState.ALLOCATION_RUNNING;
import static dev.berth.proto.v1.AllocationState.ALLOCATION_STOPPED;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.berth.proto.v1.JobSummary;
import dev.berth.proto.v1.RegistryAuth;
import dev.berth.proto.v1.RegistryCredential;
import dev.berth.proto.v1.ScaleJobRequest;
import dev.berth.proto.v1.StopJobRequest;
import dev.berth.proto.v1.SubmitJobRequest;
import dev.berth.proto.v1.SubmitJobResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** service create, scale, inspect, ls and rm: the job file written, the requests made and what the user sees. */
@Timeout(30)
class ServiceCommandsTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  Path dir;

  private CliRunner cli;
  private FakeJobService jobs;

  @BeforeEach
  void start() throws Exception {
    cli = new CliRunner();
    jobs = new FakeJobService();
    cli.connector = jobs::connect;
    cli.env.put("BERTH_CONFIG", dir.resolve("config").toString());
  }

  @AfterEach
  void stop() throws Exception {
    jobs.close();
    cli.close();
  }

  private JsonNode sentJob(int i) throws Exception {
    return JSON.readTree(jobs.requests(SubmitJobRequest.class).get(i).getText());
  }

  @Test
  void createWritesAServiceJobFileFromTheFlags() throws Exception {
    cli.env.put("FROM_CLIENT", "here");
    CliRunner.Result r = cli.run("service", "create", "--detach", "--name", "web", "--replicas", "3",
        "-p", "8080:80", "-p", "9100", "-p", "7000-7001:70-71/tcp", "-e", "MODE=prod", "-e", "FROM_CLIENT", "-e", "UNSET",
        "--cpus", "0.5", "--memory", "512m",
        "--constraint", "label.zone==a", "--constraint", "node.labels.disk == ssd", "--constraint", "node.hostname!=n3",
        "nginx:1.25", "nginx", "-g", "daemon off;");

    assertEquals(0, r.code(), r.err());
    assertEquals("Job \"web\" submitted: version 3, evaluation ev-1\n", r.out());
    SubmitJobRequest sent = jobs.requests(SubmitJobRequest.class).get(0);
    assertEquals("service web", sent.getSource());
    assertEquals(0, sent.getCredentialsCount());
    assertEquals(JSON.readTree("""
        {"name": "web", "type": "service", "groups": [{
          "name": "web", "count": 3, "image": "nginx:1.25", "command": ["nginx", "-g", "daemon off;"],
          "env": {"MODE": "prod", "FROM_CLIENT": "here"},
          "resources": {"cpu": 0.5, "memory": "512m"},
          "ports": ["8080:80", 9100, "7000:70", "7001:71"],
          "constraints": [
            {"attribute": "label.zone", "operator": "==", "value": "a"},
            {"attribute": "label.disk", "operator": "==", "value": "ssd"},
            {"attribute": "node.name", "operator": "!=", "value": "n3"}]
        }]}"""), sentJob(0));
    // one key per line: the agent's "service web:LINE:COLUMN" errors point somewhere readable
    assertTrue(sent.getText().contains("\n    \"name\": \"web\""), sent.getText());
  }

  @Test
  void createLeavesOutWhatIsNotGivenAndGlobalIsASystemJob() throws Exception {
    assertEquals(0, cli.run("service", "create", "-d", "--name", "web", "nginx").code());
    assertEquals(JSON.readTree("""
        {"name": "web", "type": "service", "groups": [{"name": "web", "count": 1, "image": "nginx"}]}"""), sentJob(0));
    assertEquals(0, cli.run("service", "create", "-d", "--mode", "global", "--name", "agent", "busybox", "sh", "-c", "sleep 1d").code());
    assertEquals(JSON.readTree("""
        {"name": "agent", "type": "system", "groups": [{"name": "agent", "image": "busybox", "command": ["sh", "-c", "sleep 1d"]}]}"""),
        sentJob(1));
  }

  @Test
  void createFollowsTheReplicasAndShowsWhereTheyListen() {
    jobs.statuses.add(job(3, group("web", 2, 0, 0, ""),
        allocation("a0", 0, "n1", ALLOCATION_PENDING, 3), allocation("a1", 1, "n2", ALLOCATION_PENDING, 3)).build());
    jobs.statuses.add(job(3, group("web", 2, 0, 2, ""),
        allocation("a0", 0, "n1", ALLOCATION_RUNNING, 3).addPorts(port("10.213.0.1", 8080, 80)),
        allocation("a1", 1, "n2", ALLOCATION_RUNNING, 3).addPorts(port("10.213.0.2", 8080, 80))).build());

    CliRunner.Result r = cli.run("service", "create", "--name", "web", "--replicas", "2", "-p", "8080:80", "nginx");

    assertEquals(0, r.code(), r.err());
    assertEquals("""
        Job "web" submitted: version 3, evaluation ev-1
        web[0] on n1: pending
        web[1] on n2: pending
        web[0] on n1: running (10.213.0.1:8080->80)
        web[1] on n2: running (10.213.0.2:8080->80)
        Job "web" version 3: web 2/2 running
        """, r.out());
  }

  @Test
  void createSendsTheStoredCredentialsOfItsImagesRegistryOnlyWhenAsked() throws Exception {
    new Credentials(cli.env).put("registry.example.com", RegistryAuth.newBuilder().setUsername("team").setPassword("pw").build());
    assertEquals(0, cli.run("service", "create", "-d", "--name", "app", "registry.example.com/team/app:1").code());
    assertEquals(0, jobs.requests(SubmitJobRequest.class).get(0).getCredentialsCount());
    assertEquals(0, cli.run("service", "create", "-d", "--with-registry-auth", "--name", "app", "registry.example.com/team/app:1").code());
    assertEquals(List.of(RegistryCredential.newBuilder().setRegistry("registry.example.com").setUsername("team").setPassword("pw").build()),
        jobs.requests(SubmitJobRequest.class).get(1).getCredentialsList());
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "--replicas -1                       | invalid --replicas -1: 0 or more",
      "--replicas 2 --mode global          | --replicas cannot be used with --mode global",
      "--mode spread                       | invalid --mode \"spread\": replicated or global",
      "-p 127.0.0.1:8080:80                | a service publishes on its nodes' addresses; leave out the IP",
      "-p 53:53/udp                        | job files publish TCP ports only",
      "-p 80:http                          | invalid -p/--publish \"80:http\"",
      "--cpus 0                            | invalid --cpus \"0\"",
      "--cpus 0.0005                       | invalid --cpus \"0.0005\"",
      "--cpus lots                         | invalid --cpus \"lots\"",
      "--memory plenty                     | invalid --memory \"plenty\"",
      "--constraint label.zone             | invalid --constraint \"label.zone\": expected ATTRIBUTE==VALUE or ATTRIBUTE!=VALUE",
      "--constraint ==a                    | invalid --constraint \"==a\"",
      "-e =x                               | invalid environment variable \"=x\"",
      "--timeout forever                   | invalid duration \"forever\"",
  })
  void badFlagValuesAreRefusedBeforeAnyCall(String flags, String message) {
    List<String> args = new ArrayList<>(List.of("service", "create", "--name", "web"));
    args.addAll(List.of(flags.trim().split(" +")));
    args.add("nginx");
    CliRunner.Result r = cli.run(args.toArray(String[]::new));
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().startsWith("berth: "), r.err());
    assertTrue(r.err().contains(message.trim()), r.err());
    assertTrue(r.err().contains("See 'berth service create --help'."), r.err());
    assertTrue(jobs.requests.isEmpty());
  }

  @Test
  void createNeedsAValidNameAndAnImage() {
    CliRunner.Result noName = cli.run("service", "create", "nginx");
    assertEquals(2, noName.code());
    assertTrue(noName.err().contains("--name"), noName.err());
    CliRunner.Result badName = cli.run("service", "create", "--name", "my web", "nginx");
    assertEquals(2, badName.code());
    assertTrue(badName.err().contains("invalid service name \"my web\""), badName.err());
    assertEquals(2, cli.run("service", "create", "--name", "web").code());
    assertTrue(jobs.requests.isEmpty());
  }

  @Test
  void scaleSetsEachCountAndGoesOnAfterAFailure() {
    jobs.known.add("web");
    jobs.known.add("api");
    CliRunner.Result r = cli.run("service", "scale", "web=5", "nope=1", "api=0");
    assertEquals(1, r.code());
    assertEquals("web scaled to 5\napi scaled to 0\n", r.out());
    assertEquals("Error response from daemon: job \"nope\" not found\n", r.err());
    assertEquals(List.of(ScaleJobRequest.newBuilder().setName("web").setCount(5).build(),
        ScaleJobRequest.newBuilder().setName("nope").setCount(1).build(),
        ScaleJobRequest.newBuilder().setName("api").setCount(0).build()), jobs.requests(ScaleJobRequest.class));
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "web           | invalid scale specifier \"web\": expected SERVICE=REPLICAS",
      "=3            | invalid scale specifier \"=3\"",
      "web=x         | invalid replicas value \"x\" for service web",
      "web=-1        | invalid replicas value \"-1\" for service web",
      "web=          | invalid replicas value \"\" for service web",
  })
  void scaleRefusesABadSpecifierBeforeAnyCall(String spec, String message) {
    jobs.known.add("api");
    CliRunner.Result r = cli.run("service", "scale", "api=2", spec.trim());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().startsWith("berth: " + message.trim()), r.err());
    assertTrue(jobs.requests.isEmpty(), "api=2 was not sent either");
  }

  @Test
  void inspectListsEachReplicasEndpoints() {
    jobs.known.add("web");
    jobs.statuses.add(job(3, group("web", 3, 1, 2, "no node has 2 free cpus"),
        allocation("a1", 1, "n3", ALLOCATION_RUNNING, 3).addPorts(port("10.213.0.3", 8080, 80)).addPorts(port("10.213.0.3", 23456, 9100)),
        allocation("a0", 0, "n2", ALLOCATION_RUNNING, 3).setGeneration(2).addPorts(port("10.213.0.2", 8080, 80)),
        allocation("old", 0, "n1", ALLOCATION_STOPPED, 2).setDesiredRunning(false))
        .setSource("{\"name\": \"web\", \"groups\": [{\"name\": \"web\", \"image\": \"nginx:1.25\"}]}").build());

    CliRunner.Result r = cli.run("service", "inspect", "web");

    assertEquals(0, r.code(), r.err());
    assertEquals("""
        Name:       web
        Mode:       replicated
        Image:      nginx:1.25
        Replicas:   2/3 running
        Version:    3
        Status:     running
        Pending:    web: 1 pending: no node has 2 free cpus

        REPLICA   NODE      ENDPOINTS                                             STATE     MESSAGE
        web[0]    n2        10.213.0.2:8080->80/tcp                               running
        web[1]    n3        10.213.0.3:8080->80/tcp, 10.213.0.3:23456->9100/tcp   running
        """, r.out());
  }

  @Test
  void lsListsServicesOnlyInSwarmsWords() {
    jobs.jobs.add(JobSummary.newBuilder().setName("web").setType("service").setStatus("running").setDesired(3).setRunning(3).setVersion(2).build());
    jobs.jobs.add(JobSummary.newBuilder().setName("etl").setType("batch").setStatus("running").setDesired(1).build());
    jobs.jobs.add(JobSummary.newBuilder().setName("agent").setType("system").setStatus("pending").setDesired(4).setRunning(1).setVersion(1).build());
    CliRunner.Result r = cli.run("service", "ls");
    assertEquals(0, r.code(), r.err());
    assertEquals("""
        NAME      MODE         REPLICAS   STATUS    VERSION
        web       replicated   3/3        running   2
        agent     global       1/4        pending   1
        """, r.out());
    assertEquals("web\nagent\n", cli.run("service", "ls", "-q").out());
  }

  @Test
  void rmStopsAndPurgesEachService() {
    jobs.known.add("web");
    CliRunner.Result r = cli.run("service", "rm", "web", "nope");
    assertEquals(1, r.code());
    assertEquals("web\n", r.out());
    assertEquals("Error response from daemon: job \"nope\" not found\n", r.err());
    assertEquals(List.of(StopJobRequest.newBuilder().setName("web").setPurge(true).build(),
        StopJobRequest.newBuilder().setName("nope").setPurge(true).build()), jobs.requests(StopJobRequest.class));
  }

  @Test
  void theJobNameComesFromTheAgentsAnswer() {
    jobs.submitResponse = SubmitJobResponse.newBuilder().setJob("web").setVersion(1).setChanged(true).build();
    CliRunner.Result r = cli.run("service", "create", "-d", "--name", "web", "nginx");
    assertEquals("Job \"web\" submitted: version 1\n", r.out());
    assertFalse(r.out().contains("evaluation"));
  }
}
