package dev.berth.agent.cluster;

import dev.berth.agent.AtomicFiles;
import dev.berth.agent.BerthException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.interfaces.XECPrivateKey;
import java.security.spec.NamedParameterSpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.XECPublicKeySpec;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Set;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.KeyAgreement;
import javax.crypto.Mac;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * The servers' sealing key: what keeps registry passwords unreadable in the replicated state,
 * which every agent (plain members too) can read. Any agent {@linkplain #seal seals} with the
 * public half, which the servers publish; only an agent holding the private half (a server given
 * {@code --seal-key}) can {@linkplain #open open} it again.
 *
 * <p>The scheme, JDK crypto only: an ephemeral X25519 key agreement with the public key, HKDF-SHA256
 * (RFC 5869) of the shared secret into a fresh AES-256 key, AES-GCM over the secret with the
 * caller's associated data (for a credential, its scope, registry and username: {@code
 * CredentialVault.aad}, so a sealed password cannot be moved to another credential, job or login
 * unnoticed). Sealed bytes: version 1, the ephemeral public key (32 bytes),
 * the nonce (12), the ciphertext with its 16-byte tag. A new ephemeral key for every seal makes
 * equal secrets seal to different bytes; {@link #fingerprint} is what compares them.
 *
 * <p>{@link #allocationTag} is the servers' other use of the key: an HMAC-SHA256 under a key of its
 * own, HKDF-SHA256 of the private scalar with the label {@value #TAG_LABEL}, so that a tag never
 * doubles as a fingerprint or a seal and no one without the private key can make one.
 *
 * <p>The key file is the private key as PEM PKCS#8 ({@code openssl genpkey -algorithm X25519}
 * makes one); it must not be readable by others. Immutable and thread-safe.
 */
public final class SealKey {
  static final int VERSION = 1;
  static final int KEY_BYTES = 32;
  static final int NONCE_BYTES = 12;
  static final int TAG_BITS = 128;
  private static final byte[] HKDF_INFO = "berth credential seal v1".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] FINGERPRINT_LABEL = "berth credential fingerprint v1".getBytes(StandardCharsets.US_ASCII);
  static final String TAG_LABEL = "berth allocation tag v1";
  private static final String PEM_BEGIN = "-----BEGIN PRIVATE KEY-----";
  private static final String PEM_END = "-----END PRIVATE KEY-----";
  private static final SecureRandom RANDOM = new SecureRandom();

  private final PrivateKey key;
  private final byte[] publicKey;
  private final byte[] fingerprintKey;
  private final byte[] tagKey;
  private final String origin;

  private SealKey(PrivateKey key, String origin) {
    this.key = key;
    this.origin = origin;
    this.publicKey = publicOf(key);
    byte[] scalar = ((XECPrivateKey) key).getScalar().orElseThrow(
        () -> new IllegalArgumentException("an X25519 private key without its scalar"));
    this.fingerprintKey = hmac(hmacKey(scalar), FINGERPRINT_LABEL);
    // RFC 5869 without a salt: a hash-length string of zeros.
    this.tagKey = hkdf(scalar, new byte[KEY_BYTES], TAG_LABEL.getBytes(StandardCharsets.US_ASCII));
  }

  /** A new key, in memory only; {@code origin} names it in errors. */
  public static SealKey generate(String origin) {
    try {
      return new SealKey(KeyPairGenerator.getInstance("X25519").generateKeyPair().getPrivate(), origin);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("this JDK cannot make an X25519 key", e);
    }
  }

  /**
   * Reads the key file {@code file} (PEM PKCS#8, X25519). {@code FAILED_PRECONDITION} naming the
   * file when it is missing, unreadable, not such a key, or readable or writable by others.
   */
  public static SealKey load(Path file) {
    String text;
    try {
      Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file);
      if (perms.contains(PosixFilePermission.OTHERS_READ) || perms.contains(PosixFilePermission.OTHERS_WRITE)) {
        throw BerthException.failedPrecondition("the seal key " + file + " is accessible to other users ("
            + PosixFilePermissions.toString(perms) + "); it opens every registry password of the cluster: chmod 600 it");
      }
      text = Files.readString(file, StandardCharsets.US_ASCII);
    } catch (NoSuchFileException e) {
      throw BerthException.failedPrecondition("the seal key " + file + " does not exist (--seal-key): make one with "
          + "'openssl genpkey -algorithm X25519 -out " + file + "' and give every server the same file");
    } catch (IOException e) {
      throw BerthException.failedPrecondition("cannot read the seal key " + file + ": " + e.getMessage());
    }
    int begin = text.indexOf(PEM_BEGIN);
    int end = text.indexOf(PEM_END);
    if (begin < 0 || end < begin) {
      throw BerthException.failedPrecondition("the seal key " + file + " is not a PEM private key (" + PEM_BEGIN
          + "); make one with 'openssl genpkey -algorithm X25519'");
    }
    try {
      byte[] der = Base64.getMimeDecoder().decode(text.substring(begin + PEM_BEGIN.length(), end));
      return new SealKey(KeyFactory.getInstance("XDH").generatePrivate(new PKCS8EncodedKeySpec(der)), file.toString());
    } catch (IllegalArgumentException | GeneralSecurityException | ClassCastException e) {
      throw BerthException.failedPrecondition("the seal key " + file + " is not an X25519 private key ("
          + e.getMessage() + "); make one with 'openssl genpkey -algorithm X25519'");
    }
  }

  /**
   * The key of {@code file}, made there first if there is none: for the agent that is its
   * cluster's only server and was given no key. The file is written crash-safely into a directory
   * only root can enter, and is itself root-only (0600).
   */
  public static SealKey loadOrCreate(Path file) {
    if (Files.exists(file)) {
      return load(file);
    }
    SealKey k = generate(file.toString());
    try {
      Path dir = file.toAbsolutePath().getParent();
      Files.createDirectories(dir);
      Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
      AtomicFiles.write(file, k.pem().getBytes(StandardCharsets.US_ASCII));
      Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    } catch (IOException | java.io.UncheckedIOException e) {
      throw BerthException.failedPrecondition("cannot keep the cluster's seal key in " + file + ": " + e.getMessage());
    }
    return k;
  }

  /** The private key as a PEM PKCS#8 file holds it. */
  String pem() {
    return PEM_BEGIN + "\n" + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
        .encodeToString(key.getEncoded()) + "\n" + PEM_END + "\n";
  }

  /** The public key: the 32 bytes of its X25519 u-coordinate (RFC 7748). */
  public byte[] publicKey() {
    return publicKey.clone();
  }

  /** Short name of this key: the first 16 hex digits of its public key's SHA-256. */
  public String id() {
    return idOf(publicKey);
  }

  /** Where the key came from (its file), for errors. */
  public String origin() {
    return origin;
  }

  /** {@link #id()} of the public key {@code publicKey}. */
  public static String idOf(byte[] publicKey) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(publicKey), 0, 8);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Seals {@code secret} to the holder of the private key of {@code publicKey} (32 bytes, as
   * {@link #publicKey()}); {@code aad} must be given again to open it.
   */
  public static byte[] seal(byte[] publicKey, byte[] aad, byte[] secret) {
    if (publicKey.length != KEY_BYTES) {
      throw BerthException.failedPrecondition("the cluster's published seal key has " + publicKey.length
          + " bytes, not the " + KEY_BYTES + " of an X25519 key");
    }
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("X25519");
      var ephemeral = g.generateKeyPair();
      byte[] ephemeralPublic = uBytes((java.security.interfaces.XECPublicKey) ephemeral.getPublic());
      byte[] shared = agree(ephemeral.getPrivate(), publicFrom(publicKey));
      byte[] nonce = new byte[NONCE_BYTES];
      RANDOM.nextBytes(nonce);
      Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
      c.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(hkdf(shared, concat(ephemeralPublic, publicKey)), "AES"),
          new GCMParameterSpec(TAG_BITS, nonce));
      c.updateAAD(aad);
      byte[] sealed = c.doFinal(secret);
      ByteArrayOutputStream out = new ByteArrayOutputStream(1 + KEY_BYTES + NONCE_BYTES + sealed.length);
      out.write(VERSION);
      out.writeBytes(ephemeralPublic);
      out.writeBytes(nonce);
      out.writeBytes(sealed);
      return out.toByteArray();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("sealing failed", e);
    }
  }

  /**
   * Opens what {@link #seal} sealed to this key with the same {@code aad}. {@code
   * FAILED_PRECONDITION} when the bytes were altered, sealed to another key, or with other
   * associated data: AES-GCM authenticates all of it, so nothing is returned that was not sealed
   * as it is.
   */
  public byte[] open(byte[] sealed, byte[] aad, String what) {
    if (sealed.length < 1 + KEY_BYTES + NONCE_BYTES + TAG_BITS / 8 || sealed[0] != VERSION) {
      throw BerthException.failedPrecondition(what + " is not sealed in a form this agent knows ("
          + (sealed.length == 0 ? "empty" : "version " + sealed[0] + ", " + sealed.length + " bytes") + ")");
    }
    byte[] ephemeralPublic = Arrays.copyOfRange(sealed, 1, 1 + KEY_BYTES);
    byte[] nonce = Arrays.copyOfRange(sealed, 1 + KEY_BYTES, 1 + KEY_BYTES + NONCE_BYTES);
    try {
      byte[] shared = agree(key, publicFrom(ephemeralPublic));
      Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
      c.init(Cipher.DECRYPT_MODE, new SecretKeySpec(hkdf(shared, concat(ephemeralPublic, publicKey)), "AES"),
          new GCMParameterSpec(TAG_BITS, nonce));
      c.updateAAD(aad);
      return c.doFinal(sealed, 1 + KEY_BYTES + NONCE_BYTES, sealed.length - 1 - KEY_BYTES - NONCE_BYTES);
    } catch (AEADBadTagException e) {
      throw BerthException.failedPrecondition(what + " does not open with the seal key " + id() + " (" + origin
          + "): it was sealed to another key, or altered");
    } catch (GeneralSecurityException e) {
      throw BerthException.failedPrecondition(what + " does not open with the seal key " + id() + " (" + origin
          + "): " + e.getMessage());
    }
  }

  /**
   * HMAC-SHA256 of {@code data} under a key derived from this private key: equal inputs give
   * equal fingerprints on every server holding the key, and no one without it can compute one
   * (so, unlike a hash, it gives a member nothing to guess passwords against).
   */
  public byte[] fingerprint(byte[] data) {
    return hmac(fingerprintKey, data);
  }

  /**
   * HMAC-SHA256 of {@code data} under this key's allocation tag key (see the class): equal on
   * every server holding the key, and computable by no one else.
   */
  public byte[] allocationTag(byte[] data) {
    return hmac(tagKey, data);
  }

  private static byte[] agree(PrivateKey own, PublicKey peer) throws GeneralSecurityException {
    KeyAgreement ka = KeyAgreement.getInstance("X25519");
    ka.init(own);
    ka.doPhase(peer, true);
    return ka.generateSecret();
  }

  /** The public key of {@code key}: X25519 of its scalar with the base point u = 9. */
  private static byte[] publicOf(PrivateKey key) {
    try {
      return agree(key, publicFrom(BigInteger.valueOf(9)));
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException("not a usable X25519 key: " + e.getMessage(), e);
    }
  }

  private static PublicKey publicFrom(byte[] littleEndianU) throws GeneralSecurityException {
    byte[] be = new byte[littleEndianU.length];
    for (int i = 0; i < be.length; i++) {
      be[i] = littleEndianU[littleEndianU.length - 1 - i];
    }
    // RFC 7748: the top bit of the last byte is ignored for X25519.
    be[0] &= 0x7f;
    return publicFrom(new BigInteger(1, be));
  }

  private static PublicKey publicFrom(BigInteger u) throws GeneralSecurityException {
    return KeyFactory.getInstance("XDH").generatePublic(new XECPublicKeySpec(NamedParameterSpec.X25519, u));
  }

  private static byte[] uBytes(java.security.interfaces.XECPublicKey k) {
    byte[] be = k.getU().toByteArray();
    byte[] le = new byte[KEY_BYTES];
    for (int i = 0; i < Math.min(be.length, KEY_BYTES); i++) {
      le[i] = be[be.length - 1 - i];
    }
    return le;
  }

  /** HKDF-SHA256 (RFC 5869) of {@code ikm} for sealing: extract with {@code salt}, then one 32-byte block of expand. */
  private static byte[] hkdf(byte[] ikm, byte[] salt) {
    return hkdf(ikm, salt, HKDF_INFO);
  }

  static byte[] hkdf(byte[] ikm, byte[] salt, byte[] info) {
    byte[] prk = hmac(hmacKey(salt), ikm);
    return hmac(hmacKey(prk), concat(info, new byte[] {1}));
  }

  private static SecretKeySpec hmacKey(byte[] k) {
    return new SecretKeySpec(k, "HmacSHA256");
  }

  private static byte[] hmac(byte[] key, byte[] data) {
    return hmac(hmacKey(key), data);
  }

  private static byte[] hmac(SecretKeySpec key, byte[] data) {
    try {
      Mac m = Mac.getInstance("HmacSHA256");
      m.init(key);
      return m.doFinal(data);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  @Override
  public String toString() {
    return "seal key " + id() + " (" + origin + ")";
  }
}
