package dev.berth.agent.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.berth.agent.BerthException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Sealing to the servers' key: what opens, what does not, and the key file. */
class SealKeyTest {
  private static final byte[] AAD = "registry.example.com/berth".getBytes(StandardCharsets.UTF_8);
  private static final byte[] SECRET = "s3cret".getBytes(StandardCharsets.UTF_8);

  @TempDir
  Path dir;

  @Test
  void whatIsSealedToAKeyOpensWithIt() {
    SealKey k = SealKey.generate("test");
    byte[] sealed = SealKey.seal(k.publicKey(), AAD, SECRET);
    assertArrayEquals(SECRET, k.open(sealed, AAD, "the test secret"));
    assertFalse(contains(sealed, SECRET), "the sealed bytes hold the secret as it is");
    assertFalse(Arrays.equals(sealed, SealKey.seal(k.publicKey(), AAD, SECRET)),
        "a fresh ephemeral key and nonce each time: equal secrets never seal alike");
    assertEquals(1 + 32 + 12 + SECRET.length + 16, sealed.length);
  }

  @Test
  void anotherKeyCannotOpenIt() {
    SealKey server = SealKey.generate("server");
    SealKey member = SealKey.generate("member");
    byte[] sealed = SealKey.seal(server.publicKey(), AAD, SECRET);
    BerthException e = assertThrows(BerthException.class, () -> member.open(sealed, AAD, "the test secret"));
    assertEquals(BerthException.Kind.FAILED_PRECONDITION, e.kind());
    assertEquals("the test secret does not open with the seal key " + member.id()
        + " (member): it was sealed to another key, or altered", e.getMessage());
  }

  /** Offsets into the sealed bytes: the version, the ephemeral key, the nonce, the ciphertext, the tag. */
  @ParameterizedTest
  @ValueSource(ints = {0, 1, 32, 33, 44, 45, 50, 51, 66})
  void anAlteredByteIsRefused(int at) {
    SealKey k = SealKey.generate("test");
    byte[] sealed = SealKey.seal(k.publicKey(), AAD, SECRET);
    assertEquals(67, sealed.length);
    sealed[at] ^= 0x01;
    BerthException e = assertThrows(BerthException.class, () -> k.open(sealed, AAD, "the test secret"));
    assertEquals(BerthException.Kind.FAILED_PRECONDITION, e.kind());
  }

  @Test
  void otherAssociatedDataIsRefused() {
    SealKey k = SealKey.generate("test");
    byte[] sealed = SealKey.seal(k.publicKey(), AAD, SECRET);
    assertThrows(BerthException.class, () -> k.open(sealed, "registry.example.com/other".getBytes(StandardCharsets.UTF_8),
        "the test secret"));
  }

  @Test
  void truncatedOrEmptyBytesAreRefusedNamingTheForm() {
    SealKey k = SealKey.generate("test");
    BerthException e = assertThrows(BerthException.class, () -> k.open(new byte[0], AAD, "the test secret"));
    assertEquals("the test secret is not sealed in a form this agent knows (empty)", e.getMessage());
    byte[] sealed = SealKey.seal(k.publicKey(), AAD, SECRET);
    assertThrows(BerthException.class, () -> k.open(Arrays.copyOf(sealed, 40), AAD, "the test secret"));
  }

  @Test
  void fingerprintsAreEqualForEqualDataUnderOneKeyOnly() {
    SealKey a = SealKey.generate("a");
    SealKey b = SealKey.generate("b");
    assertArrayEquals(a.fingerprint(SECRET), a.fingerprint(SECRET.clone()));
    assertFalse(Arrays.equals(a.fingerprint(SECRET), a.fingerprint("s3cret!".getBytes(StandardCharsets.UTF_8))));
    assertFalse(Arrays.equals(a.fingerprint(SECRET), b.fingerprint(SECRET)), "keyed: another key gives another");
  }

  @Test
  void allocationTagsAreKeyedApartFromFingerprints() {
    SealKey a = SealKey.generate("a");
    SealKey b = SealKey.generate("b");
    assertArrayEquals(a.allocationTag(SECRET), a.allocationTag(SECRET.clone()));
    assertEquals(32, a.allocationTag(SECRET).length);
    assertFalse(Arrays.equals(a.allocationTag(SECRET), b.allocationTag(SECRET)), "keyed: another key gives another");
    assertFalse(Arrays.equals(a.allocationTag(SECRET), a.fingerprint(SECRET)), "a key of its own, not the fingerprints'");
  }

  /** RFC 5869, test case 3 (no salt, no info): the first 32 bytes of its output. */
  @Test
  void theTagKeyIsDerivedWithHkdfSha256() {
    byte[] ikm = new byte[22];
    Arrays.fill(ikm, (byte) 0x0b);
    assertEquals("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d",
        java.util.HexFormat.of().formatHex(SealKey.hkdf(ikm, new byte[32], new byte[0])));
  }

  @Test
  void aKeyMadeUnderTheDataDirIsRootOnlyAndTheSameWhenReadAgain() throws Exception {
    Path file = dir.resolve("data").resolve("seal").resolve("seal-key.pem");
    SealKey made = SealKey.loadOrCreate(file);
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
    assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file.getParent())));
    try (var s = Files.list(file.getParent())) {
      assertEquals(List.of(file), s.toList(), "no temporary file left behind");
    }
    SealKey again = SealKey.loadOrCreate(file);
    assertEquals(made.id(), again.id());
    assertArrayEquals(made.fingerprint(SECRET), again.fingerprint(SECRET));
    assertArrayEquals(made.allocationTag(SECRET), again.allocationTag(SECRET));
    assertArrayEquals(SECRET, again.open(SealKey.seal(made.publicKey(), AAD, SECRET), AAD, "the test secret"));
  }

  @Test
  void aKeyFileOthersCanReadIsRefused() throws Exception {
    Path file = dir.resolve("seal-key.pem");
    SealKey.loadOrCreate(file);
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
    BerthException e = assertThrows(BerthException.class, () -> SealKey.load(file));
    assertEquals("the seal key " + file + " is accessible to other users (rw-r--r--); it opens every registry "
        + "password of the cluster: chmod 600 it", e.getMessage());
  }

  @Test
  void aMissingOrWrongKeyFileIsRefusedNamingIt() throws Exception {
    Path missing = dir.resolve("none.pem");
    BerthException e = assertThrows(BerthException.class, () -> SealKey.load(missing));
    assertTrue(e.getMessage().startsWith("the seal key " + missing + " does not exist (--seal-key)"), e.getMessage());
    Path text = Files.writeString(dir.resolve("text.pem"), "not a key\n");
    Files.setPosixFilePermissions(text, PosixFilePermissions.fromString("rw-------"));
    e = assertThrows(BerthException.class, () -> SealKey.load(text));
    assertTrue(e.getMessage().startsWith("the seal key " + text + " is not a PEM private key"), e.getMessage());
  }

  @Test
  void aKeyMadeByOpensslIsReadAndItsPublicHalfIsOpensslsToo() throws Exception {
    Path openssl = Path.of("/usr/bin/openssl");
    assumeTrue(Files.isExecutable(openssl), "needs openssl, which deploy/cluster.sh makes seal keys with");
    Path file = dir.resolve("openssl.pem");
    run(openssl.toString(), "genpkey", "-algorithm", "X25519", "-out", file.toString());
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    SealKey k = SealKey.load(file);
    Path pub = dir.resolve("pub.der");
    run(openssl.toString(), "pkey", "-in", file.toString(), "-pubout", "-outform", "DER", "-out", pub.toString());
    byte[] der = Files.readAllBytes(pub);
    // SubjectPublicKeyInfo of X25519: a 12-byte prefix, then the 32 bytes of u.
    assertArrayEquals(Arrays.copyOfRange(der, der.length - 32, der.length), k.publicKey());
    assertArrayEquals(SECRET, k.open(SealKey.seal(k.publicKey(), AAD, SECRET), AAD, "the test secret"));
  }

  private static void run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(30, TimeUnit.SECONDS), "openssl hung");
    assertEquals(0, p.exitValue(), out);
  }

  private static boolean contains(byte[] hay, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= hay.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (hay[i + j] != needle[j]) {
          continue outer;
        }
      }
      return true;
    }
    return false;
  }
}
