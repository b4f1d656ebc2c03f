package dev.berth.ctl.cert;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.List;

/**
 * Reading certificates and keys from PEM files with the JDK alone (no Bouncy Castle class loads
 * here, so the CLI's TLS transport stays cheap). Every failure is an IOException naming the file.
 */
public final class CertFiles {
  private CertFiles() {
  }

  /** Every certificate in a PEM file, in order (a chain: the holder's first). */
  public static List<X509Certificate> readCertificates(Path file) throws IOException {
    List<X509Certificate> out = new ArrayList<>();
    try {
      CertificateFactory f = CertificateFactory.getInstance("X.509");
      for (byte[] der : Pem.read(file, "CERTIFICATE")) {
        out.add((X509Certificate) f.generateCertificate(new ByteArrayInputStream(der)));
      }
    } catch (CertificateException e) {
      throw new IOException(file + " does not hold a valid X.509 certificate: " + e.getMessage());
    }
    return out;
  }

  /** The first certificate in a PEM file. */
  public static X509Certificate readCertificate(Path file) throws IOException {
    return readCertificates(file).get(0);
  }

  /** A private key (EC, RSA or Ed25519) in a PKCS#8 PEM file, "BEGIN PRIVATE KEY". */
  public static PrivateKey readKey(Path file) throws IOException {
    List<byte[]> blocks;
    try {
      blocks = Pem.read(file, "PRIVATE KEY");
    } catch (IOException e) {
      String text = java.nio.file.Files.readString(file, java.nio.charset.StandardCharsets.US_ASCII);
      if (text.contains("-----BEGIN EC PRIVATE KEY-----") || text.contains("-----BEGIN RSA PRIVATE KEY-----")) {
        throw new IOException(file + " holds a key in the traditional OpenSSL format; convert it to PKCS#8 with "
            + "'openssl pkcs8 -topk8 -nocrypt -in " + file + "'");
      }
      throw e;
    }
    PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(blocks.get(0));
    for (String alg : new String[] {"EC", "RSA", "Ed25519"}) {
      try {
        return KeyFactory.getInstance(alg).generatePrivate(spec);
      } catch (GeneralSecurityException tryNext) {
        // not this algorithm
      }
    }
    throw new IOException(file + " does not hold an EC, RSA or Ed25519 private key in PKCS#8");
  }
}
