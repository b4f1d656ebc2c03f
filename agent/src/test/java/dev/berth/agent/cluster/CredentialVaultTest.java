package dev.berth.agent.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import dev.berth.agent.cluster.CredentialVault.Scope;
import dev.berth.proto.v1.StoredCredential;
import com.google.protobuf.ByteString;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Credentials in the replicated state: sealed by any agent to the key the servers published,
 * opened and fingerprinted only where the key is, and only as what they were sealed for.
 */
class CredentialVaultTest {
  private final InMemoryClusterStore store = new InMemoryClusterStore();
  private final SealKey key = SealKey.generate("/etc/berth/seal-key.pem");
  private final CredentialVault server = new CredentialVault(store, key);
  private final CredentialVault member = new CredentialVault(store, null);
  private static final Scope WEB = Scope.job("web");

  @Test
  void withoutASealKeyACredentialIsNotKeptAndTheFlagIsNamed() {
    BerthException e = assertThrows(BerthException.class,
        () -> member.seal(WEB, "registry.example.com", "berth", "s3cret"));
    assertEquals(BerthException.Kind.FAILED_PRECONDITION, e.kind());
    assertEquals("cannot keep the credential for registry registry.example.com: the cluster's servers have no seal "
        + "key to keep it sealed with (give each server the same berthd --seal-key FILE)", e.getMessage());
  }

  @Test
  void aMemberSealsWhatOnlyTheServerOpens() {
    server.publish();
    StoredCredential c = member.seal(WEB, "registry.example.com", "berth", "s3cret");
    assertEquals(key.id(), c.getSealKey());
    assertFalse(c.toByteString().toStringUtf8().contains("s3cret"), "the stored record holds the password");
    assertEquals("s3cret", server.open(c, WEB));
    assertFalse(member.canOpen());
    BerthException e = assertThrows(BerthException.class, () -> member.open(c, WEB));
    assertEquals("this agent holds no seal key, so it cannot open registry credentials: only the cluster's servers do,"
        + " given berthd --seal-key FILE", e.getMessage());
    assertThrows(BerthException.class, () -> member.fingerprint(c, WEB));
  }

  @Test
  void aSealedPasswordMovedToAnotherUsernameDoesNotOpen() {
    server.publish();
    StoredCredential c = member.seal(WEB, "registry.example.com", "berth", "s3cret");
    StoredCredential moved = c.toBuilder().setUsername("admin").build();
    BerthException e = assertThrows(BerthException.class, () -> server.open(moved, WEB));
    assertEquals(BerthException.Kind.PERMISSION_DENIED, e.kind());
    assertEquals("the credential of admin for registry registry.example.com kept with job web was not sealed for job "
        + "web: it was copied from another job's credentials or a login, or altered", e.getMessage());
  }

  @Test
  void aServerGivenAnotherKeyRefusesToPublishAndToOpenNamingBothKeys() {
    server.publish();
    SealKey other = SealKey.generate("/tmp/other.pem");
    CredentialVault second = new CredentialVault(store, other);
    BerthException e = assertThrows(BerthException.class, second::publish);
    assertEquals("this server's seal key " + other.id() + " (/tmp/other.pem) is not the cluster's, " + key.id()
        + ": give every server the same --seal-key file", e.getMessage());
    assertFalse(second.canOpen());
    StoredCredential c = member.seal(WEB, "registry.example.com", "berth", "s3cret");
    assertEquals(e.getMessage(), assertThrows(BerthException.class, () -> second.open(c, WEB)).getMessage());
    // Publishing again is harmless for the right key.
    server.publish();
    assertTrue(server.canOpen());
  }

  @Test
  void aCredentialSealedToAnotherKeyNamesBoth() {
    server.publish();
    StoredCredential c = member.seal(WEB, "registry.example.com", "berth", "s3cret").toBuilder()
        .setSealKey("0123456789abcdef").build();
    assertEquals("the credential of berth for registry registry.example.com kept with job web was sealed to the seal "
        + "key 0123456789abcdef, not to this server's " + key.id() + " (/etc/berth/seal-key.pem); give every server "
        + "the same --seal-key file",
        assertThrows(BerthException.class, () -> server.open(c, WEB)).getMessage());
  }

  @Test
  void fingerprintsTellTheSameCredentialSealedTwiceFromAnotherOne() {
    server.publish();
    StoredCredential a = print(member.seal(WEB, "r.example.com", "berth", "s3cret"));
    StoredCredential again = print(member.seal(WEB, "r.example.com", "berth", "s3cret"));
    StoredCredential otherPassword = print(member.seal(WEB, "r.example.com", "berth", "s3cret2"));
    StoredCredential otherUser = print(member.seal(WEB, "r.example.com", "berth2", "s3cret"));
    assertFalse(a.getSealed().equals(again.getSealed()));
    assertTrue(CredentialVault.same(List.of(a), List.of(again)));
    assertTrue(CredentialVault.same(List.of(), List.of()));
    assertFalse(CredentialVault.same(List.of(a), List.of(otherPassword)));
    assertFalse(CredentialVault.same(List.of(a), List.of(otherUser)));
    assertFalse(CredentialVault.same(List.of(a), List.of(a, again)));
    assertFalse(CredentialVault.same(List.of(a.toBuilder().clearFingerprint().build()),
        List.of(again.toBuilder().clearFingerprint().build())), "without fingerprints nothing is known to be the same");
    assertFalse(a.getFingerprint().toStringUtf8().contains("s3cret"));
  }

  @Test
  void loginsAreKeptSealed() {
    server.publish();
    RegistryLogins logins = new RegistryLogins(store, member);
    logins.put("r.example.com", "berth", "s3cret");
    byte[] raw = store.get(RegistryLogins.TABLE, "r.example.com").orElseThrow().value();
    assertFalse(new String(raw, StandardCharsets.ISO_8859_1).contains("s3cret"));
    assertEquals("s3cret", server.open(logins.get("r.example.com").orElseThrow(), Scope.CLUSTER));
  }

  /** A sealed credential, the scope it is sealed for, and another it must not open as. */
  static Stream<Arguments> otherScopes() {
    return Stream.of(
        Arguments.of(Scope.job("a"), Scope.job("b")),
        Arguments.of(Scope.job("a"), Scope.CLUSTER),
        Arguments.of(Scope.CLUSTER, Scope.job("a")),
        // A job may be called anything a login's scope is made of.
        Arguments.of(Scope.CLUSTER, Scope.job("cluster")),
        Arguments.of(Scope.job("cluster"), Scope.CLUSTER),
        Arguments.of(Scope.job("a"), Scope.job("A")),
        Arguments.of(Scope.job("web"), Scope.job("web ")));
  }

  @ParameterizedTest(name = "sealed for {0}, opened as {1}")
  @MethodSource("otherScopes")
  void aCredentialOpensOnlyAsWhatItWasSealedFor(Scope sealedFor, Scope openedAs) {
    server.publish();
    StoredCredential c = member.seal(sealedFor, "registry.example.com", "berth", "s3cret");
    assertEquals("s3cret", server.open(c, sealedFor));
    BerthException e = assertThrows(BerthException.class, () -> server.open(c, openedAs));
    assertEquals(BerthException.Kind.PERMISSION_DENIED, e.kind());
    assertEquals("the credential of berth for registry registry.example.com " + openedAs.keptAs()
        + " was not sealed for " + openedAs + ": it was copied from another job's credentials or a login, or altered",
        e.getMessage());
    assertThrows(BerthException.class, () -> server.fingerprint(c, openedAs));
  }

  /**
   * Scopes and credentials whose fields run together alike (job "ab" with registry "c" and job
   * "a" with registry "bc"; a job named like a login's fields; no scope at all): each one's
   * associated data is its own, and a credential sealed as one, its record rewritten to read as
   * another, does not open as that.
   */
  @Test
  void scopesThatDifferOnlyInHowTheirFieldsSplitNeverCollide() {
    server.publish();
    record Case(Scope scope, String registry, String username) {}
    List<Case> cases = List.of(
        new Case(Scope.job("ab"), "c", "u"),
        new Case(Scope.job("a"), "bc", "u"),
        new Case(Scope.job("a"), "b", "cu"),
        new Case(Scope.job("abc"), "", "u"),
        new Case(Scope.job("cluster"), "r", "u"),
        new Case(Scope.CLUSTER, "r", "u"),
        new Case(Scope.CLUSTER, "job", "r"),
        new Case(Scope.job("r"), "u", ""),
        new Case(Scope.CLUSTER, "", "ru"),
        new Case(Scope.CLUSTER, "ru", ""));
    List<byte[]> aads = new ArrayList<>();
    cases.forEach(c -> aads.add(CredentialVault.aad(c.scope(), c.registry(), c.username())));
    aads.add(CredentialVault.unscopedAad("r", "u"));
    aads.add(CredentialVault.unscopedAad("job", "r"));
    for (int i = 0; i < aads.size(); i++) {
      for (int j = i + 1; j < aads.size(); j++) {
        assertFalse(Arrays.equals(aads.get(i), aads.get(j)), "cases " + i + " and " + j + " encode alike");
      }
    }
    for (Case sealed : cases) {
      StoredCredential c = member.seal(sealed.scope(), sealed.registry(), sealed.username(), "s3cret");
      assertEquals("s3cret", server.open(c, sealed.scope()));
      for (Case other : cases) {
        if (other != sealed) {
          StoredCredential rewritten = c.toBuilder().setRegistry(other.registry()).setUsername(other.username())
              .build();
          assertThrows(BerthException.class, () -> server.open(rewritten, other.scope()),
              sealed + " opens as " + other);
        }
      }
    }
  }

  @Test
  void aCredentialSealedBeforeScopesSaysToGiveItAgain() {
    server.publish();
    StoredCredential old = StoredCredential.newBuilder().setRegistry("r.example.com").setUsername("berth")
        .setSealKey(key.id()).setSealed(ByteString.copyFrom(SealKey.seal(key.publicKey(),
            CredentialVault.unscopedAad("r.example.com", "berth"), "s3cret".getBytes(StandardCharsets.UTF_8))))
        .build();
    BerthException job = assertThrows(BerthException.class, () -> server.open(old, WEB));
    assertEquals(BerthException.Kind.FAILED_PRECONDITION, job.kind());
    assertEquals("the credential of berth for registry r.example.com kept with job web was sealed before credentials "
        + "were bound to the job or login they are for, and no longer opens; give it again: run job web again with its "
        + "registry credentials (berth job run --registry-auth r.example.com=USER:PASSWORD, or --with-registry-auth)",
        job.getMessage());
    BerthException login = assertThrows(BerthException.class, () -> server.open(old, Scope.CLUSTER));
    assertEquals(BerthException.Kind.FAILED_PRECONDITION, login.kind());
    assertEquals("the credential of berth for registry r.example.com kept as the cluster's login was sealed before "
        + "credentials were bound to the job or login they are for, and no longer opens; give it again: log in again: "
        + "berth login --cluster r.example.com", login.getMessage());
    // Given again, it is not the same as what was kept, so a job run again with it takes it.
    StoredCredential oldPrint = old.toBuilder().setFingerprint(ByteString.copyFrom(key.fingerprint(
        CredentialVault.fields("fingerprint", "r.example.com", "berth", "s3cret")))).build();
    assertFalse(CredentialVault.same(List.of(oldPrint), List.of(print(member.seal(WEB, "r.example.com", "berth",
        "s3cret")))));
  }

  @Test
  void aCredentialKeptBeforeSealingSaysToGiveItAgain() {
    server.publish();
    StoredCredential plain = StoredCredential.newBuilder().setRegistry("r.example.com").setUsername("berth").build();
    assertEquals("the credential of berth for registry r.example.com kept as the cluster's login holds no sealed "
        + "password (kept by an agent before credentials were sealed); give it again: log in again: berth login "
        + "--cluster r.example.com", assertThrows(BerthException.class, () -> server.open(plain, Scope.CLUSTER))
        .getMessage());
  }

  @Test
  void aScopeIsAJobWithANameOrTheCluster() {
    assertThrows(IllegalArgumentException.class, () -> Scope.job(""));
    assertThrows(IllegalArgumentException.class, () -> new Scope("cluster", "x"));
    assertThrows(IllegalArgumentException.class, () -> new Scope("node", "n1"));
  }

  private StoredCredential print(StoredCredential c) {
    return c.toBuilder().setFingerprint(ByteString.copyFrom(server.fingerprint(c, WEB))).build();
  }
}
