/**
 * Mutual TLS of an agent: the cluster CA, this node's certificate and key (PEM files made by
 * {@code berth cert}), checked once at start, and turned into what each transport takes — a
 * Netty {@code SslContext} that requires a client certificate from the CA for the gRPC API on
 * TCP, and PKCS#12 key and trust stores (mode 0600, under the data dir) for Atomix's messaging.
 *
 * <pre>
 *   --tls-ca --tls-cert --tls-key ──► TlsMaterial.load (checks: signed by the CA, key fits, in date,
 *                                        │                a node's role: NodeCertificate)
 *                                        ├─ requireNode(--node): the certificate names this node
 *                                        ├─ grpcServerContext() ──► NettyServerBuilder on --tcp
 *                                        │     + NodeIdentityInterceptor: a call "as node X" needs X's node certificate
 *                                        └─ writeKeyStores(dir) ──► ClusterConfig.tls ──► Atomix messaging
 *                                                                  (chain only: Atomix never shows the peer's certificate)
 * </pre>
 *
 * <p>Depends on the JDK and gRPC (grpc-netty-shaded) only; nothing of {@code cluster}, {@code api},
 * {@code runtime} or {@code image}. The unix socket never uses TLS: it is root's alone.
 */
package dev.berth.agent.tls;
