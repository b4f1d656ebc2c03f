package dev.berth.agent.tls;

import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;

/**
 * What makes a certificate of the cluster CA a node's, and which node's. Stateless.
 *
 * <p>The role is the extendedKeyUsage {@code berth cert} gives: a node's certificate has both
 * id-kp-serverAuth and id-kp-clientAuth (agents dial each other), a user's ({@code berth cert
 * client}) clientAuth only. So a user's certificate, which is enough to call an agent's API,
 * never passes for a node where a node identity is required, and a certificate without the
 * extension (which TLS would accept for any use) is not a node's either.
 *
 * <p>The names are the subject's common names and the DNS names among its subject alternative
 * names; {@code berth cert node NAME} makes CN=NAME and the DNS name NAME. A node name matches
 * one of them exactly: case and all, no wildcard.
 */
public final class NodeCertificate {
  /** extendedKeyUsage OIDs: id-kp-serverAuth, id-kp-clientAuth. */
  static final String SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
  static final String CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
  /** subjectAltName type of a DNS name (RFC 5280's dNSName [2]). */
  private static final int DNS_NAME = 2;

  private NodeCertificate() {
  }

  /** Whether {@code c} has a node's role: extendedKeyUsage with serverAuth and clientAuth. */
  public static boolean isNode(X509Certificate c) {
    List<String> usage = usage(c);
    return usage != null && usage.contains(SERVER_AUTH) && usage.contains(CLIENT_AUTH);
  }

  /** The certificate's extendedKeyUsage OIDs, null when it has none or it cannot be read. */
  static List<String> usage(X509Certificate c) {
    try {
      return c.getExtendedKeyUsage();
    } catch (CertificateParsingException e) {
      return null;
    }
  }

  /** The names the certificate gives: its common names, then its DNS names, without repeats. */
  public static List<String> names(X509Certificate c) {
    List<String> out = new ArrayList<>();
    try {
      for (Rdn rdn : new LdapName(c.getSubjectX500Principal().getName()).getRdns()) {
        if (rdn.getType().equalsIgnoreCase("CN") && rdn.getValue() instanceof String cn && !out.contains(cn)) {
          out.add(cn);
        }
      }
    } catch (InvalidNameException e) {
      // An RFC 2253 name from the JDK always parses; without it, the DNS names alone count.
    }
    try {
      Collection<List<?>> sans = c.getSubjectAlternativeNames();
      if (sans != null) {
        for (List<?> san : sans) {
          if (san.size() >= 2 && Integer.valueOf(DNS_NAME).equals(san.get(0)) && san.get(1) instanceof String dns
              && !out.contains(dns)) {
            out.add(dns);
          }
        }
      }
    } catch (CertificateParsingException e) {
      // unreadable alternative names name nothing
    }
    return out;
  }

  /**
   * Why {@code c} is not the certificate of node {@code node}, or empty when it is: it must have
   * a node's role and name the node.
   */
  public static Optional<String> refusal(X509Certificate c, String node) {
    String subject = c.getSubjectX500Principal().getName();
    if (!isNode(c)) {
      List<String> usage = usage(c);
      String role = usage != null && usage.contains(CLIENT_AUTH) && !usage.contains(SERVER_AUTH)
          ? "a client certificate ('berth cert client')"
          : "not a node certificate (its extendedKeyUsage is " + (usage == null ? "absent" : usage) + ")";
      return Optional.of("the certificate " + subject + " is " + role + "; a node needs one made by 'berth cert node "
          + node + "' (extendedKeyUsage serverAuth and clientAuth)");
    }
    List<String> names = names(c);
    if (!names.contains(node)) {
      return Optional.of("the certificate " + subject + " names " + (names.isEmpty() ? "no node" : String.join(", ", names))
          + ", not the node " + node);
    }
    return Optional.empty();
  }
}
