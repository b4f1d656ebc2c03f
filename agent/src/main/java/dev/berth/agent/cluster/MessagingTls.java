package dev.berth.agent.cluster;

import java.nio.file.Path;

/**
 * TLS of the cluster's messaging (Atomix over TCP: Raft, SWIM probes, the gossip map): PKCS#12
 * stores as Atomix takes them. Both ends require a certificate of the cluster CA, so an agent
 * with any other certificate, or none, never exchanges a message with the cluster. SWIM's UDP
 * gossip stays plaintext; see {@link NodeDirectory} for why that never makes a member.
 *
 * @param keyStore this node's key and certificate chain
 * @param trustStore the cluster CA, the only trusted entry
 * @param password of both stores and of the key entry
 */
public record MessagingTls(Path keyStore, Path trustStore, String password) {
  @Override
  public String toString() {
    return "MessagingTls[" + keyStore + ", " + trustStore + "]";  // never the password
  }
}
