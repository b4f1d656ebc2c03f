package dev.berth.agent.tls;

import dev.berth.ctl.cert.CertificateAuthority;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;

/**
 * Certificates for tests, made by {@code berth cert}'s own code: {@link #ca} writes a cluster CA,
 * {@link #node} and {@link #client} directories of ca.pem, cert.pem and key.pem signed by it.
 */
public final class TestPki {
  private final CertificateAuthority ca;
  private final Path dir;

  /** A new CA named {@code name}, written to {@code dir/name}. */
  public TestPki(Path dir, String name) throws IOException {
    this.dir = dir;
    this.ca = CertificateAuthority.create(name, Duration.ofDays(1), Clock.systemUTC());
    ca.writeTo(dir.resolve(name));
  }

  /** A node certificate for {@code name}, also valid for 127.0.0.1, in {@code dir/<ca>-<name>}. */
  public Path node(String name) throws IOException {
    Path out = dir.resolve(ca.certificate().getSubjectX500Principal().getName().replaceAll(".*CN=([^,]+).*", "$1") + "-" + name);
    ca.issueNode(name, List.of("localhost"), List.of(InetAddress.getByName("127.0.0.1")), Duration.ofDays(1)).writeTo(out);
    return out;
  }

  /** A client (CLI) certificate for {@code name}. */
  public Path client(String name) throws IOException {
    Path out = dir.resolve(ca.certificate().getSubjectX500Principal().getName().replaceAll(".*CN=([^,]+).*", "$1") + "-client-" + name);
    ca.issueClient(name, Duration.ofDays(1)).writeTo(out);
    return out;
  }

  /** The berthd flags for a node's directory. */
  public static List<String> flags(Path node) {
    return List.of("--tls-ca", node.resolve("ca.pem").toString(), "--tls-cert", node.resolve("cert.pem").toString(),
        "--tls-key", node.resolve("key.pem").toString());
  }

  public static TlsMaterial load(Path node) {
    return TlsMaterial.load(node.resolve("ca.pem"), node.resolve("cert.pem"), node.resolve("key.pem"), java.time.Instant.now());
  }
}
