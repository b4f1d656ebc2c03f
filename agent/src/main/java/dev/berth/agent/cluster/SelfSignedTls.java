package dev.berth.agent.cluster;

import dev.berth.agent.BerthException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The messaging TLS of an agent that is a cluster of its own (the embedded default: no
 * {@code --join}, no {@code --tls-*}): a key and a self-signed certificate made once under the
 * data dir, the certificate its only trusted entry. Raft listens on loopback; without this, any
 * local process could connect and write the cluster's state (jobs run as root), which is why
 * plaintext messaging is only ever what {@code --tls-plaintext} asks for. No other agent holds
 * this certificate, so one that wants to join needs the cluster's CA ({@code berth cert}).
 *
 * <p>Made with the JDK's {@code keytool} (the JDK has no public API to sign a certificate, and
 * one self-signed certificate does not justify a library); kept while valid for 30 more days.
 * The stores are root-only files in a root-only directory; their password is a constant,
 * because PKCS#12 wants one and the file permissions are what protects them.
 */
public final class SelfSignedTls {
  /** The stores' password: the files' permissions protect them, not this. */
  static final String PASSWORD = "berth-self-signed";
  private static final Duration RENEW_BEFORE = Duration.ofDays(30);
  private static final String ALIAS = "node";

  private SelfSignedTls() {}

  /** Where the stores of a self-signed agent live under {@code dir}; made by {@link #ensure}. */
  public static MessagingTls at(Path dir) {
    return new MessagingTls(dir.resolve("node.p12"), dir.resolve("ca.p12"), PASSWORD, true);
  }

  /**
   * Makes the stores of {@code tls} unless valid ones for {@code node} are there. Seconds at
   * most (one keytool run); called on the cluster's start-up thread, never on the API's path.
   */
  static void ensure(MessagingTls tls, String node, Instant now) {
    if (valid(tls, node, now)) {
      return;
    }
    Path dir = tls.keyStore().getParent();
    try {
      Files.createDirectories(dir);
      Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
      Path tmp = dir.resolve("node.p12.tmp");
      Files.deleteIfExists(tmp);
      keytool(List.of("-genkeypair", "-alias", ALIAS, "-keyalg", "EC", "-groupname", "secp256r1",
          "-sigalg", "SHA256withECDSA", "-dname", "CN=" + dnSafe(node) + ",OU=berth self-signed", "-validity", "3650",
          "-storetype", "PKCS12", "-keystore", tmp.toString(), "-storepass", PASSWORD, "-keypass", PASSWORD));
      KeyStore keys = load(tmp);
      KeyStore trust = KeyStore.getInstance("PKCS12");
      trust.load(null, null);
      trust.setCertificateEntry("ca", keys.getCertificate(ALIAS));
      Path trustTmp = dir.resolve("ca.p12.tmp");
      try (var out = Files.newOutputStream(trustTmp)) {
        trust.store(out, PASSWORD.toCharArray());
      }
      for (Path p : List.of(tmp, trustTmp)) {
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-------"));
      }
      Files.move(trustTmp, tls.trustStore(), java.nio.file.StandardCopyOption.REPLACE_EXISTING,
          java.nio.file.StandardCopyOption.ATOMIC_MOVE);
      Files.move(tmp, tls.keyStore(), java.nio.file.StandardCopyOption.REPLACE_EXISTING,
          java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException | GeneralSecurityException e) {
      throw BerthException.internal("making this agent's own messaging certificate under " + dir + ": "
          + e.getMessage(), e);
    }
  }

  /** Whether both stores are there, name {@code node}, and stay valid for a while. */
  static boolean valid(MessagingTls tls, String node, Instant now) {
    if (!Files.isRegularFile(tls.keyStore()) || !Files.isRegularFile(tls.trustStore())) {
      return false;
    }
    try {
      KeyStore keys = load(tls.keyStore());
      if (!(keys.getCertificate(ALIAS) instanceof X509Certificate cert) || load(tls.trustStore()).size() != 1) {
        return false;
      }
      return cert.getSubjectX500Principal().getName().startsWith("CN=" + dnSafe(node) + ",")
          && cert.getNotAfter().toInstant().isAfter(now.plus(RENEW_BEFORE));
    } catch (IOException | GeneralSecurityException e) {
      return false;  // unreadable or from elsewhere: made again
    }
  }

  private static KeyStore load(Path p) throws IOException, GeneralSecurityException {
    KeyStore ks = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(p)) {
      ks.load(in, PASSWORD.toCharArray());
    }
    return ks;
  }

  /** A node name as one RDN value: characters that would need escaping become '_'. */
  static String dnSafe(String node) {
    return node.replaceAll("[^A-Za-z0-9._-]", "_");
  }

  private static void keytool(List<String> args) throws IOException {
    Path keytool = Path.of(System.getProperty("java.home"), "bin", "keytool");
    if (!Files.isExecutable(keytool)) {
      throw new IOException("the JDK's keytool is not at " + keytool + " (a JRE without it cannot make one;"
          + " give --tls-ca/--tls-cert/--tls-key, or --tls-plaintext)");
    }
    List<String> cmd = new ArrayList<>();
    cmd.add(keytool.toString());
    cmd.addAll(args);
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    p.getOutputStream().close();
    byte[] out = p.getInputStream().readAllBytes();
    try {
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException("keytool did not finish within 60 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      p.destroyForcibly();
      throw new IOException("interrupted while keytool ran", e);
    }
    if (p.exitValue() != 0) {
      throw new IOException("keytool failed (exit " + p.exitValue() + "): "
          + new String(out, StandardCharsets.UTF_8).strip());
    }
  }
}
