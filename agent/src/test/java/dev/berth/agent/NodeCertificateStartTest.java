package dev.berth.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.it.AgentProcess;
import dev.berth.agent.tls.TestPki;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A berthd process whose certificate names another node refuses to start, first thing: it says
 * which names the certificate has and which node it is, and creates nothing (not even its data
 * dir). Configured through --config, as the systemd unit does.
 */
@Timeout(60)
class NodeCertificateStartTest {
  @TempDir
  Path dir;

  @Test
  void anotherNodesCertificateStopsTheStart() throws Exception {
    Path a = new TestPki(dir, "ca").node("a");
    Path data = dir.resolve("data");
    Path config = Files.writeString(dir.resolve("berthd.yaml"), String.join("\n",
        "data-dir: " + data,
        "socket: " + dir.resolve("berthd.sock"),
        "node: b",
        "tls-ca: " + a.resolve("ca.pem"),
        "tls-cert: " + a.resolve("cert.pem"),
        "tls-key: " + a.resolve("key.pem"),
        "metrics-addr: \"\"",
        ""));
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
    cmd.addAll(AgentProcess.atomixJvmFlags());
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), AgentMain.class.getName(), "--config", config.toString()));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    assertEquals(1, p.exitValue(), out);
    assertTrue(out.contains("the certificate " + a.resolve("cert.pem") + " (CN=a,O=berth) is not this node's: it names a, "
        + "localhost (its common name and DNS names), but this agent is the node b"), out);
    assertFalse(Files.exists(data), "nothing was created before the check");
  }
}
