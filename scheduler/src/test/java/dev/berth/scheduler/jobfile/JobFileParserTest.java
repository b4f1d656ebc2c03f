package dev.berth.scheduler.jobfile;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.scheduler.model.ClusterSnapshot;
import dev.berth.scheduler.model.HealthCheck;
import dev.berth.scheduler.model.Job;
import dev.berth.scheduler.model.JobType;
import dev.berth.scheduler.model.Node;
import dev.berth.scheduler.model.Operator;
import dev.berth.scheduler.model.ReschedulePolicy;
import dev.berth.scheduler.model.RestartRules;
import dev.berth.scheduler.model.Resources;
import dev.berth.scheduler.model.TaskGroup;
import dev.berth.scheduler.model.UpdatePolicy;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Job files: the same job from YAML and JSON, and every kind of refusal with its line. */
class JobFileParserTest {

  static final String YAML = """
      name: web
      type: service
      priority: 70
      strategy: spread
      constraints:
        - attribute: attr.kernel.version
          operator: version
          value: ">= 5.10"
      groups:
        - name: web
          count: 3
          image: nginx:1.25
          command: [nginx, -g, "daemon off;"]
          env:
            MODE: prod
            WORKERS: 4
          resources:
            cpu: 500m
            memory: 512m
            pids: 100
          ports:
            - "8080:80"
            - name: metrics
              to: 9100
          volumes:
            - cache:/var/cache/nginx:ro
          spreads:
            - attribute: label.zone
              weight: 80
              targets: {a: 50, b: 50}
          affinities:
            - attribute: label.ssd
              value: "true"
              weight: -20
          distinct_hosts: true
      update:
        max_parallel: 2
        min_healthy_time: 30s
      """;

  static final String JSON = """
      {"name": "web", "type": "service", "priority": 70, "strategy": "spread",
       "constraints": [{"attribute": "attr.kernel.version", "operator": "version",
                        "value": ">= 5.10"}],
       "groups": [{"name": "web", "count": 3, "image": "nginx:1.25",
                   "command": ["nginx", "-g", "daemon off;"],
                   "env": {"MODE": "prod", "WORKERS": 4},
                   "resources": {"cpu": "0.5", "memory": "512Mi", "pids": 100},
                   "ports": ["8080:80", {"name": "metrics", "to": 9100}],
                   "volumes": [{"name": "cache", "path": "/var/cache/nginx", "read_only": true}],
                   "spreads": [{"attribute": "label.zone", "weight": 80,
                                "targets": {"a": 50, "b": 50}}],
                   "affinities": [{"attribute": "label.ssd", "value": "true", "weight": -20}],
                   "distinct_hosts": true}],
       "update": {"max_parallel": 2, "min_healthy_time": "30s"}}
      """;

  @Test
  void yamlAndJsonGiveTheSameJob() {
    Job yaml = JobFileParser.parse("job.yaml", YAML).job();
    Job json = JobFileParser.parse("job.json", JSON).job();
    assertEquals(yaml, json);
    TaskGroup g = yaml.groups().get(0);
    assertEquals(new Resources(500, 512L << 20, 100), g.resources());
    assertEquals(Map.of("MODE", "prod", "WORKERS", "4"), g.env());
    assertEquals(8080, g.ports().get(0).fixed());
    assertTrue(g.ports().get(1).dynamic());
    assertEquals(Operator.VERSION, yaml.constraints().get(0).operator());
    assertEquals(JobType.SERVICE, yaml.type());
    assertTrue(g.distinctHosts());
  }

  @ParameterizedTest(name = "{0} → {1}")
  @MethodSource("sizes")
  void sizesAndCpu(String text, long expected) {
    String yaml = "name: j\ngroups:\n  - name: g\n    image: i\n    resources:\n      "
        + text + "\n";
    Resources r = JobFileParser.parse("j.yaml", yaml).job().groups().get(0).resources();
    assertEquals(expected, text.startsWith("cpu") ? r.cpuMillis() : r.memoryBytes());
  }

  static Stream<Arguments> sizes() {
    return Stream.of(Arguments.of("memory: 512m", 512L << 20),
        Arguments.of("memory: 1g", 1L << 30), Arguments.of("memory: 1.5GiB", 3L << 29),
        Arguments.of("memory: 268435456", 268435456L), Arguments.of("memory: 64Mi", 64L << 20),
        Arguments.of("cpu: 0.5", 500L), Arguments.of("cpu: \"0.5\"", 500L),
        Arguments.of("cpu: 500m", 500L), Arguments.of("cpu: 2", 2000L),
        Arguments.of("cpu: 0.25", 250L));
  }

  /** A job file with one mistake, the line and column it is on, and words the error must say. */
  static Stream<Arguments> errors() {
    String head = "name: web\ngroups:\n  - name: web\n    image: nginx\n";
    return Stream.of(
        Arguments.of("unknown key in a group", head + "    cpus: 2\n", 5, 5,
            "unknown key \"cpus\" in task group \"web\" (known: name, count, image"),
        Arguments.of("unknown key in the job", "name: web\nreplicas: 3\ngroups: []\n", 2, 1,
            "unknown key \"replicas\" in the job"),
        Arguments.of("unknown key in resources", head + "    resources:\n      mem: 1g\n", 6, 7,
            "unknown key \"mem\" in the resources of task group \"web\""),
        Arguments.of("wrong type: count as a word", head + "    count: three\n", 5, 12,
            "\"count\" in task group \"web\" must be an integer, not a string"),
        Arguments.of("wrong type: groups as a mapping", "name: web\ngroups:\n  web: {}\n", 3, 3,
            "\"groups\" in job \"web\" must be a list, not a mapping"),
        Arguments.of("negative count", head + "    count: -1\n", 5, 12,
            "\"count\" in task group \"web\" is -1, out of range (0..100000)"),
        Arguments.of("bad memory size", head + "    resources:\n      memory: 12x\n", 6, 15,
            "bad memory size \"12x\""),
        Arguments.of("bad cpu", head + "    resources:\n      cpu: lots\n", 6, 12, "bad cpu \"lots\""),
        Arguments.of("affinity weight out of range", head
            + "    affinities:\n      - attribute: label.ssd\n        value: x\n        weight: 150\n",
            8, 17, "is 150, out of range (-100..100)"),
        Arguments.of("unknown constraint operator", head
            + "    constraints:\n      - attribute: attr.os\n        operator: ~=\n        value: x\n",
            7, 19, "unknown operator \"~=\" (known: ==, !=, in, not_in, regexp, version"),
        Arguments.of("bad version term", head
            + "    constraints:\n      - attribute: attr.k\n        operator: version\n"
            + "        value: \">= five\"\n", 6, 9, "bad version term \">= five\""),
        Arguments.of("bad regexp", head
            + "    constraints:\n      - attribute: attr.k\n        operator: regexp\n"
            + "        value: \"([a-z\"\n", 6, 9, "bad regular expression"),
        Arguments.of("unknown job type", "name: web\ntype: cron\ngroups: []\n", 2, 7,
            "unknown job type \"cron\" (known: service, batch, system)"),
        Arguments.of("spread targets over 100", head + "    spreads:\n"
            + "      - attribute: label.zone\n        targets: {a: 70, b: 40}\n", 6, 9,
            "target percentages sum to 110"),
        Arguments.of("missing image", "name: web\ngroups:\n  - name: web\n    count: 1\n", 3, 5,
            "task group \"web\" has no \"image\""),
        Arguments.of("duplicate key", head + "    count: 1\n    count: 2\n", 6, 5,
            "key \"count\" given twice"),
        Arguments.of("count in a system job", "name: web\ntype: system\ngroups:\n  - name: g\n"
            + "    image: i\n    count: 2\n", 6, 5, "\"count\" is not used by system jobs"),
        Arguments.of("bad port", head + "    ports: [\"80:http\"]\n", 5, 13, "bad port \"80:http\""),
        Arguments.of("syntax error", "name: web\ngroups: [\n", 2, 10, "syntax error"),
        Arguments.of("unknown delay function", head + "reschedule:\n  delay_function: linear\n",
            6, 19, "unknown delay_function \"linear\" in job \"web\" (known: constant,"),
        Arguments.of("max_delay below delay", head + "reschedule:\n  delay: 1m\n  max_delay: 10s\n",
            6, 3, "max_delay 10 s is shorter than delay 60 s"),
        Arguments.of("unknown key in reschedule", head + "reschedule:\n  tries: 3\n", 6, 3,
            "unknown key \"tries\" in \"reschedule\" of job \"web\" (known: attempts, interval,"
                + " delay, delay_function, max_delay, unlimited)"),
        Arguments.of("zero stop_after_disconnect", head + "    stop_after_disconnect: 0s\n", 5, 28,
            "\"stop_after_disconnect\" in task group \"web\" must be more than 0"),
        Arguments.of("bad stop_after_disconnect", head + "    stop_after_disconnect: soon\n", 5, 28,
            "bad duration \"soon\" for \"stop_after_disconnect\""),
        Arguments.of("stop_after_disconnect in a system job", "name: s\ntype: system\n"
            + "stop_after_disconnect: 30s\ngroups:\n  - name: g\n    image: i\n", 3, 1,
            "\"stop_after_disconnect\" is not used by system jobs"),
        Arguments.of("health check without a command", head + "    health: {interval: 5s}\n", 5, 13,
            "\"health\" of task group \"web\" has no \"cmd\""),
        Arguments.of("unknown key in a health check", head + "    health:\n      cmd: [true]\n"
            + "      every: 5s\n", 7, 7, "unknown key \"every\" in \"health\" of task group"),
        Arguments.of("health retries out of range", head + "    health:\n      cmd: x\n"
            + "      retries: 0\n", 7, 16, "\"retries\" in task group \"web\" is 0, out of range"),
        Arguments.of("healthy deadline not after min healthy time", head
            + "update: {min_healthy_time: 1m, healthy_deadline: 30s}\n", 5, 9,
            "healthy_deadline (30000 ms) must be longer than min_healthy_time (60000 ms)"),
        Arguments.of("unknown update order", head + "update: {order: blue-green}\n", 5, 17,
            "unknown update order \"blue-green\" in job \"web\" (known: stop-first, start-first)"),
        Arguments.of("update order not a string", head + "update: {order: 1}\n", 5, 17,
            "\"order\" in job \"web\" must be a string"),
        Arguments.of("unknown key in restart", head + "    restart: {tries: 3}\n", 5, 15,
            "unknown key \"tries\" in \"restart\" of task group \"web\" (known: attempts, interval, delay, mode)"),
        Arguments.of("negative restart attempts", head + "    restart: {attempts: -1}\n", 5, 25,
            "\"attempts\" in task group \"web\" is -1, out of range"),
        Arguments.of("zero restart interval", head + "    restart: {interval: 0s}\n", 5, 25,
            "\"interval\" in task group \"web\" must be more than 0"),
        Arguments.of("bad restart delay", head + "    restart: {delay: soon}\n", 5, 22,
            "bad duration \"soon\" for \"delay\" in task group \"web\""),
        Arguments.of("unknown restart mode", head + "    restart: {mode: retry}\n", 5, 21,
            "unknown restart mode \"retry\" in task group \"web\" (known: fail, delay)"),
        Arguments.of("restart delay not shorter than its interval", head
            + "    restart: {interval: 10s, delay: 10s}\n", 5, 14,
            "\"delay\" (10000 ms) must be shorter than \"interval\" (10000 ms) in \"restart\" of task group"));
  }

  @Test
  void updateOrderDefaultsToStopFirst() {
    String head = "name: web\ngroups:\n  - name: web\n    image: nginx\n";
    assertEquals(UpdatePolicy.Order.STOP_FIRST, JobFileParser.parse("j.yaml", head).job().update().order());
    assertEquals(UpdatePolicy.Order.STOP_FIRST,
        JobFileParser.parse("j.yaml", head + "update: {max_parallel: 2}\n").job().update().order());
    UpdatePolicy u = JobFileParser.parse("j.yaml", head + "update: {order: start-first, auto_revert: true}\n")
        .job().update();
    assertEquals(new UpdatePolicy(1, Duration.ofSeconds(10), Duration.ofMinutes(5), true,
        UpdatePolicy.Order.START_FIRST), u);
    assertEquals(UpdatePolicy.Order.STOP_FIRST,
        JobFileParser.parse("j.yaml", head + "update: {order: stop-first}\n").job().update().order());
  }

  @Test
  void restartBlockTakesNomadsKeysWithTheTypesDefaults() {
    String head = "name: web\ngroups:\n  - name: web\n    image: nginx\n";
    // No block: the node applies the type's defaults.
    assertEquals(null, JobFileParser.parse("j.yaml", head).job().groups().get(0).restart());
    assertEquals(new RestartRules(5, Duration.ofMinutes(30), null, RestartRules.Mode.FAIL),
        JobFileParser.parse("j.yaml", head + "    restart: {attempts: 5}\n").job().groups().get(0).restart());
    assertEquals(new RestartRules(1, Duration.ofMinutes(2), Duration.ofSeconds(3), RestartRules.Mode.DELAY),
        JobFileParser.parse("j.yaml", head + "    restart: {attempts: 1, interval: 2m, delay: 3s, mode: delay}\n")
            .job().groups().get(0).restart());
    // A batch group's absent keys are the batch defaults.
    assertEquals(new RestartRules(3, Duration.ofHours(24), null, RestartRules.Mode.DELAY),
        JobFileParser.parse("j.yaml", "type: batch\n" + head + "    restart: {mode: delay}\n")
            .job().groups().get(0).restart());
  }

  @Test
  void rescheduleTakesNomadsKeysAndTheTypesDefaults() {
    String head = "name: web\ngroups:\n  - name: web\n    image: nginx\n";
    assertEquals(ReschedulePolicy.SERVICE_DEFAULT, JobFileParser.parse("j.yaml", head).job().reschedule());
    assertEquals(ReschedulePolicy.BATCH_DEFAULT,
        JobFileParser.parse("j.yaml", "type: batch\n" + head).job().reschedule());
    ReschedulePolicy full = JobFileParser.parse("j.yaml", head + "reschedule: {attempts: 3, interval: 10m,"
        + " delay: 2s, delay_function: fibonacci, max_delay: 1m, unlimited: false}\n").job().reschedule();
    assertEquals(new ReschedulePolicy(3, Duration.ofMinutes(10), Duration.ofSeconds(2),
        ReschedulePolicy.DelayFunction.FIBONACCI, Duration.ofMinutes(1), false), full);
    // Naming attempts on a service counts them (the default is unlimited).
    ReschedulePolicy counted = JobFileParser.parse("j.yaml", head + "reschedule: {attempts: 2}\n").job()
        .reschedule();
    assertTrue(!counted.unlimited() && counted.attempts() == 2 && counted.interval().toHours() == 1,
        counted.toString());
    ReschedulePolicy none = JobFileParser.parse("j.yaml", head + "reschedule: {attempts: 0}\n").job()
        .reschedule();
    assertTrue(!none.enabled(), none.toString());
  }

  @Test
  void stopAfterDisconnectAndHealthApplyPerGroupWithTheJobsAsDefault() {
    Job job = JobFileParser.parse("j.yaml", """
        name: web
        stop_after_disconnect: 30s
        health: {cmd: "wget -q -O - http://127.0.0.1/", interval: 5s, timeout: 2s}
        groups:
          - name: a
            image: nginx
          - name: b
            image: nginx
            stop_after_disconnect: 5s
            health:
              cmd: [pg_isready, -q]
              retries: 5
              start_period: 10s
        """).job();
    TaskGroup a = job.groups().get(0);
    TaskGroup b = job.groups().get(1);
    assertEquals(Duration.ofSeconds(30), a.stopAfterDisconnect());
    assertEquals(new HealthCheck(List.of("wget -q -O - http://127.0.0.1/"), true, Duration.ofSeconds(5),
        Duration.ofSeconds(2), 3, Duration.ZERO), a.health());
    assertEquals(Duration.ofSeconds(5), b.stopAfterDisconnect());
    assertEquals(new HealthCheck(List.of("pg_isready", "-q"), false, HealthCheck.DEFAULT_INTERVAL,
        HealthCheck.DEFAULT_TIMEOUT, 5, Duration.ofSeconds(10)), b.health());
    // Absent: nothing is stopped on a disconnect, no check runs.
    TaskGroup plain = JobFileParser.parse("j.yaml", "name: w\ngroups:\n  - name: w\n    image: i\n").job()
        .groups().get(0);
    assertEquals(null, plain.stopAfterDisconnect());
    assertEquals(null, plain.health());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("errors")
  void refusesWithLineAndReason(String name, String yaml, int line, int column, String words) {
    JobFileException e = assertThrows(JobFileException.class,
        () -> JobFileParser.parse("job.yaml", yaml));
    assertTrue(e.getMessage().contains(words), name + ": " + e.getMessage());
    assertEquals(line, e.line(), name + ": " + e.getMessage());
    assertEquals(column, e.column(), name + ": " + e.getMessage());
    assertTrue(e.getMessage().startsWith("job.yaml:" + line + ":" + column + ": "),
        e.getMessage());
  }

  @Test
  void jsonErrorsHaveLinesToo() {
    JobFileException e = assertThrows(JobFileException.class, () -> JobFileParser.parse(
        "job.json", "{\"name\": \"web\",\n \"groups\": [{\"name\": \"web\", \"image\": \"i\",\n"
            + "   \"cpus\": 2}]}"));
    assertEquals(3, e.line(), e.getMessage());
    assertTrue(e.getMessage().contains("unknown key \"cpus\""), e.getMessage());
  }

  @Test
  void impossibleRequestIsRefusedWithItsLine() {
    String yaml = "name: db\ngroups:\n  - name: db\n    image: pg\n    resources:\n"
        + "      cpu: 1\n      memory: 64g\n";
    JobFile file = JobFileParser.parse("db.yaml", yaml);
    Node small = new Node("n1", "n1", Map.of(), Map.of(), new Resources(8000, 32L << 30, 4096),
        true, true, false, Set.of(), Set.of());
    JobFileException e = assertThrows(JobFileException.class,
        () -> file.validateAgainst(new ClusterSnapshot(1, List.of(small), List.of())));
    assertEquals(7, e.line(), e.getMessage());
    assertTrue(e.getMessage().contains("impossible request: task group \"db\" needs memory "
        + "64 GiB, more than any node has (the largest has 32 GiB)"), e.getMessage());
    // A request each dimension of which some node has, but no node all of it together:
    Node cpuRich = new Node("n2", "n2", Map.of(), Map.of(), new Resources(64000, 1L << 30, 4096),
        true, true, false, Set.of(), Set.of());
    JobFile both = JobFileParser.parse("db.yaml", yaml.replace("64g", "16g").replace("cpu: 1",
        "cpu: 16"));
    JobFileException e2 = assertThrows(JobFileException.class,
        () -> both.validateAgainst(new ClusterSnapshot(1, List.of(small, cpuRich), List.of())));
    assertTrue(e2.getMessage().contains("no node has all of that together"), e2.getMessage());
    // An empty cluster refuses nothing: nodes may yet join.
    file.validateAgainst(new ClusterSnapshot(1, List.of(), List.of()));
  }
}
