package dev.berth.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.params.provider.Arguments.arguments;

import dev.berth.agent.cluster.ClusterConfig;
import dev.berth.agent.cluster.Endpoint;
import dev.berth.agent.it.AgentProcess;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import picocli.CommandLine;

/**
 * {@code berthd --config FILE}: each long flag as a key of a YAML or JSON file, parsed by picocli
 * exactly as the flag; the command line wins; anything wrong is refused as FILE:LINE:COL, naming
 * the key. Also the example deploy/berthd.yaml, and the refusal as berthd prints it.
 */
@Timeout(60)
class ConfigFileTest {
  @TempDir
  Path dir;

  private Path file(String name, String text) throws Exception {
    return Files.writeString(dir.resolve(name), text);
  }

  /** What berthd's main does before execute: the file's flags, then the command line, parsed into one AgentMain. */
  private static AgentMain parse(String... args) {
    String[] all = ConfigFile.expand(() -> new CommandLine(new AgentMain()), args);
    AgentMain m = new AgentMain();
    new CommandLine(m).parseArgs(all);
    return m;
  }

  private static ClusterConfig cluster(AgentMain m) {
    return m.clusterOptions.toConfig(m.nodeName, m.dataDir);
  }

  @Test
  void everyKindOfOptionFromYaml() throws Exception {
    Path f = file("berthd.yaml", """
        # comments are fine
        data-dir: /srv/berth
        node: web-1
        cluster: prod
        advertise: 10.0.0.1:7946
        join: [10.0.0.2:7946, 10.0.0.3:7946]
        server: true
        servers:
          - web-1
          - web-2
          - web-3
        grace-period: 5s
        tls-ca: /etc/berth/ca.pem
        tls-cert: /etc/berth/cert.pem
        tls-key: /etc/berth/key.pem
        insecure-registry: [registry.lan:5000, 10.0.0.9]
        log-max-size: 1048576
        log-max-file: 3
        restart-backoff-cap: 30s
        metrics-addr: ""
        """);
    AgentMain m = parse("--config", f.toString());
    assertEquals(Path.of("/srv/berth"), m.dataDir);
    assertEquals("web-1", m.nodeName);
    ClusterConfig c = cluster(m);
    assertEquals("prod", c.cluster());
    assertEquals(new Endpoint("10.0.0.1", 7946), c.advertise());
    assertEquals(List.of(new Endpoint("10.0.0.2", 7946), new Endpoint("10.0.0.3", 7946)), c.join());
    assertTrue(c.server());
    assertEquals(List.of("web-1", "web-2", "web-3"), c.servers());
    assertEquals(Duration.ofSeconds(5), c.gracePeriod());
    assertEquals(Path.of("/etc/berth/ca.pem"), m.tlsOptions.ca());
    assertEquals(Path.of("/etc/berth/cert.pem"), m.tlsOptions.cert());
    assertEquals(Path.of("/etc/berth/key.pem"), m.tlsOptions.key());
    assertEquals(List.of("registry.lan:5000", "10.0.0.9"), m.insecureRegistries);
    assertEquals(1048576, m.logMaxSize);
    assertEquals(3, m.logMaxFile);
    assertEquals(Duration.ofSeconds(30), m.restartBackoffCap);
    assertEquals("", m.metricsAddr);
  }

  @Test
  void theSameFromJson() throws Exception {
    Path f = file("berthd.json", """
        {"data-dir": "/srv/berth", "node-name": "web-1", "join": ["10.0.0.2:7946"], "server": false,
         "tls-plaintext": true, "log-max-file": 7}
        """);
    AgentMain m = parse("--config", f.toString(), "--advertise", "10.0.0.1:7946");
    assertEquals(Path.of("/srv/berth"), m.dataDir);
    assertEquals("web-1", m.nodeName);
    assertFalse(cluster(m).server());
    assertTrue(m.tlsOptions.plaintext());
    assertEquals(7, m.logMaxFile);
  }

  @Test
  void theCommandLineWinsAndItsListReplacesTheFilesList() throws Exception {
    Path f = file("berthd.yaml", """
        data-dir: /srv/berth
        node-name: from-file
        insecure-registry: [a.lan, b.lan]
        join: 10.0.0.2:7946,10.0.0.3:7946
        tls-plaintext: true
        """);
    AgentMain m = parse("--data-dir", "/cli", "--node", "from-cli", "--insecure-registry", "c.lan", "--config", f.toString(),
        "--advertise", "10.0.0.1:7946");
    assertEquals(Path.of("/cli"), m.dataDir);
    assertEquals("from-cli", m.nodeName, "--node and node-name are one option");
    assertEquals(List.of("c.lan"), m.insecureRegistries);
    assertEquals(List.of(new Endpoint("10.0.0.2", 7946), new Endpoint("10.0.0.3", 7946)), cluster(m).join(),
        "what the command line does not give still comes from the file");
  }

  @Test
  void withoutConfigTheArgumentsAreUntouched() {
    String[] args = {"--data-dir", "/x"};
    assertEquals(List.of(args), List.of(ConfigFile.expand(() -> new CommandLine(new AgentMain()), args)));
    // Help does not read the file, so a broken one never hides it.
    String[] help = {"--config", "/nonexistent.yaml", "--help"};
    assertEquals(List.of(help), List.of(ConfigFile.expand(() -> new CommandLine(new AgentMain()), help)));
  }

  @Test
  void anEmptyFileOrOneOfCommentsSetsNothing() throws Exception {
    assertEquals(Path.of("/var/lib/berth"), parse("--config", file("empty.yaml", "").toString()).dataDir);
    assertEquals(Path.of("/var/lib/berth"), parse("--config", file("comments.yaml", "# data-dir: /x\n\n").toString()).dataDir);
  }

  /** What is refused: the case, the file's text, and the message after "FILE:" (its start, or a part of it). */
  static Stream<Arguments> refusals() {
    return Stream.of(
        arguments("unknown key", "data-dir: /x\nfoo: 1", "2:1: unknown key \"foo\"; the keys are berthd's long flags without their dashes (berthd --help)"),
        arguments("a key with its dashes", "--data-dir: /x", "1:1: unknown key \"--data-dir\"; did you mean \"data-dir\"?"),
        arguments("an underscore", "data_dir: /x", "1:1: unknown key \"data_dir\"; did you mean \"data-dir\"?"),
        arguments("a typo", "tcp: 127.0.0.1:2377\nlaunch: /x", "2:1: unknown key \"launch\"; did you mean \"launcher\"?"),
        arguments("a short name", "b: none", "1:1: unknown key \"b\"; the keys are"),
        arguments("the config key itself", "config: other.yaml", "1:1: unknown key \"config\""),
        arguments("help", "help: true", "1:1: unknown key \"help\""),
        arguments("a list for one value", "cluster: [a, b]", "1:1: cluster takes one value, not a list"),
        arguments("a mapping", "cluster:\n  name: a", "1:1: cluster takes a value, not a mapping"),
        arguments("a list of lists", "join:\n  - [a:1]", "2:5: join takes a list of values, not of lists"),
        arguments("no value", "data-dir:", "1:10: data-dir has no value; leave the key out to keep the default"),
        arguments("a null in a list", "insecure-registry: [a, ~]", "1:24: insecure-registry has no value"),
        arguments("a string for a boolean", "server: \"yes\"", "1:9: server takes true or false, not \"yes\""),
        arguments("a number for a boolean", "tls-plaintext: 1", "1:16: tls-plaintext takes true or false, not \"1\""),
        arguments("a YAML 1.1 boolean for a string", "node: on", "1:7: node takes a string, not the boolean on (quote it if you mean the text \"on\")"),
        arguments("a boolean for a path", "data-dir: true", "1:11: data-dir takes a path, not the boolean true"),
        arguments("not a number", "log-max-size: 10m", "1:15: log-max-size: Invalid value for option '--log-max-size': '10m' is not a long"),
        arguments("a bad duration", "restart-backoff-cap: soon", "1:22: restart-backoff-cap: Invalid value for option '--restart-backoff-cap': invalid duration \"soon\""),
        arguments("a bad grace period", "grace-period: 2 days", "1:15: grace-period: Invalid value for option '--grace-period': invalid duration \"2 days\""),
        arguments("a bad address in a list", "join: [10.0.0.2:7946, nohost]", "1:23: join: Invalid value for option '--join' (SEED): invalid address \"nohost\": expected HOST:PORT"),
        arguments("an address without port", "advertise: 10.0.0.1", "1:12: advertise: Invalid value for option '--advertise': invalid address \"10.0.0.1\""),
        arguments("a key twice", "node: a\nnode: b", "2:1: key \"node\" given twice (first at line 1)"),
        arguments("two names of one option", "node: a\nnode-name: b", "2:1: \"node-name\" and \"node\" (line 1) are the same option"),
        arguments("not a mapping", "- data-dir", "1:1: expected a mapping of berthd's long flags to their values"),
        arguments("two documents", "node: a\n---\nnode: b", "more than one document in the file"),
        arguments("a syntax error", "node: [a\n", "syntax error: "));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("refusals")
  void refusedWithLineColumnAndKey(String what, String text, String message) throws Exception {
    Path f = file("bad.yaml", text);
    ConfigFile.Invalid e = assertThrows(ConfigFile.Invalid.class, () -> parse("--config", f.toString()), what);
    if (Character.isDigit(message.charAt(0))) {
      assertTrue(e.getMessage().startsWith(f + ":" + message), what + ": " + e.getMessage());
    } else {
      // Where Jackson places these is its business; that there is a line and column is ours.
      assertTrue(e.getMessage().matches("(?s)\\Q" + f + "\\E:\\d+:\\d+: .*\\Q" + message + "\\E.*"), what + ": " + e.getMessage());
    }
  }

  @Test
  void aWrongValueIsRefusedEvenWhenTheCommandLineOverridesIt() throws Exception {
    Path f = file("bad.yaml", "log-max-file: many\n");
    ConfigFile.Invalid e = assertThrows(ConfigFile.Invalid.class,
        () -> parse("--config", f.toString(), "--log-max-file", "3"));
    assertTrue(e.getMessage().startsWith(f + ":1:15: log-max-file: "), e.getMessage());
  }

  @Test
  void aJsonFileIsReadStrictlyToo() throws Exception {
    Path f = file("bad.json", "{\n  \"node\": \"a\",\n  \"nodes\": 3\n}\n");
    ConfigFile.Invalid e = assertThrows(ConfigFile.Invalid.class, () -> parse("--config", f.toString()));
    assertTrue(e.getMessage().startsWith(f + ":3:3: unknown key \"nodes\""), e.getMessage());
  }

  @Test
  void aMissingOrUnreadableFileIsNamed() throws Exception {
    Path missing = dir.resolve("nope.yaml");
    assertEquals(missing + ": no such file",
        assertThrows(ConfigFile.Invalid.class, () -> parse("--config", missing.toString())).getMessage());
    assertTrue(assertThrows(ConfigFile.Invalid.class, () -> parse("--config", dir.toString())).getMessage()
        .startsWith(dir + ": cannot read: "));
    Path latin1 = Files.write(dir.resolve("latin1.yaml"), "node: caf\u00e9\n".getBytes(StandardCharsets.ISO_8859_1));
    assertEquals(latin1 + ": not UTF-8 text",
        assertThrows(ConfigFile.Invalid.class, () -> parse("--config", latin1.toString())).getMessage());
  }

  @Test
  void theExampleFileIsValidAndSetsWhatItSays() throws Exception {
    Path example = Path.of(System.getProperty("user.dir")).getParent().resolve("deploy/berthd.yaml");
    AgentMain m = parse("--config", example.toString());
    assertEquals(Path.of("/var/lib/berth"), m.dataDir);
    assertEquals(Path.of("/run/berth/berthd.sock"), m.socket);
    assertEquals("127.0.0.1:9323", m.metricsAddr);
  }

  @Test
  void helpDescribesTheFile() {
    String help = new CommandLine(new AgentMain()).getUsageMessage(CommandLine.Help.Ansi.OFF);
    assertTrue(help.contains("--config=FILE"), help);
    assertTrue(help.contains("Configuration file:"), help);
    assertTrue(help.contains("An option on the command line wins over the file"), help);
  }

  @Test
  void berthdRefusesABadFileBeforeStartingAnything() throws Exception {
    Path f = file("bad.yaml", "data-dir: " + dir.resolve("data") + "\nnode: [a, b]\n");
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
    cmd.addAll(AgentProcess.atomixJvmFlags());
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), AgentMain.class.getName(), "--config", f.toString()));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    assertEquals(2, p.exitValue(), out);
    assertEquals("berthd: " + f + ":2:1: node takes one value, not a list\n", out);
    assertFalse(Files.exists(dir.resolve("data")), "nothing was started or created");
  }
}
