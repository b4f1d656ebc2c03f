package dev.berth.agent.api;

import dev.berth.agent.BerthException;
import dev.berth.agent.cluster.CredentialVault;
import dev.berth.agent.jobs.CredentialHandout;
import dev.berth.agent.registry.Credentials;
import dev.berth.agent.tls.NodeIdentityInterceptor;
import dev.berth.proto.v1.AllocationCredentialRequest;
import dev.berth.proto.v1.AllocationCredentialResponse;
import dev.berth.proto.v1.CredentialScope;
import dev.berth.proto.v1.FingerprintRequest;
import dev.berth.proto.v1.FingerprintResponse;
import dev.berth.proto.v1.SecretServiceGrpc;
import dev.berth.proto.v1.StoredCredential;
import com.google.protobuf.ByteString;
import io.grpc.stub.StreamObserver;
import java.util.Optional;

/**
 * Registry credentials for other agents, on a server that holds the seal key: validate, ask
 * {@link CredentialHandout} with the caller the transport proved ({@link
 * NodeIdentityInterceptor#caller()}), answer. Nothing here is for the CLI: a call made as no node
 * is refused with {@code PERMISSION_DENIED}.
 */
public final class SecretGrpcService extends SecretServiceGrpc.SecretServiceImplBase {
  private final CredentialHandout handout;
  private final CredentialVault vault;

  public SecretGrpcService(CredentialHandout handout, CredentialVault vault) {
    this.handout = handout;
    this.vault = vault;
  }

  @Override
  public void allocationCredential(AllocationCredentialRequest req, StreamObserver<AllocationCredentialResponse> out) {
    if (req.getAllocationId().isBlank() || req.getRegistry().isBlank()) {
      throw BerthException.invalid("a credential request names an allocation and a registry");
    }
    Credentials c = handout.forAllocation(NodeIdentityInterceptor.caller(), req.getAllocationId(), req.getRegistry());
    out.onNext(AllocationCredentialResponse.newBuilder().setRegistry(req.getRegistry()).setUsername(c.username())
        .setPassword(c.password()).build());
    out.onCompleted();
  }

  @Override
  public void fingerprint(FingerprintRequest req, StreamObserver<FingerprintResponse> out) {
    Optional<String> caller = NodeIdentityInterceptor.caller();
    if (caller.isEmpty()) {
      throw BerthException.permissionDenied("credential fingerprints are for the cluster's agents, asked as a node "
          + "(with its node certificate over mutual TLS); this call was made as no node");
    }
    CredentialVault.Scope scope = scope(req);
    FingerprintResponse.Builder b = FingerprintResponse.newBuilder();
    for (StoredCredential c : req.getCredentialsList()) {
      b.addFingerprints(ByteString.copyFrom(vault.fingerprint(c, scope)));
    }
    out.onNext(b.build());
    out.onCompleted();
  }

  /** The scope a fingerprint request names; {@code INVALID_ARGUMENT} when it names none. */
  static CredentialVault.Scope scope(FingerprintRequest req) {
    CredentialScope s = req.getScope();
    return switch (s.getScopeCase()) {
      case JOB -> {
        if (s.getJob().isBlank()) {
          throw BerthException.invalid("a fingerprint request's scope names the job the credentials are for");
        }
        yield CredentialVault.Scope.job(s.getJob());
      }
      case CLUSTER -> {
        if (!s.getCluster()) {
          throw BerthException.invalid("a fingerprint request's scope is a job or the cluster (cluster: true)");
        }
        yield CredentialVault.Scope.CLUSTER;
      }
      case SCOPE_NOT_SET -> throw BerthException.invalid("a fingerprint request names the scope the credentials were "
          + "sealed for (a job, or the cluster's logins): they open only as that");
    };
  }

  /** {@code scope} as a request carries it. */
  public static CredentialScope wire(CredentialVault.Scope scope) {
    return scope.isJob() ? CredentialScope.newBuilder().setJob(scope.name()).build()
        : CredentialScope.newBuilder().setCluster(true).build();
  }
}
