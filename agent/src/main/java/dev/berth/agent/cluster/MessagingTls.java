package dev.berth.agent.cluster;

import java.nio.file.Path;

/**
 * TLS of the cluster's messaging (Atomix over TCP: Raft, SWIM probes, the gossip map): PKCS#12
 * stores as Atomix takes them. Both ends require a certificate of the cluster CA, so an agent
 * with any other certificate, or none, never exchanges a message with the cluster. SWIM's UDP
 * gossip stays plaintext; see {@link NodeDirectory} for why that never makes a member.
 *
 * <p>The chain is all Atomix 3.1.12 checks: it builds its trust manager itself from the trust
 * store file, keeps the TLS session inside its own Netty pipeline, and hands a message handler
 * only the sender's address as the sender wrote it. So neither the role of a peer's certificate
 * (a user's {@code berth cert client} certificate also completes the handshake as a TLS client)
 * nor whether it names the node the peer claims to be can be checked here; berthd checks its
 * own certificate at start, and gRPC calls made as a node are held to the caller's certificate
 * ({@code dev.berth.agent.tls.NodeIdentityInterceptor}).
 *
 * @param keyStore this node's key and certificate chain
 * @param trustStore the cluster CA, the only trusted entry
 * @param password of both stores and of the key entry
 * @param selfSigned the agent's own certificate, made under its data dir when the cluster starts
 *     ({@link SelfSignedTls}): a cluster of one that no other agent can join
 */
public record MessagingTls(Path keyStore, Path trustStore, String password, boolean selfSigned) {
  /** Stores made from the cluster CA's material ({@code --tls-*}). */
  public MessagingTls(Path keyStore, Path trustStore, String password) {
    this(keyStore, trustStore, password, false);
  }

  @Override
  public String toString() {
    return "MessagingTls[" + keyStore + ", " + trustStore + "]";  // never the password
  }
}
