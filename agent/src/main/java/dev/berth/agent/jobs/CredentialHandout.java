package dev.berth.agent.jobs;

import dev.berth.agent.BerthException;
import dev.berth.agent.cluster.CredentialVault;
import dev.berth.agent.cluster.RegistryLogins;
import dev.berth.agent.registry.Credentials;
import dev.berth.agent.registry.RegistryClient;
import dev.berth.proto.v1.StoredAllocation;
import dev.berth.proto.v1.StoredCredential;
import dev.berth.proto.v1.StoredJob;
import java.util.List;
import java.util.Optional;

/**
 * Who gets a registry credential, on a server: the node an allocation is placed on, for that
 * allocation, while it is to run; no one else. The credential is the job's own for the registry,
 * else the cluster's login for it ({@code berth login --cluster}), opened with the seal key.
 *
 * <p>The caller's node is what the transport proved ({@code NodeIdentityInterceptor.caller()}):
 * its node certificate over mutual TLS; on plaintext TCP ({@code --tls-plaintext}, loopback only)
 * nothing is proven and the claim is taken as given, as for every other call there. Errors:
 * {@code PERMISSION_DENIED} naming the reason when the caller may not have it, {@code NOT_FOUND}
 * when there is no credential, {@code FAILED_PRECONDITION} when this agent cannot open it.
 * Thread-safe; blocks as the store does.
 */
public final class CredentialHandout {
  private final JobStore jobs;
  private final RegistryLogins logins;
  private final CredentialVault vault;

  public CredentialHandout(JobStore jobs, RegistryLogins logins, CredentialVault vault) {
    this.jobs = jobs;
    this.logins = logins;
    this.vault = vault;
  }

  /** Whether this agent can hand credentials out itself (it holds the cluster's seal key). */
  public boolean canOpen() {
    return vault.canOpen();
  }

  /**
   * The credential allocation {@code allocationId} pulls from {@code registry} with.
   *
   * @param caller the node the call was proven to come from; empty when it came as no node
   */
  public Credentials forAllocation(Optional<String> caller, String allocationId, String registry) {
    String what = "the registry credential of allocation " + allocationId;
    if (caller.isEmpty()) {
      throw BerthException.permissionDenied(what + " is handed only to the node it is placed on, asked as that node "
          + "(with its node certificate over mutual TLS); this call was made as no node");
    }
    String node = caller.get();
    StoredAllocation a = jobs.nodeAllocations(node).allocations().stream()
        .filter(x -> x.getId().equals(allocationId)).findFirst()
        .orElseThrow(() -> BerthException.permissionDenied(what + " is not for node " + node
            + ": the allocation is not placed on it"));
    if (a.getDesiredStop()) {
      throw BerthException.permissionDenied(what + " is not handed out: the allocation is to stop on node " + node);
    }
    StoredJob job = jobs.job(a.getJob()).orElseThrow(() -> BerthException.notFound(what + ": its job " + a.getJob()
        + " is gone"));
    if (job.getStopped()) {
      throw BerthException.permissionDenied(what + " is not handed out: its job " + job.getName() + " is stopped");
    }
    StoredCredential c = matching(job.getCredentialsList(), registry)
        .or(() -> logins.get(registry))
        .orElseThrow(() -> BerthException.notFound("neither job " + job.getName()
            + " nor the cluster's logins have a credential for registry " + registry));
    return new Credentials(c.getUsername(), vault.open(c));
  }

  /** The credential in {@code credentials} for {@code registry}, as an image reference names it. */
  public static Optional<StoredCredential> matching(List<StoredCredential> credentials, String registry) {
    String host = RegistryClient.apiHost(registry);
    return credentials.stream()
        .filter(x -> x.getRegistry().equals(registry) || RegistryClient.apiHost(x.getRegistry()).equals(host))
        .findFirst();
  }
}
