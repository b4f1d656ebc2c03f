package dev.berth.ctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.ctl.cert.CertFiles;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.util.Date;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** `berth cert`: what it writes parses with the JDK alone, chains to the CA, and keeps keys private. */
@Timeout(60)
class CertCommandsTest {
  private static final String SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
  private static final String CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";

  @TempDir
  Path dir;

  private CliRunner.Result berth(String... args) throws Exception {
    try (CliRunner r = new CliRunner()) {
      return r.run(args);
    }
  }

  @Test
  void aCaThenANodeAndAClientChainToIt() throws Exception {
    Path ca = dir.resolve("ca");
    CliRunner.Result made = berth("cert", "ca", "--out", ca.toString());
    assertEquals(0, made.code(), made.err());
    assertEquals(ca.resolve("ca.pem") + "\n" + ca.resolve("ca-key.pem") + "\n", made.out());
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(ca.resolve("ca-key.pem"))));
    X509Certificate caCert = CertFiles.readCertificate(ca.resolve("ca.pem"));
    assertEquals(0, caCert.getBasicConstraints(), "a CA that signs end entities only");
    assertEquals(caCert.getSubjectX500Principal(), caCert.getIssuerX500Principal());
    assertEquals("EC", CertFiles.readKey(ca.resolve("ca-key.pem")).getAlgorithm());

    Path node = dir.resolve("a");
    CliRunner.Result n = berth("cert", "node", "a", "--ca", ca.toString(), "--out", node.toString(), "--ip", "127.0.0.1",
        "--ip", "::1", "--dns", "a.example");
    assertEquals(0, n.code(), n.err());
    X509Certificate nodeCert = CertFiles.readCertificate(node.resolve("cert.pem"));
    assertChains(nodeCert, caCert);
    assertEquals(List.of(SERVER_AUTH, CLIENT_AUTH), nodeCert.getExtendedKeyUsage());
    assertEquals(-1, nodeCert.getBasicConstraints());
    assertEquals(Set.of(List.of(2, "a"), List.of(2, "a.example"), List.of(7, "127.0.0.1"), List.of(7, "0:0:0:0:0:0:0:1")),
        Set.copyOf(nodeCert.getSubjectAlternativeNames().stream().map(l -> List.of(l.get(0), l.get(1))).toList()));
    assertTrue(nodeCert.getSubjectX500Principal().getName().contains("CN=a"), nodeCert.getSubjectX500Principal().getName());
    assertEquals(Files.readString(ca.resolve("ca.pem")), Files.readString(node.resolve("ca.pem")));
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(node.resolve("key.pem"))));
    assertEquals(nodeCert.getPublicKey(), publicOf(node));

    Path client = dir.resolve("me");
    CliRunner.Result c = berth("cert", "client", "me", "--ca", ca.toString(), "--out", client.toString());
    assertEquals(0, c.code(), c.err());
    X509Certificate clientCert = CertFiles.readCertificate(client.resolve("cert.pem"));
    assertChains(clientCert, caCert);
    assertEquals(List.of(CLIENT_AUTH), clientCert.getExtendedKeyUsage());
    assertEquals(null, clientCert.getSubjectAlternativeNames());
  }

  @Test
  void neverOverwrites() throws Exception {
    Path ca = dir.resolve("ca");
    assertEquals(0, berth("cert", "ca", "--out", ca.toString()).code());
    String key = Files.readString(ca.resolve("ca-key.pem"));
    CliRunner.Result again = berth("cert", "ca", "--out", ca.toString());
    assertEquals(1, again.code());
    assertTrue(again.err().contains(ca.resolve("ca.pem").toString()) && again.err().contains("refusing to overwrite"), again.err());
    assertEquals(key, Files.readString(ca.resolve("ca-key.pem")));
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "--ip not-an-ip | invalid --ip \"not-an-ip\"",
      "--dns bad_name! | invalid DNS name \"bad_name!\"",
      "--days 0 | must be valid for some time",
  })
  void refusesBadInput(String flags, String message) throws Exception {
    Path ca = dir.resolve("ca");
    assertEquals(0, berth("cert", "ca", "--out", ca.toString()).code());
    List<String> args = new java.util.ArrayList<>(List.of("cert", "node", "n", "--ca", ca.toString(), "--out", dir.resolve("n").toString()));
    args.addAll(List.of(flags.split(" ")));
    CliRunner.Result r = berth(args.toArray(String[]::new));
    assertEquals(1, r.code());
    assertTrue(r.err().contains(message), r.err());
    assertTrue(Files.notExists(dir.resolve("n").resolve("key.pem")));
  }

  @Test
  void aMissingCaIsNamed() throws Exception {
    CliRunner.Result r = berth("cert", "node", "n", "--ca", dir.resolve("nothere").toString(), "--out", dir.resolve("n").toString());
    assertEquals(1, r.code());
    assertTrue(r.err().contains(dir.resolve("nothere").resolve("ca.pem").toString()), r.err());
  }

  private static void assertChains(X509Certificate leaf, X509Certificate ca) throws Exception {
    PKIXParameters p = new PKIXParameters(Set.of(new TrustAnchor(ca, null)));
    p.setRevocationEnabled(false);
    p.setDate(Date.from(CliRunner.NOW));
    CertPathValidator.getInstance("PKIX").validate(CertificateFactory.getInstance("X.509").generateCertPath(List.of(leaf)), p);
  }

  private static java.security.PublicKey publicOf(Path dir) throws Exception {
    // The key signs, the certificate's public key verifies: they are one pair.
    var key = CertFiles.readKey(dir.resolve("key.pem"));
    var cert = CertFiles.readCertificate(dir.resolve("cert.pem"));
    var s = java.security.Signature.getInstance("SHA256withECDSA");
    s.initSign(key);
    s.update("x".getBytes(StandardCharsets.UTF_8));
    byte[] sig = s.sign();
    var v = java.security.Signature.getInstance("SHA256withECDSA");
    v.initVerify(cert.getPublicKey());
    v.update("x".getBytes(StandardCharsets.UTF_8));
    assertTrue(v.verify(sig), "key.pem is not the key of cert.pem");
    return cert.getPublicKey();
  }
}
