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
    assertTrue(e.getMessage().contains("is not usable as TLS server and client"), e.getMessage());
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
        () -> new TlsOptions(a.resolve("ca.pem"), null, a.resolve("key.pem"), false).load(Instant.now()));
    assertEquals("TLS needs all of --tls-ca, --tls-cert and --tls-key; missing --tls-cert", e.getMessage());
    BerthException both = assertThrows(BerthException.class,
        () -> new TlsOptions(a.resolve("ca.pem"), a.resolve("cert.pem"), a.resolve("key.pem"), true).load(Instant.now()));
    assertTrue(both.getMessage().contains("--tls-plaintext contradicts"), both.getMessage());
    assertTrue(new TlsOptions(null, null, null, true).load(Instant.now()).isEmpty());
  }
}
