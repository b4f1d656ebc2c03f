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
 * opens} or {@linkplain #fingerprint fingerprints}. Each credential is sealed for a {@link Scope}
 * (its job, or the cluster's logins) and opens only as that: every agent can write the replicated
 * state, and sealed bytes copied into another job's record must give that job nothing.
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
   * What a sealed credential is for, bound into its seal's associated data: it opens only as what
   * it was sealed for. The opener names the scope from what it trusts (the job a tagged allocation
   * belongs to, or the table it read a cluster login from), never from a field a writer of the
   * replicated state controls, so sealed bytes copied into another job's record or between jobs and
   * logins do not open there.
   *
   * @param kind {@code "job"} or {@code "cluster"}
   * @param name the job's name; empty for the cluster's logins
   */
  public record Scope(String kind, String name) {
    /** The cluster's logins ({@code berth login --cluster}), one table for the whole cluster. */
    public static final Scope CLUSTER = new Scope("cluster", "");

    public Scope {
      boolean job = kind.equals("job");
      if (!job && !kind.equals("cluster")) {
        throw new IllegalArgumentException("a credential scope is a job or the cluster, not " + kind);
      }
      if (job == name.isBlank()) {
        throw new IllegalArgumentException(job ? "a job's credential scope names the job"
            : "the cluster's scope has no name");
      }
    }

    /** A job's own credentials, for the job of that name. */
    public static Scope job(String name) {
      return new Scope("job", name);
    }

    public boolean isJob() {
      return kind.equals("job");
    }

    /** Where a credential of this scope is kept, as an error message says it. */
    String keptAs() {
      return isJob() ? "kept with job " + name : "kept as the cluster's login";
    }

    /** How a user gives a credential of this scope again. */
    String giveAgain(String registry) {
      return isJob() ? "run job " + name + " again with its registry credentials (berth job run --registry-auth "
          + registry + "=USER:PASSWORD, or --with-registry-auth)" : "log in again: berth login --cluster " + registry;
    }

    @Override
    public String toString() {
      return isJob() ? "job " + name : "the cluster's logins";
    }
  }

  /**
   * The credential with its password sealed to the cluster's published seal key for {@code scope},
   * and its fingerprint left to {@code fingerprints}. {@code FAILED_PRECONDITION} naming {@value
   * #FLAG} when the cluster has none.
   */
  public StoredCredential seal(Scope scope, String registry, String username, String password) {
    byte[] pub = store.get(TABLE, PUBLIC).map(ClusterStore.Entry::value).orElseThrow(() ->
        BerthException.failedPrecondition("cannot keep the credential for registry " + registry + ": the cluster's "
            + "servers have no seal key to keep it sealed with (give each server the same berthd " + FLAG + " FILE)"));
    return StoredCredential.newBuilder().setRegistry(registry).setUsername(username)
        .setSealed(ByteString.copyFrom(SealKey.seal(pub, aad(scope, registry, username),
            password.getBytes(StandardCharsets.UTF_8))))
        .setSealKey(SealKey.idOf(pub))
        .build();
  }

  /**
   * The password of a credential sealed for {@code scope}; only where {@link #canOpen()}. {@code
   * PERMISSION_DENIED} when it was not sealed for {@code scope} (copied from another job's record
   * or a login, or altered: the two cannot be told apart); {@code FAILED_PRECONDITION}, saying how
   * to give it again, when it was kept before credentials were sealed or before they were bound to a
   * scope, and naming both keys when it was sealed to another one.
   */
  public String open(StoredCredential c, Scope scope) {
    SealKey k = requireKey();
    String what = "the credential of " + c.getUsername() + " for registry " + c.getRegistry() + " " + scope.keptAs();
    if (c.getSealed().isEmpty()) {
      throw BerthException.failedPrecondition(what + " holds no sealed password (kept by an agent before credentials"
          + " were sealed); give it again: " + scope.giveAgain(c.getRegistry()));
    }
    if (!c.getSealKey().equals(k.id())) {
      throw BerthException.failedPrecondition(what + " was sealed to the seal key " + c.getSealKey()
          + ", not to this server's " + k.id() + " (" + k.origin() + "); give every server the same " + FLAG + " file");
    }
    byte[] sealed = c.getSealed().toByteArray();
    try {
      return new String(k.open(sealed, aad(scope, c.getRegistry(), c.getUsername()), what), StandardCharsets.UTF_8);
    } catch (BerthException notHere) {
      if (opensUnscoped(k, sealed, c)) {
        throw BerthException.failedPrecondition(what + " was sealed before credentials were bound to the job or "
            + "login they are for, and no longer opens; give it again: " + scope.giveAgain(c.getRegistry()));
      }
      throw new BerthException(BerthException.Kind.PERMISSION_DENIED, what + " was not sealed for " + scope
          + ": it was copied from another job's credentials or a login, or altered", notHere);
    }
  }

  /**
   * Whether {@code sealed} opens as credentials were sealed before they had a scope: only to say
   * so. What it opens to is dropped, so such bytes give nothing wherever they are copied.
   */
  private static boolean opensUnscoped(SealKey k, byte[] sealed, StoredCredential c) {
    try {
      k.open(sealed, unscopedAad(c.getRegistry(), c.getUsername()), "an unscoped credential");
      return true;
    } catch (BerthException e) {
      return false;
    }
  }

  /**
   * {@link StoredCredential#getFingerprint() The fingerprint} of a credential sealed for {@code
   * scope}; only where {@link #canOpen()}. The scope is part of it, so a credential sealed before
   * scopes existed never counts as the same as one given again.
   */
  public byte[] fingerprint(StoredCredential c, Scope scope) {
    String password = open(c, scope);
    return requireKey().fingerprint(fields("scoped fingerprint", scope.kind(), scope.name(), c.getRegistry(),
        c.getUsername(), password));
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

  /**
   * The associated data of a sealed password: what it is for and which credential it is. Every
   * scope gives the same five fields (a cluster login an empty name), length-prefixed, under a label
   * of its own, so no scope, registry or username can be split or shifted into another's, nor into
   * {@link #unscopedAad}'s.
   */
  static byte[] aad(Scope scope, String registry, String username) {
    return fields("scoped credential", scope.kind(), scope.name(), registry, username);
  }

  /** The associated data of a password sealed before credentials had a scope: only recognized, never opened to use. */
  static byte[] unscopedAad(String registry, String username) {
    return fields("credential", registry, username);
  }

  /** Length-prefixed UTF-8 fields after a label: no two lists of fields encode alike. */
  static byte[] fields(String label, String... values) {
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
