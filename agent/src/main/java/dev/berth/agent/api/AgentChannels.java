package dev.berth.agent.api;

import dev.berth.agent.BerthException;
import dev.berth.agent.tls.TlsMaterial;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.ChannelOption;
import java.time.Duration;

/**
 * How an agent dials another agent's API to forward a request ({@link ContainerForwarder.Channels}):
 * mutual TLS when the agent has TLS material, the peer proving with a certificate of the cluster
 * CA that it is the node it was dialled as; plaintext only when the agent serves plaintext TCP
 * itself; otherwise not at all.
 */
public final class AgentChannels {
  /**
   * How long a connection may take before the node counts as unreachable: a live agent on the
   * cluster's network answers within milliseconds, and a cut link would otherwise hold the caller
   * for Netty's 30 s.
   */
  static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);

  private AgentChannels() {}

  /**
   * @param tls this agent's identity; null when it has none
   * @param plaintextTcp whether this agent serves its API over plaintext TCP itself ({@code --tcp}
   *     with {@code --tls-plaintext}); read only without {@code tls}
   */
  public static ContainerForwarder.Channels of(TlsMaterial tls, boolean plaintextTcp) {
    if (tls != null) {
      return mutualTls(tls);
    }
    if (plaintextTcp) {
      return plaintext();
    }
    return (node, address) -> {
      throw BerthException.failedPrecondition("this agent forwards requests to other nodes only over mutual TLS "
          + "(--tls-ca, --tls-cert, --tls-key), or over plaintext when it serves plaintext TCP itself (--tcp with "
          + "--tls-plaintext); ask node " + node + " directly");
    };
  }

  /**
   * Mutual TLS with this node's certificate as the client's. The peer's certificate must be of
   * the cluster CA and have the node dialled among its DNS names ({@code berth cert node NAME} puts
   * NAME first; the authority checked is the node's name, not the address): an address in the
   * registry that reaches another agent fails the handshake.
   */
  public static ContainerForwarder.Channels mutualTls(TlsMaterial tls) {
    var context = tls.grpcClientContext();
    return (node, address) -> builder(address).sslContext(context).overrideAuthority(node).build();
  }

  /** Plaintext: for agents that serve plaintext TCP themselves, on loopback. */
  public static ContainerForwarder.Channels plaintext() {
    return (node, address) -> builder(address).usePlaintext().build();
  }

  private static NettyChannelBuilder builder(String address) {
    // An explicit scheme: "node1:2377" would otherwise parse as a URI of scheme "node1".
    return NettyChannelBuilder.forTarget("dns:///" + address)
        .withOption(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) CONNECT_TIMEOUT.toMillis());
  }
}
