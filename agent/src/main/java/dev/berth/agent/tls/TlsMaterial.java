package dev.berth.agent.tls;

import dev.berth.agent.BerthException;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.netty.handler.ssl.ClientAuth;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateFactory;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLException;
import javax.net.ssl.TrustManagerFactory;

/**
 * This node's TLS identity in the cluster: the cluster CA it trusts (and nothing else), its own
 * certificate chain, and its key. Immutable and thread-safe.
 *
 * <p>{@link #load} checks everything it can before the agent serves, so a wrong file fails the
 * start with a message that names it, instead of every handshake failing later: the CA is a CA,
 * the certificate is signed by it and in date, the key is the certificate's, and the certificate
 * is a node's ({@link NodeCertificate#isNode}: TLS server and client, as agents dial each other);
 * {@link #requireNode} then checks that it names this agent's node. On Atomix's messaging peers
 * are authenticated by the chain alone: any certificate of the cluster CA gets through its
 * handshake (Atomix 3.1 builds its own trust manager from the trust store file and never shows
 * the peer's certificate to Berth). A gRPC call that claims a node's identity is held to the
 * certificate's role and names by {@link NodeIdentityInterceptor}.
 */
public final class TlsMaterial {
  private static final String CA_ALIAS = "berth-cluster-ca";
  private static final String NODE_ALIAS = "berth-node";

  private final X509Certificate ca;
  private final List<X509Certificate> chain;
  private final PrivateKey key;
  private final Path certFile;

  private TlsMaterial(X509Certificate ca, List<X509Certificate> chain, PrivateKey key, Path certFile) {
    this.ca = ca;
    this.chain = List.copyOf(chain);
    this.key = key;
    this.certFile = certFile;
  }

  /**
   * Reads and checks the PEM files; throws {@code INVALID_ARGUMENT} naming the file and the reason
   * (unreadable, not PEM, not a CA, not signed by the cluster CA, expired, wrong key, wrong usage).
   */
  public static TlsMaterial load(Path caFile, Path certFile, Path keyFile, Instant now) {
    X509Certificate ca = certificates(caFile).get(0);
    if (ca.getBasicConstraints() < 0) {
      throw BerthException.invalid("the cluster CA " + caFile + " is not a CA certificate (no basicConstraints CA:true)");
    }
    inDate(caFile, "the cluster CA", ca, now);
    List<X509Certificate> chain = certificates(certFile);
    X509Certificate leaf = chain.get(0);
    String who = "the certificate " + certFile + " (" + leaf.getSubjectX500Principal().getName() + ")";
    try {
      leaf.verify(ca.getPublicKey());
    } catch (GeneralSecurityException e) {
      throw BerthException.invalid(who + " is not signed by the cluster CA " + caFile);
    }
    inDate(certFile, who, leaf, now);
    if (!NodeCertificate.isNode(leaf)) {
      List<String> usage = NodeCertificate.usage(leaf);
      throw BerthException.invalid(who + " is not usable as TLS server and client (its extendedKeyUsage is "
          + (usage == null ? "absent" : usage) + "), so it is not a node's: make it with 'berth cert node NAME'");
    }
    PrivateKey key = privateKey(keyFile);
    if (!fits(key, leaf)) {
      throw BerthException.invalid("the key " + keyFile + " is not the key of " + who);
    }
    return new TlsMaterial(ca, chain, key, certFile);
  }

  /**
   * Checks that the certificate is node {@code node}'s: its common name or one of its DNS names is
   * {@code node} ({@code berth cert node NAME} makes both). Throws {@code INVALID_ARGUMENT} that
   * says which names the certificate has and which one was expected; returns this otherwise.
   */
  public TlsMaterial requireNode(String node) {
    List<String> names = NodeCertificate.names(certificate());
    if (!names.contains(node)) {
      throw BerthException.invalid("the certificate " + certFile + " (" + certificate().getSubjectX500Principal().getName()
          + ") is not this node's: it names " + (names.isEmpty() ? "nothing" : String.join(", ", names))
          + " (its common name and DNS names), but this agent is the node " + node + " (--node, else the host name); "
          + "make its certificate with 'berth cert node " + node + "', or give --node one of those names");
    }
    return this;
  }

  /** The cluster CA's certificate. */
  public X509Certificate ca() {
    return ca;
  }

  /** This node's certificate. */
  public X509Certificate certificate() {
    return chain.get(0);
  }

  /**
   * A gRPC server context that presents this node's certificate and requires every client to
   * present one signed by the cluster CA (ClientAuth.REQUIRE): a client without a certificate,
   * or with one of another CA, fails the handshake before any call.
   */
  public SslContext grpcServerContext() {
    try {
      return GrpcSslContexts.configure(SslContextBuilder.forServer(keyManagers()))
          .trustManager(trustManagers())
          .clientAuth(ClientAuth.REQUIRE)
          .build();
    } catch (SSLException e) {
      throw BerthException.internal("building the TLS context of the gRPC server from " + certFile, e);
    }
  }

  /** A gRPC client context with the same identity and trust, for one agent calling another. */
  public SslContext grpcClientContext() {
    try {
      return GrpcSslContexts.configure(SslContextBuilder.forClient().keyManager(keyManagers()).trustManager(trustManagers()))
          .build();
    } catch (SSLException e) {
      throw BerthException.internal("building the TLS context of a gRPC client from " + certFile, e);
    }
  }

  /**
   * Key and trust stores for a library that takes files (Atomix's messaging): PKCS#12 files in
   * {@code dir} (made 0700), each 0600, under a fresh random password that only the returned
   * value holds. Rewritten at every start, so a replaced certificate takes effect on restart.
   */
  public KeyStores writeKeyStores(Path dir) {
    String password = HexFormat.of().formatHex(new SecureRandom().generateSeed(16));
    try {
      Files.createDirectories(dir);
      Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
      Path keyStore = dir.resolve("node.p12");
      Path trustStore = dir.resolve("ca.p12");
      writeSecret(keyStore, store(true, password.toCharArray()));
      writeSecret(trustStore, store(false, password.toCharArray()));
      return new KeyStores(keyStore, trustStore, password);
    } catch (IOException | GeneralSecurityException e) {
      throw BerthException.internal("writing the TLS key stores under " + dir + ": " + e.getMessage(), e);
    }
  }

  /**
   * PKCS#12 files and their password.
   *
   * @param keyStore this node's key and certificate chain
   * @param trustStore the cluster CA as the only trusted entry
   * @param password of both stores and of the key entry
   */
  public record KeyStores(Path keyStore, Path trustStore, String password) {
    @Override
    public String toString() {
      return "KeyStores[" + keyStore + ", " + trustStore + "]";  // never the password
    }
  }

  private KeyManagerFactory keyManagers() {
    try {
      char[] pass = new char[0];
      KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(keyStore(true, pass), pass);
      return kmf;
    } catch (GeneralSecurityException | IOException e) {
      throw BerthException.internal("loading the key of " + certFile, e);
    }
  }

  private TrustManagerFactory trustManagers() {
    try {
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(keyStore(false, null));
      return tmf;
    } catch (GeneralSecurityException | IOException e) {
      throw BerthException.internal("loading the cluster CA", e);
    }
  }

  private KeyStore keyStore(boolean identity, char[] password) throws GeneralSecurityException, IOException {
    KeyStore ks = KeyStore.getInstance("PKCS12");
    ks.load(null, null);
    if (identity) {
      ks.setKeyEntry(NODE_ALIAS, key, password, chain.toArray(X509Certificate[]::new));
    } else {
      ks.setCertificateEntry(CA_ALIAS, ca);
    }
    return ks;
  }

  private byte[] store(boolean identity, char[] password) throws GeneralSecurityException, IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    keyStore(identity, password).store(out, password);
    return out.toByteArray();
  }

  /** Writes into a temporary file created 0600, then renames it over {@code file}. */
  private static void writeSecret(Path file, byte[] content) throws IOException {
    Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
    Files.deleteIfExists(tmp);
    try (FileChannel ch = FileChannel.open(tmp, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))) {
      ByteBuffer b = ByteBuffer.wrap(content);
      while (b.hasRemaining()) {
        ch.write(b);
      }
      ch.force(true);
    }
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  private static void inDate(Path file, String who, X509Certificate c, Instant now) {
    try {
      c.checkValidity(Date.from(now));
    } catch (CertificateExpiredException e) {
      throw BerthException.invalid(who + " in " + file + " expired on " + c.getNotAfter().toInstant());
    } catch (CertificateNotYetValidException e) {
      throw BerthException.invalid(who + " in " + file + " is not valid before " + c.getNotBefore().toInstant());
    }
  }

  private static boolean fits(PrivateKey key, X509Certificate cert) {
    String alg = switch (key.getAlgorithm()) {
      case "EC" -> "SHA256withECDSA";
      case "RSA" -> "SHA256withRSA";
      default -> key.getAlgorithm();
    };
    try {
      byte[] nonce = new byte[32];
      new SecureRandom().nextBytes(nonce);
      Signature s = Signature.getInstance(alg);
      s.initSign(key);
      s.update(nonce);
      byte[] sig = s.sign();
      Signature v = Signature.getInstance(alg);
      v.initVerify(cert.getPublicKey());
      v.update(nonce);
      return v.verify(sig);
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  // PEM, with the JDK alone: Base64 DER between BEGIN and END lines.

  private static List<X509Certificate> certificates(Path file) {
    List<X509Certificate> out = new ArrayList<>();
    try {
      CertificateFactory f = CertificateFactory.getInstance("X.509");
      for (byte[] der : pem(file, "CERTIFICATE")) {
        out.add((X509Certificate) f.generateCertificate(new ByteArrayInputStream(der)));
      }
    } catch (CertificateException e) {
      throw BerthException.invalid(file + " does not hold a valid X.509 certificate: " + e.getMessage());
    }
    return out;
  }

  private static PrivateKey privateKey(Path file) {
    String text = read(file);
    if (text.contains("-----BEGIN EC PRIVATE KEY-----") || text.contains("-----BEGIN RSA PRIVATE KEY-----")) {
      throw BerthException.invalid(file + " holds a key in the traditional OpenSSL format; convert it to PKCS#8 with "
          + "'openssl pkcs8 -topk8 -nocrypt -in " + file + "'");
    }
    PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(pem(file, "PRIVATE KEY").get(0));
    for (String alg : new String[] {"EC", "RSA"}) {
      try {
        return KeyFactory.getInstance(alg).generatePrivate(spec);
      } catch (GeneralSecurityException tryNext) {
        // not this algorithm
      }
    }
    throw BerthException.invalid(file + " does not hold an EC or RSA private key in PKCS#8 (BEGIN PRIVATE KEY)");
  }

  private static List<byte[]> pem(Path file, String type) {
    String text = read(file);
    String begin = "-----BEGIN " + type + "-----";
    String end = "-----END " + type + "-----";
    List<byte[]> out = new ArrayList<>();
    for (int from = text.indexOf(begin); from >= 0; from = text.indexOf(begin, from)) {
      int e = text.indexOf(end, from);
      if (e < 0) {
        throw BerthException.invalid(file + ": \"" + begin + "\" without its END line");
      }
      try {
        out.add(Base64.getMimeDecoder().decode(text.substring(from + begin.length(), e)));
      } catch (IllegalArgumentException bad) {
        throw BerthException.invalid(file + ": a " + type + " block is not valid Base64");
      }
      from = e + end.length();
    }
    if (out.isEmpty()) {
      throw BerthException.invalid(file + " holds no " + type + " in PEM");
    }
    return out;
  }

  private static String read(Path file) {
    try {
      return Files.readString(file, StandardCharsets.ISO_8859_1);
    } catch (IOException e) {
      throw BerthException.invalid("cannot read " + file + ": " + e.getMessage());
    }
  }
}
