package dev.berth.agent.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import java.io.FileInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyStore;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** What berthd accepts as its TLS identity, and what it refuses at start with a message naming the file. */
@Timeout(30)
class TlsMaterialTest {
  @TempDir
  Path dir;
  private TestPki cluster;
  private TestPki other;

  @BeforeEach
  void pki() throws Exception {
    cluster = new TestPki(dir, "cluster-ca");
    other = new TestPki(dir, "other-ca");
  }

  @Test
  void aNodeCertificateOfTheClusterCa() throws Exception {
    Path a = cluster.node("a");
    TlsMaterial m = TestPki.load(a);
    assertTrue(m.certificate().getSubjectX500Principal().getName().contains("CN=a"));
    TlsMaterial.KeyStores ks = m.writeKeyStores(dir.resolve("data/cluster/tls"));
    assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("data/cluster/tls"))));
    for (Path p : new Path[] {ks.keyStore(), ks.trustStore()}) {
      assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(p)), p.toString());
    }
    // What Atomix does with them: KeyStore.getDefaultType() (PKCS12 since JDK 9) and one password.
    KeyStore key = KeyStore.getInstance(KeyStore.getDefaultType());
    try (var in = new FileInputStream(ks.keyStore().toFile())) {
      key.load(in, ks.password().toCharArray());
    }
    assertTrue(key.isKeyEntry("berth-node"));
    KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
    try (var in = new FileInputStream(ks.trustStore().toFile())) {
      trust.load(in, ks.password().toCharArray());
    }
    assertEquals(m.ca(), trust.getCertificate("berth-cluster-ca"));
    assertEquals(1, trust.size());
    assertTrue(!ks.toString().contains(ks.password()));
  }

  @Test
  void aCertificateOfAnotherCaIsRefused() throws Exception {
    Path stranger = other.node("c");
    Path ca = dir.resolve("cluster-ca").resolve("ca.pem");
    BerthException e = assertThrows(BerthException.class,
        () -> TlsMaterial.load(ca, stranger.resolve("cert.pem"), stranger.resolve("key.pem"), Instant.now()));
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind());
    assertTrue(e.getMessage().contains("the certificate " + stranger.resolve("cert.pem") + " (CN=c,O=berth) is not signed by the "
        + "cluster CA " + ca), e.getMessage());
  }

  @Test
  void aSelfSignedCertificateIsRefused() throws Exception {
    // The other CA's own certificate and key: a perfectly good self-signed pair, but not the cluster's.
    Path self = dir.resolve("other-ca");
    Path ca = dir.resolve("cluster-ca").resolve("ca.pem");
    BerthException e = assertThrows(BerthException.class,
        () -> TlsMaterial.load(ca, self.resolve("ca.pem"), self.resolve("ca-key.pem"), Instant.now()));
    assertTrue(e.getMessage().contains("is not signed by the cluster CA"), e.getMessage());
  }

  @Test
  void theKeyMustBeTheCertificates() throws Exception {
    Path a = cluster.node("a");
    Path b = cluster.node("b");
    BerthException e = assertThrows(BerthException.class,
        () -> TlsMaterial.load(a.resolve("ca.pem"), a.resolve("cert.pem"), b.resolve("key.pem"), Instant.now()));
    assertTrue(e.getMessage().startsWith("the key " + b.resolve("key.pem") + " is not the key of the certificate"), e.getMessage());
  }

  @Test
  void aClientCertificateCannotServe() throws Exception {
    Path me = cluster.client("me");
    BerthException e = assertThrows(BerthException.class, () -> TestPki.load(me));
    assertEquals("the certificate " + me.resolve("cert.pem") + " (CN=me,O=berth) is not usable as TLS server and client (its "
        + "extendedKeyUsage is [1.3.6.1.5.5.7.3.2]), so it is not a node's: make it with 'berth cert node NAME'", e.getMessage());
  }

  @Test
  void anExpiredCertificateIsRefused() throws Exception {
    Path a = cluster.node("a");
    BerthException e = assertThrows(BerthException.class, () -> TlsMaterial.load(a.resolve("ca.pem"), a.resolve("cert.pem"),
        a.resolve("key.pem"), Instant.now().plus(Duration.ofDays(2))));
    assertTrue(e.getMessage().contains("expired on"), e.getMessage());
  }

  @Test
  void notPemIsNamed() throws Exception {
    Path a = cluster.node("a");
    Path junk = Files.write(dir.resolve("junk.pem"), new byte[] {0, 1, 2, (byte) 0xff});
    BerthException e = assertThrows(BerthException.class,
        () -> TlsMaterial.load(junk, a.resolve("cert.pem"), a.resolve("key.pem"), Instant.now()));
    assertEquals(junk + " holds no CERTIFICATE in PEM", e.getMessage());
    BerthException missing = assertThrows(BerthException.class,
        () -> TlsMaterial.load(dir.resolve("nothere.pem"), a.resolve("cert.pem"), a.resolve("key.pem"), Instant.now()));
    assertTrue(missing.getMessage().startsWith("cannot read " + dir.resolve("nothere.pem")), missing.getMessage());
  }

  @Test
  void theFlagsComeTogether() throws Exception {
    Path a = cluster.node("a");
    BerthException e = assertThrows(BerthException.class,
        () -> new TlsOptions(a.resolve("ca.pem"), null, a.resolve("key.pem"), false).load("a", Instant.now()));
    assertEquals("TLS needs all of --tls-ca, --tls-cert and --tls-key; missing --tls-cert", e.getMessage());
    BerthException both = assertThrows(BerthException.class,
        () -> new TlsOptions(a.resolve("ca.pem"), a.resolve("cert.pem"), a.resolve("key.pem"), true).load("a", Instant.now()));
    assertTrue(both.getMessage().contains("--tls-plaintext contradicts"), both.getMessage());
    assertTrue(new TlsOptions(null, null, null, true).load("a", Instant.now()).isEmpty());
  }

  @Test
  void theCertificateMustNameThisNode() throws Exception {
    Path a = cluster.node("a");
    TlsOptions flags = new TlsOptions(a.resolve("ca.pem"), a.resolve("cert.pem"), a.resolve("key.pem"), false);
    assertEquals("CN=a,O=berth", flags.load("a", Instant.now()).orElseThrow().certificate().getSubjectX500Principal().getName());
    // TestPki's node certificates also carry the DNS name localhost: any of its names will do.
    assertTrue(flags.load("localhost", Instant.now()).isPresent());
    BerthException e = assertThrows(BerthException.class, () -> flags.load("b", Instant.now()));
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind());
    assertEquals("the certificate " + a.resolve("cert.pem") + " (CN=a,O=berth) is not this node's: it names a, localhost "
        + "(its common name and DNS names), but this agent is the node b (--node, else the host name); make its certificate "
        + "with 'berth cert node b', or give --node one of those names", e.getMessage());
    // Exactly: no other case, no prefix, no suffix.
    for (String near : new String[] {"A", "a.example", "aa", ""}) {
      assertThrows(BerthException.class, () -> flags.load(near, Instant.now()), near);
    }
  }

  @Test
  void aNodeNamedOnlyByAnExtraDnsName() throws Exception {
    Path dir2 = dir.resolve("extra");
    dev.berth.ctl.cert.CertificateAuthority ca = dev.berth.ctl.cert.CertificateAuthority.create("ca2", Duration.ofDays(1),
        java.time.Clock.systemUTC());
    ca.writeTo(dir2.resolve("ca"));
    ca.issueNode("web-1", List.of("web-1.prod.example"), List.of(), Duration.ofDays(1)).writeTo(dir2.resolve("n"));
    Path n = dir2.resolve("n");
    TlsMaterial m = TlsMaterial.load(n.resolve("ca.pem"), n.resolve("cert.pem"), n.resolve("key.pem"), Instant.now());
    assertEquals(List.of("web-1", "web-1.prod.example"), NodeCertificate.names(m.certificate()));
    m.requireNode("web-1.prod.example");
    m.requireNode("web-1");
  }
}
