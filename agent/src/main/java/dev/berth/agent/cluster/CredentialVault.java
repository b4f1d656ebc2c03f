package dev.berth.agent.cluster;

import dev.berth.agent.BerthException;
import dev.berth.proto.v1.StoredCredential;
import com.google.protobuf.ByteString;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.List;
import java.util.Optional;

/**
 * Registry credentials as the replicated state keeps them: sealed to the servers' seal key
 * ({@link SealKey}), whose public half the servers publish in the table {@value #TABLE}. Every
 * agent {@linkplain #seal seals}; only an agent holding the seal key (a server) {@linkplain #open
 * opens} or {@linkplain #fingerprint fingerprints}.
 *
 * <p>Every server of a cluster must be given the same key: the first to reach the store publishes
 * its public key, and a server whose key differs refuses to publish and to open, naming both keys
 * ({@link #publish}). A cluster whose servers have no key refuses to keep a credential at all,
 * naming the flag ({@link #seal}). Thread-safe; blocks as the store does.
 */
public final class CredentialVault {
  public static final String TABLE = "seal-key";
  static final String PUBLIC = "public";
  private static final String FLAG = "--seal-key";

  private final ClusterStore store;
  private final SealKey key;
  private volatile String conflict;

  /**
   * @param key this agent's seal key; null on an agent that has none (a plain member, or a
   *     server not given one)
   */
  public CredentialVault(ClusterStore store, SealKey key) {
    this.store = store;
    this.key = key;
  }

  /** Whether this agent holds the seal key (and it is the cluster's, as far as is known). */
  public boolean canOpen() {
    return key != null && conflict == null;
  }

  /**
   * Publishes this server's public key unless the cluster has one; {@code FAILED_PRECONDITION}
   * naming both keys when the cluster's is another (the servers were given different files).
   * Without a key: nothing. Idempotent.
   */
  public void publish() {
    if (key == null) {
      return;
    }
    byte[] mine = key.publicKey();
    Optional<ClusterStore.Entry> cur = store.get(TABLE, PUBLIC);
    if (cur.isEmpty()) {
      if (store.compareAndSet(TABLE, PUBLIC, ClusterStore.ABSENT, mine).isPresent()) {
        conflict = null;
        return;
      }
      cur = store.get(TABLE, PUBLIC);
    }
    if (cur.isPresent() && !MessageDigest.isEqual(cur.get().value(), mine)) {
      conflict = "this server's seal key " + key.id() + " (" + key.origin() + ") is not the cluster's, "
          + SealKey.idOf(cur.get().value()) + ": give every server the same " + FLAG + " file";
      throw BerthException.failedPrecondition(conflict);
    }
    conflict = null;
  }

  /**
   * The credential with its password sealed to the cluster's published seal key, and its
   * fingerprint left to {@code fingerprints}. {@code FAILED_PRECONDITION} naming {@value #FLAG}
   * when the cluster has none.
   */
  public StoredCredential seal(String registry, String username, String password) {
    byte[] pub = store.get(TABLE, PUBLIC).map(ClusterStore.Entry::value).orElseThrow(() ->
        BerthException.failedPrecondition("cannot keep the credential for registry " + registry + ": the cluster's "
            + "servers have no seal key to keep it sealed with (give each server the same berthd " + FLAG + " FILE)"));
    return StoredCredential.newBuilder().setRegistry(registry).setUsername(username)
        .setSealed(ByteString.copyFrom(SealKey.seal(pub, aad(registry, username), password.getBytes(StandardCharsets.UTF_8))))
        .setSealKey(SealKey.idOf(pub))
        .build();
  }

  /** The password of a sealed credential; only where {@link #canOpen()}. */
  public String open(StoredCredential c) {
    SealKey k = requireKey();
    String what = "the credential of " + c.getUsername() + " for registry " + c.getRegistry();
    if (c.getSealed().isEmpty()) {
      throw BerthException.failedPrecondition(what + " holds no sealed password (kept by an agent before credentials"
          + " were sealed); give it again");
    }
    if (!c.getSealKey().equals(k.id())) {
      throw BerthException.failedPrecondition(what + " was sealed to the seal key " + c.getSealKey()
          + ", not to this server's " + k.id() + " (" + k.origin() + "); give every server the same " + FLAG + " file");
    }
    return new String(k.open(c.getSealed().toByteArray(), aad(c.getRegistry(), c.getUsername()), what),
        StandardCharsets.UTF_8);
  }

  /** {@link StoredCredential#getFingerprint() The fingerprint} of a sealed credential; only where {@link #canOpen()}. */
  public byte[] fingerprint(StoredCredential c) {
    String password = open(c);
    return requireKey().fingerprint(fields("fingerprint", c.getRegistry(), c.getUsername(), password));
  }

  /**
   * The tag of an allocation's canonical encoding ({@link SealKey#allocationTag}); only where
   * {@link #canOpen()}: the servers alone make and check tags.
   */
  public byte[] allocationTag(byte[] canonical) {
    return requireKey().allocationTag(canonical);
  }

  /** The id of this agent's seal key (what tags and sealed credentials name); only where {@link #canOpen()}. */
  public String keyId() {
    return requireKey().id();
  }

  /**
   * Whether two lists of fingerprinted credentials say the same: the same registries and
   * usernames in the same order, with equal fingerprints (the sealed bytes differ on every seal).
   * A credential without a fingerprint is never the same as anything.
   */
  public static boolean same(List<StoredCredential> a, List<StoredCredential> b) {
    if (a.size() != b.size()) {
      return false;
    }
    for (int i = 0; i < a.size(); i++) {
      StoredCredential x = a.get(i);
      StoredCredential y = b.get(i);
      if (!x.getRegistry().equals(y.getRegistry()) || !x.getUsername().equals(y.getUsername())
          || x.getFingerprint().isEmpty()
          || !MessageDigest.isEqual(x.getFingerprint().toByteArray(), y.getFingerprint().toByteArray())) {
        return false;
      }
    }
    return true;
  }

  private SealKey requireKey() {
    if (key == null) {
      throw BerthException.failedPrecondition("this agent holds no seal key, so it cannot open registry credentials: "
          + "only the cluster's servers do, given berthd " + FLAG + " FILE");
    }
    String c = conflict;
    if (c != null) {
      throw BerthException.failedPrecondition(c);
    }
    return key;
  }

  /** The associated data of a sealed password: which credential it is. */
  static byte[] aad(String registry, String username) {
    return fields("credential", registry, username);
  }

  /** Length-prefixed UTF-8 fields after a label: no two lists of fields encode alike. */
  private static byte[] fields(String label, String... values) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      for (String v : concat("berth v1 " + label, values)) {
        byte[] b = v.getBytes(StandardCharsets.UTF_8);
        out.writeInt(b.length);
        out.write(b);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  private static String[] concat(String first, String[] rest) {
    String[] all = new String[rest.length + 1];
    all[0] = first;
    System.arraycopy(rest, 0, all, 1, rest.length);
    return all;
  }

  @Override
  public String toString() {
    return "credential vault (" + (key == null ? "no seal key" : key) + ")";
  }
}
