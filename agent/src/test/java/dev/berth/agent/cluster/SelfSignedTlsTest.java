package dev.berth.agent.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The embedded default's own messaging certificate: made once, root-only, kept while valid. */
class SelfSignedTlsTest {
  @TempDir
  Path dir;

  @Test
  void madeOnceRootOnlyAndKeptWhileValidForItsNode() throws Exception {
    MessagingTls tls = SelfSignedTls.at(dir.resolve("tls"));
    assertFalse(SelfSignedTls.valid(tls, "n1", Instant.now()));
    SelfSignedTls.ensure(tls, "n1", Instant.now());
    assertTrue(SelfSignedTls.valid(tls, "n1", Instant.now()));
    assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("tls"))));
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(tls.keyStore())));
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(tls.trustStore())));
    byte[] first = Files.readAllBytes(tls.keyStore());

    SelfSignedTls.ensure(tls, "n1", Instant.now());
    assertEquals(java.util.Arrays.toString(first), java.util.Arrays.toString(Files.readAllBytes(tls.keyStore())),
        "kept, not made again");

    // Another node's name, or one about to expire: made again.
    assertFalse(SelfSignedTls.valid(tls, "n2", Instant.now()));
    assertFalse(SelfSignedTls.valid(tls, "n1", Instant.now().plus(Duration.ofDays(3650))));
    SelfSignedTls.ensure(tls, "n2", Instant.now());
    assertTrue(SelfSignedTls.valid(tls, "n2", Instant.now()));
    assertNotEquals(java.util.Arrays.toString(first), java.util.Arrays.toString(Files.readAllBytes(tls.keyStore())));
    assertFalse(Files.exists(dir.resolve("tls").resolve("node.p12.tmp")));
  }

  @Test
  void aGarbledStoreIsMadeAgain() throws Exception {
    MessagingTls tls = SelfSignedTls.at(dir.resolve("tls"));
    Files.createDirectories(dir.resolve("tls"));
    Files.writeString(tls.keyStore(), "not a key store");
    Files.writeString(tls.trustStore(), "nor this");
    assertFalse(SelfSignedTls.valid(tls, "n1", Instant.now()));
    SelfSignedTls.ensure(tls, "n1", Instant.now());
    assertTrue(SelfSignedTls.valid(tls, "n1", Instant.now()));
  }

  @Test
  void nodeNamesBecomeOneSafeDistinguishedNameValue() {
    assertEquals("web-1.example", SelfSignedTls.dnSafe("web-1.example"));
    assertEquals("a_b_c_d", SelfSignedTls.dnSafe("a,b=c+d"));
  }
}
