package dev.berth.agent.api;

import dev.berth.agent.BerthException;
import dev.berth.agent.cluster.CredentialVault;
import dev.berth.agent.cluster.NodeRecord;
import dev.berth.agent.cluster.NodeRegistry;
import dev.berth.agent.cluster.Role;
import dev.berth.agent.cluster.ServersUnavailableException;
import dev.berth.agent.jobs.CredentialHandout;
import dev.berth.agent.registry.Credentials;
import dev.berth.agent.tls.NodeIdentityInterceptor;
import dev.berth.proto.v1.AllocationCredentialRequest;
import dev.berth.proto.v1.AllocationCredentialResponse;
import dev.berth.proto.v1.FingerprintRequest;
import dev.berth.proto.v1.FingerprintResponse;
import dev.berth.proto.v1.SecretServiceGrpc;
import dev.berth.proto.v1.StoredCredential;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * How an agent gets what only the servers' seal key gives: a credential to pull an allocation's
 * image with, and the fingerprints of credentials it sealed. An agent that holds the cluster's
 * seal key (a server) does it itself; any other asks the servers over gRPC ({@code
 * SecretService}), as this node (its node certificate over mutual TLS), at the API addresses they
 * registered, one after the other until one can answer.
 *
 * <p>Nothing is kept: a credential handed out lives as long as its caller holds it (the pull).
 * Thread-safe; each remote call opens its own channel and closes it, bounded by {@link #DEADLINE}.
 */
public final class SecretClient {
  /** A server answers from its memory and one store read: seconds mean it is not answering. */
  static final Duration DEADLINE = Duration.ofSeconds(10);

  private final String node;
  private final NodeRegistry nodes;
  private final ContainerForwarder.Channels channels;
  private final CredentialVault vault;
  private final CredentialHandout handout;

  public SecretClient(String node, NodeRegistry nodes, ContainerForwarder.Channels channels, CredentialVault vault,
      CredentialHandout handout) {
    this.node = node;
    this.nodes = nodes;
    this.channels = channels;
    this.vault = vault;
    this.handout = handout;
  }

  /** A credential as given: its password in the clear, only on its way in. */
  public record Given(String registry, String username, String password) {}

  /**
   * The credentials sealed to the cluster's seal key for {@code scope} (so they open only as
   * that), each with its fingerprint.
   */
  public List<StoredCredential> seal(List<Given> given, CredentialVault.Scope scope) {
    if (given.isEmpty()) {
      return List.of();
    }
    List<StoredCredential> sealed = new ArrayList<>();
    for (Given g : given) {
      sealed.add(vault.seal(scope, g.registry(), g.username(), g.password()));
    }
    List<byte[]> prints = new ArrayList<>();
    if (vault.canOpen()) {
      sealed.forEach(c -> prints.add(vault.fingerprint(c, scope)));
    } else {
      FingerprintResponse r = askServers("fingerprint the credentials for " + registries(sealed) + " of " + scope,
          stub -> stub.fingerprint(FingerprintRequest.newBuilder().addAllCredentials(sealed)
              .setScope(SecretGrpcService.wire(scope)).build()));
      if (r.getFingerprintsCount() != sealed.size()) {
        throw BerthException.internal("a server gave " + r.getFingerprintsCount() + " fingerprints for "
            + sealed.size() + " credentials", null);
      }
      r.getFingerprintsList().forEach(f -> prints.add(f.toByteArray()));
    }
    List<StoredCredential> out = new ArrayList<>();
    for (int i = 0; i < sealed.size(); i++) {
      out.add(sealed.get(i).toBuilder().setFingerprint(com.google.protobuf.ByteString.copyFrom(prints.get(i))).build());
    }
    return out;
  }

  /** The credential allocation {@code allocationId} of this node pulls from {@code registry} with. */
  public Credentials forAllocation(String allocationId, String registry) {
    if (handout.canOpen()) {
      return handout.forAllocation(Optional.of(node), allocationId, registry);
    }
    AllocationCredentialResponse r = askServers("get the credential of allocation " + allocationId + " for registry "
        + registry, stub -> stub.allocationCredential(AllocationCredentialRequest.newBuilder()
            .setAllocationId(allocationId).setRegistry(registry).build()));
    return new Credentials(r.getUsername(), r.getPassword());
  }

  /**
   * Asks the servers in turn. One that cannot answer (unreachable, no seal key, not the cluster's)
   * is skipped; an answer that refuses (permission, not found) is final. When none could answer
   * only because none was reachable or answered in time (a leader election, a restart), that is
   * {@link ServersUnavailableException}, worth trying again; a server that cannot answer by its
   * setup (no API on TCP, no seal key) makes it a failed precondition.
   */
  private <R> R askServers(String what, Function<SecretServiceGrpc.SecretServiceBlockingStub, R> call) {
    List<String> why = new ArrayList<>();
    boolean onlyUnreachable = true;
    for (NodeRecord s : nodes.list()) {
      if (s.role() != Role.SERVER || s.name().equals(node)) {
        continue;
      }
      if (s.apiAddress().isEmpty()) {
        why.add(s.name() + " serves no API on TCP (--tcp)");
        onlyUnreachable = false;
        continue;
      }
      ManagedChannel ch;
      try {
        ch = channels.open(s.name(), s.apiAddress());
      } catch (BerthException e) {
        why.add(s.name() + ": " + e.getMessage());
        onlyUnreachable = false;
        continue;
      }
      try {
        return call.apply(SecretServiceGrpc.newBlockingStub(ch)
            .withInterceptors(NodeIdentityInterceptor.asNode(node))
            .withDeadlineAfter(DEADLINE.toMillis(), TimeUnit.MILLISECONDS));
      } catch (StatusRuntimeException e) {
        Status.Code code = e.getStatus().getCode();
        String desc = s.name() + ": " + (e.getStatus().getDescription() != null ? e.getStatus().getDescription() : code);
        switch (code) {
          case UNAVAILABLE, DEADLINE_EXCEEDED -> why.add(desc);
          case FAILED_PRECONDITION, UNIMPLEMENTED, INTERNAL, UNKNOWN -> {
            why.add(desc);
            onlyUnreachable = false;
          }
          case PERMISSION_DENIED, UNAUTHENTICATED -> throw BerthException.permissionDenied("cannot " + what
              + ": server " + desc);
          case NOT_FOUND -> throw BerthException.notFound("cannot " + what + ": server " + desc);
          default -> throw BerthException.failedPrecondition("cannot " + what + ": server " + desc);
        }
      } finally {
        ch.shutdownNow();
      }
    }
    String message = "cannot " + what + ": no server of the cluster could answer"
        + (why.isEmpty() ? " (none is registered)" : ": " + String.join("; ", why));
    if (onlyUnreachable && !why.isEmpty()) {
      throw new ServersUnavailableException(message, null);
    }
    throw BerthException.failedPrecondition(message);
  }

  private static String registries(List<StoredCredential> cs) {
    return String.join(", ", cs.stream().map(StoredCredential::getRegistry).toList());
  }
}
