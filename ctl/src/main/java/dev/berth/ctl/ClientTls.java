package dev.berth.ctl;

import dev.berth.ctl.cert.CertFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Map;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManagerFactory;

/**
 * The CLI's side of mutual TLS to an agent on TCP: the cluster CA it trusts, and the client
 * certificate and key it proves itself with ({@code berth cert client}). Docker's flags and
 * environment: {@code --tlscacert}, {@code --tlscert}, {@code --tlskey}, {@code --tlsverify},
 * {@code BERTH_CERT_PATH} (a directory of ca.pem, cert.pem, key.pem) and {@code BERTH_TLS_VERIFY}.
 *
 * @param ca PEM file of the CA that signed the agent's certificate
 * @param cert PEM file of the client certificate (chain)
 * @param key PEM file of its PKCS#8 key
 */
record ClientTls(Path ca, Path cert, Path key) {
  static final String CA_FILE = "ca.pem";
  static final String CERT_FILE = "cert.pem";
  static final String KEY_FILE = "key.pem";

  /**
   * The TLS settings of one invocation, or null for none: TLS is on when any flag is given or
   * {@code BERTH_TLS_VERIFY} or {@code BERTH_CERT_PATH} is set. A file not given by flag comes
   * from {@code BERTH_CERT_PATH}, else {@code ~/.berth}, as docker's from ~/.docker.
   */
  static ClientTls resolve(Path caFlag, Path certFlag, Path keyFlag, boolean verifyFlag, Map<String, String> env) {
    String certPath = env.get("BERTH_CERT_PATH");
    String verifyEnv = env.get("BERTH_TLS_VERIFY");
    boolean on = caFlag != null || certFlag != null || keyFlag != null || verifyFlag
        || (verifyEnv != null && !verifyEnv.isEmpty()) || (certPath != null && !certPath.isEmpty());
    if (!on) {
      return null;
    }
    Path dir = certPath != null && !certPath.isEmpty() ? Path.of(certPath)
        : Path.of(env.getOrDefault("HOME", System.getProperty("user.home")), ".berth");
    return new ClientTls(caFlag != null ? caFlag : dir.resolve(CA_FILE), certFlag != null ? certFlag : dir.resolve(CERT_FILE),
        keyFlag != null ? keyFlag : dir.resolve(KEY_FILE));
  }

  /**
   * A socket factory that trusts only {@link #ca} and presents {@link #cert}; throws a
   * CliException naming the file that is missing or unreadable.
   */
  SSLSocketFactory socketFactory() {
    for (var f : List.of(Map.entry("CA certificate", ca), Map.entry("client certificate", cert), Map.entry("client key", key))) {
      if (!Files.isReadable(f.getValue())) {
        throw new CliException("TLS: cannot read the " + f.getKey() + " " + f.getValue()
            + " (give --tlscacert, --tlscert, --tlskey or BERTH_CERT_PATH)", 1);
      }
    }
    try {
      X509Certificate caCert = CertFiles.readCertificate(ca);
      List<X509Certificate> chain = CertFiles.readCertificates(cert);
      PrivateKey privateKey = CertFiles.readKey(key);
      char[] pass = new char[0];
      KeyStore trust = KeyStore.getInstance("PKCS12");
      trust.load(null, null);
      trust.setCertificateEntry("ca", caCert);
      KeyStore keys = KeyStore.getInstance("PKCS12");
      keys.load(null, null);
      keys.setKeyEntry("client", privateKey, pass, chain.toArray(X509Certificate[]::new));
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(trust);
      KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(keys, pass);
      SSLContext ctx = SSLContext.getInstance("TLSv1.3");
      ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
      return ctx.getSocketFactory();
    } catch (IOException e) {
      throw new CliException("TLS: " + e.getMessage(), 1);
    } catch (GeneralSecurityException e) {
      throw new CliException("TLS: the key " + key + " does not fit the certificate " + cert + ": " + e.getMessage(), 1);
    }
  }
}
