package dev.berth.agent.tls;

import io.grpc.ClientInterceptor;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.stub.MetadataUtils;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * Holds a gRPC call that claims a node's identity to the certificate its caller presented. An
 * agent calling another as node X sends a claim header with X: {@value #HEADER}{@code : X}
 * ({@link #asNode}), or another header the server names as a claim (the {@code berth-forwarded}
 * header of a forwarded call says which node forwarded it). On the serving agent this
 * interceptor lets such a call through only when the TLS peer presented a node certificate
 * naming X ({@link NodeCertificate#refusal}: a node's role, and X as its common name or a DNS
 * name), and then tells the services the verified name ({@link #caller()}). So a client
 * certificate ({@code berth cert client}), another node's certificate, or a call on the unix
 * socket can never act as X.
 *
 * <p>A call without a claim is left alone: it is the CLI's, authenticated by the TLS handshake
 * alone as before. On plaintext TCP, which berthd serves only when {@code --tls-plaintext} asks
 * for it and where nothing is authenticated at all, there is no certificate to hold a claim to:
 * a server built {@link #NodeIdentityInterceptor(boolean, Metadata.Key[]) trusting plaintext}
 * takes the claim as it is (as that cluster's Raft does). The refusal is a gRPC status set here,
 * before any service runs, like a failed handshake: {@code UNAUTHENTICATED} without a peer
 * certificate, {@code PERMISSION_DENIED} when it does not fit. Stateless and thread-safe.
 *
 * <p>Why here and not on Atomix's messaging (where registration and heartbeats travel): Atomix
 * 3.1.12 keeps the TLS session inside its own Netty pipeline and hands a message handler only
 * the sender's address as the sender wrote it into the message, so nothing there can tie a
 * message to the certificate that carried it.
 */
public final class NodeIdentityInterceptor implements ServerInterceptor {
  /** The header of a call made as a node; its value is the node's name. */
  public static final String HEADER = "berth-node";
  public static final Metadata.Key<String> NODE = Metadata.Key.of(HEADER, Metadata.ASCII_STRING_MARSHALLER);
  private static final Context.Key<String> CALLER = Context.key(HEADER);

  private final boolean trustPlaintext;
  private final List<Metadata.Key<String>> claims;

  /** Claims by {@value #HEADER} only; refused without TLS. */
  public NodeIdentityInterceptor() {
    this(false, NODE);
  }

  /**
   * @param trustPlaintext take a claim on a connection without TLS as it is (plaintext TCP under
   *     {@code --tls-plaintext}); false refuses it (the unix socket, and any server with TLS)
   * @param claims the headers that each name the node a call is made as
   */
  @SafeVarargs
  public NodeIdentityInterceptor(boolean trustPlaintext, Metadata.Key<String>... claims) {
    this.trustPlaintext = trustPlaintext;
    this.claims = List.of(claims);
  }

  /**
   * The node the current call was verified to come from; empty when the call claims no node.
   * Valid on the thread that runs a service method of the call.
   */
  public static Optional<String> caller() {
    return Optional.ofNullable(CALLER.get());
  }

  /** For the calling agent: sends every call of a channel or stub as node {@code node}. */
  public static ClientInterceptor asNode(String node) {
    Metadata headers = new Metadata();
    headers.put(NODE, node);
    return MetadataUtils.newAttachHeadersInterceptor(headers);
  }

  @Override
  public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
    List<String> nodes = new ArrayList<>();
    List<String> said = new ArrayList<>();
    for (Metadata.Key<String> k : claims) {
      Iterable<String> values = headers.getAll(k);
      if (values != null) {
        for (String v : values) {
          said.add(k.name() + ": " + v);
          if (!nodes.contains(v)) {
            nodes.add(v);
          }
        }
      }
    }
    if (said.isEmpty()) {
      return next.startCall(call, headers);
    }
    SSLSession tls = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
    Status refusal = nodes.size() != 1
        ? Status.PERMISSION_DENIED.withDescription("a call is made as one node; got " + said)
        : tls == null && trustPlaintext ? null : refusal(tls, nodes.get(0));
    if (refusal != null) {
      call.close(refusal, new Metadata());
      return new ServerCall.Listener<>() {
      };
    }
    return Contexts.interceptCall(Context.current().withValue(CALLER, nodes.get(0)), call, headers, next);
  }

  /** Why a call of this TLS session may not act as {@code node}; null when it may. */
  static Status refusal(SSLSession session, String node) {
    String asNode = "a call as node " + node;
    if (session == null) {
      return Status.UNAUTHENTICATED.withDescription(asNode + " needs mutual TLS with the node's certificate; this "
          + "connection has no TLS");
    }
    Certificate[] peer;
    try {
      peer = session.getPeerCertificates();
    } catch (SSLPeerUnverifiedException e) {
      peer = new Certificate[0];
    }
    if (peer.length == 0 || !(peer[0] instanceof X509Certificate leaf)) {
      return Status.UNAUTHENTICATED.withDescription(asNode + " needs the node's certificate; the caller presented none");
    }
    return NodeCertificate.refusal(leaf, node)
        .map(why -> Status.PERMISSION_DENIED.withDescription(asNode + " refused: " + why))
        .orElse(null);
  }
}
