package dev.berth.ctl.cert;

import java.io.IOException;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;

/**
 * A certificate the cluster CA issued, with its key and the CA's certificate.
 *
 * @param certificate the node's or client's certificate
 * @param key its private key
 * @param ca the certificate of the CA that signed it, which the holder trusts in turn
 */
public record Issued(X509Certificate certificate, PrivateKey key, X509Certificate ca) {
  public static final String CA_FILE = "ca.pem";
  public static final String CERT_FILE = "cert.pem";
  public static final String KEY_FILE = "key.pem";

  /**
   * Writes {@value #CA_FILE}, {@value #CERT_FILE} and {@value #KEY_FILE} (mode 0600) into
   * {@code dir}, creating it; refuses to overwrite any of them. Returns the files written.
   */
  public List<Path> writeTo(Path dir) throws IOException {
    PemFiles.requireAbsent(dir, CA_FILE, CERT_FILE, KEY_FILE);
    Path k = PemFiles.write(dir.resolve(KEY_FILE), Pem.encode("PRIVATE KEY", key.getEncoded()), true);
    Path c = PemFiles.write(dir.resolve(CERT_FILE), Pem.encode("CERTIFICATE", CertificateAuthority.encoded(certificate)), false);
    Path a = PemFiles.write(dir.resolve(CA_FILE), Pem.encode("CERTIFICATE", CertificateAuthority.encoded(ca)), false);
    return List.of(a, c, k);
  }
}
