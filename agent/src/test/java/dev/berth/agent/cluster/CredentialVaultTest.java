package dev.berth.agent.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import dev.berth.proto.v1.StoredCredential;
import com.google.protobuf.ByteString;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Credentials in the replicated state: sealed by any agent to the key the servers published,
 * opened and fingerprinted only where the key is.
 */
class CredentialVaultTest {
  private final InMemoryClusterStore store = new InMemoryClusterStore();
  private final SealKey key = SealKey.generate("/etc/berth/seal-key.pem");
  private final CredentialVault server = new CredentialVault(store, key);
  private final CredentialVault member = new CredentialVault(store, null);

  @Test
  void withoutASealKeyACredentialIsNotKeptAndTheFlagIsNamed() {
    BerthException e = assertThrows(BerthException.class, () -> member.seal("registry.example.com", "berth", "s3cret"));
    assertEquals(BerthException.Kind.FAILED_PRECONDITION, e.kind());
    assertEquals("cannot keep the credential for registry registry.example.com: the cluster's servers have no seal "
        + "key to keep it sealed with (give each server the same berthd --seal-key FILE)", e.getMessage());
  }

  @Test
  void aMemberSealsWhatOnlyTheServerOpens() {
    server.publish();
    StoredCredential c = member.seal("registry.example.com", "berth", "s3cret");
    assertEquals(key.id(), c.getSealKey());
    assertFalse(c.toByteString().toStringUtf8().contains("s3cret"), "the stored record holds the password");
    assertEquals("s3cret", server.open(c));
    assertFalse(member.canOpen());
    BerthException e = assertThrows(BerthException.class, () -> member.open(c));
    assertEquals("this agent holds no seal key, so it cannot open registry credentials: only the cluster's servers do,"
        + " given berthd --seal-key FILE", e.getMessage());
    assertThrows(BerthException.class, () -> member.fingerprint(c));
  }

  @Test
  void aSealedPasswordMovedToAnotherUsernameDoesNotOpen() {
    server.publish();
    StoredCredential c = member.seal("registry.example.com", "berth", "s3cret");
    StoredCredential moved = c.toBuilder().setUsername("admin").build();
    BerthException e = assertThrows(BerthException.class, () -> server.open(moved));
    assertTrue(e.getMessage().contains("it was sealed to another key, or altered"), e.getMessage());
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
    StoredCredential c = member.seal("registry.example.com", "berth", "s3cret");
    assertEquals(e.getMessage(), assertThrows(BerthException.class, () -> second.open(c)).getMessage());
    // Publishing again is harmless for the right key.
    server.publish();
    assertTrue(server.canOpen());
  }

  @Test
  void aCredentialSealedToAnotherKeyNamesBoth() {
    server.publish();
    StoredCredential c = member.seal("registry.example.com", "berth", "s3cret").toBuilder().setSealKey("0123456789abcdef")
        .build();
    assertEquals("the credential of berth for registry registry.example.com was sealed to the seal key 0123456789abcdef,"
        + " not to this server's " + key.id() + " (/etc/berth/seal-key.pem); give every server the same --seal-key file",
        assertThrows(BerthException.class, () -> server.open(c)).getMessage());
  }

  @Test
  void fingerprintsTellTheSameCredentialSealedTwiceFromAnotherOne() {
    server.publish();
    StoredCredential a = print(member.seal("r.example.com", "berth", "s3cret"));
    StoredCredential again = print(member.seal("r.example.com", "berth", "s3cret"));
    StoredCredential otherPassword = print(member.seal("r.example.com", "berth", "s3cret2"));
    StoredCredential otherUser = print(member.seal("r.example.com", "berth2", "s3cret"));
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
    assertEquals("s3cret", server.open(logins.get("r.example.com").orElseThrow()));
  }

  private StoredCredential print(StoredCredential c) {
    return c.toBuilder().setFingerprint(ByteString.copyFrom(server.fingerprint(c))).build();
  }
}
