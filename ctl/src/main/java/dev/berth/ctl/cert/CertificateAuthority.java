package dev.berth.ctl.cert;

import java.io.IOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.regex.Pattern;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A cluster CA: an EC P-256 key and its self-signed certificate, which signs the certificates of
 * the cluster's nodes (TLS server and client both: agents dial each other) and of its users (TLS
 * client only). Immutable and thread-safe; the JDK's own providers do the cryptography, Bouncy
 * Castle only encodes the certificates.
 *
 * <p>On disk a CA is a directory with {@value #CERT_FILE} and {@value #KEY_FILE} (mode 0600);
 * an issued certificate is a directory with {@value Issued#CA_FILE}, {@value Issued#CERT_FILE} and
 * {@value Issued#KEY_FILE}, the layout {@code berthd --tls-*} and {@code BERTH_CERT_PATH} expect.
 */
public final class CertificateAuthority {
  public static final String CERT_FILE = "ca.pem";
  public static final String KEY_FILE = "ca-key.pem";
  /** Ten years: replacing a cluster's CA means reissuing every certificate, so it should rarely be due. */
  public static final Duration DEFAULT_CA_VALIDITY = Duration.ofDays(3650);
  /** Two years for nodes and clients: long enough not to surprise an operator, short enough to rotate. */
  public static final Duration DEFAULT_VALIDITY = Duration.ofDays(730);
  /** Clocks of a fleet drift: a certificate is valid from an hour before it was made. */
  private static final Duration BACKDATE = Duration.ofHours(1);
  private static final String SIGNATURE = "SHA256withECDSA";
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.@-]{0,62}");
  private static final SecureRandom RANDOM = new SecureRandom();

  private final X509Certificate certificate;
  private final PrivateKey key;
  private final Clock clock;

  private CertificateAuthority(X509Certificate certificate, PrivateKey key, Clock clock) {
    this.certificate = certificate;
    this.key = key;
    this.clock = clock;
  }

  /** A new CA named {@code CN=name}; {@code clock} dates this and every certificate it issues. */
  public static CertificateAuthority create(String name, Duration validity, Clock clock) {
    requireName("CA", name);
    KeyPair pair = newKeyPair();
    X500Name subject = subject(name);
    try {
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      X509v3CertificateBuilder b = builder(subject, subject, pair.getPublic(), validity, clock)
          .addExtension(Extension.basicConstraints, true, new BasicConstraints(0))
          .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign))
          .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(pair.getPublic()));
      return new CertificateAuthority(sign(b, pair.getPrivate()), pair.getPrivate(), clock);
    } catch (GeneralSecurityException | CertIOException e) {
      throw new IllegalStateException("building the CA certificate: " + e, e);
    }
  }

  /**
   * Reads a CA from {@code dir} ({@value #CERT_FILE}, {@value #KEY_FILE}); throws an IOException
   * naming the file when one is missing or unreadable, or when the key is not the certificate's.
   */
  public static CertificateAuthority load(Path dir, Clock clock) throws IOException {
    Path certFile = dir.resolve(CERT_FILE);
    Path keyFile = dir.resolve(KEY_FILE);
    X509Certificate cert = CertFiles.readCertificate(certFile);
    PrivateKey key = CertFiles.readKey(keyFile);
    if (cert.getBasicConstraints() < 0) {
      throw new IOException(certFile + " is not a CA certificate (no basicConstraints CA:true)");
    }
    if (!Keys.matches(key, cert.getPublicKey())) {
      throw new IOException(keyFile + " is not the key of the certificate in " + certFile);
    }
    return new CertificateAuthority(cert, key, clock);
  }

  public X509Certificate certificate() {
    return certificate;
  }

  /** Writes {@value #CERT_FILE} and {@value #KEY_FILE} (0600) into {@code dir}; never overwrites. */
  public List<Path> writeTo(Path dir) throws IOException {
    PemFiles.requireAbsent(dir, CERT_FILE, KEY_FILE);
    Path key = PemFiles.write(dir.resolve(KEY_FILE), Pem.encode("PRIVATE KEY", this.key.getEncoded()), true);
    Path cert = PemFiles.write(dir.resolve(CERT_FILE), Pem.encode("CERTIFICATE", encoded(certificate)), false);
    return List.of(cert, key);
  }

  /**
   * A node's certificate, {@code CN=name}, for TLS server and client authentication (agents dial
   * each other). Its subject alternative names are the DNS name {@code name}, then {@code dns},
   * then {@code ips}: a client that dials a node checks the address it dialled against them.
   *
   * <p>Its extendedKeyUsage, serverAuth and clientAuth, is also its role: berthd takes a
   * certificate as a node's only with both (a client certificate has clientAuth alone), and
   * only for a node its common name or a DNS name names: berthd {@code --node name} starts with
   * it, and a call another agent makes as node {@code name} is let through with it.
   */
  public Issued issueNode(String name, List<String> dns, List<InetAddress> ips, Duration validity) {
    requireName("node", name);
    List<GeneralName> sans = new ArrayList<>();
    for (String d : dnsNames(name, dns)) {
      sans.add(new GeneralName(GeneralName.dNSName, d));
    }
    for (InetAddress ip : ips) {
      sans.add(new GeneralName(GeneralName.iPAddress, ip.getHostAddress()));
    }
    return issue(name, new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth},
        new GeneralNames(sans.toArray(GeneralName[]::new)), validity);
  }

  /**
   * A user's certificate, {@code CN=name}, for TLS client authentication only (the CLI): without
   * serverAuth it never passes for a node's, whatever its name.
   */
  public Issued issueClient(String name, Duration validity) {
    requireName("client", name);
    return issue(name, new KeyPurposeId[] {KeyPurposeId.id_kp_clientAuth}, null, validity);
  }

  private Issued issue(String name, KeyPurposeId[] purposes, GeneralNames sans, Duration validity) {
    KeyPair pair = newKeyPair();
    try {
      JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
      X509v3CertificateBuilder b = builder(
          X500Name.getInstance(certificate.getSubjectX500Principal().getEncoded()), subject(name), pair.getPublic(),
          validity, clock)
          .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
          // digitalSignature is what an ECDHE_ECDSA handshake (the only kind for an EC key) uses.
          .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature))
          .addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(purposes))
          .addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(pair.getPublic()))
          .addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(certificate));
      if (sans != null) {
        b.addExtension(Extension.subjectAlternativeName, false, sans);
      }
      return new Issued(sign(b, key), pair.getPrivate(), certificate);
    } catch (GeneralSecurityException | CertIOException e) {
      throw new IllegalStateException("building the certificate of " + name + ": " + e, e);
    }
  }

  private static List<String> dnsNames(String name, List<String> dns) {
    List<String> out = new ArrayList<>();
    out.add(name);
    for (String d : dns) {
      if (!d.matches("[A-Za-z0-9*]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")) {
        throw new IllegalArgumentException("invalid DNS name \"" + d + "\"");
      }
      if (!out.contains(d)) {
        out.add(d);
      }
    }
    return out;
  }

  private static X509v3CertificateBuilder builder(X500Name issuer, X500Name subject, PublicKey key, Duration validity,
      Clock clock) {
    if (validity.isNegative() || validity.isZero()) {
      throw new IllegalArgumentException("a certificate must be valid for some time; got " + validity);
    }
    Instant now = clock.instant();
    // 127 random bits, positive: unique without a counter to keep, and within RFC 5280's 20 octets.
    BigInteger serial = new BigInteger(127, RANDOM).setBit(126);
    return new JcaX509v3CertificateBuilder(issuer, serial, Date.from(now.minus(BACKDATE)), Date.from(now.plus(validity)),
        subject, key);
  }

  private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey signer) throws GeneralSecurityException {
    try {
      byte[] der = b.build(new JcaContentSignerBuilder(SIGNATURE).build(signer)).getEncoded();
      return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(new java.io.ByteArrayInputStream(der));
    } catch (OperatorCreationException | IOException e) {
      throw new GeneralSecurityException("signing: " + e.getMessage(), e);
    }
  }

  private static X500Name subject(String cn) {
    return new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.O, "berth").addRDN(BCStyle.CN, cn).build();
  }

  private static KeyPair newKeyPair() {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
      g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
      return g.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("this JDK cannot make EC P-256 keys: " + e, e);
    }
  }

  private static void requireName(String what, String name) {
    if (name == null || !NAME.matcher(name).matches()) {
      throw new IllegalArgumentException("invalid " + what + " name \"" + name
          + "\": letters, digits, '_', '.', '@' and '-', starting with a letter or digit, at most 63");
    }
  }

  static byte[] encoded(X509Certificate c) {
    try {
      return c.getEncoded();
    } catch (java.security.cert.CertificateEncodingException e) {
      throw new IllegalStateException(e);
    }
  }
}
