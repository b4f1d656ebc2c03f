package dev.berth.agent.jobs;

import dev.berth.agent.BerthException;
import dev.berth.agent.cluster.CredentialVault;
import dev.berth.agent.cluster.RegistryLogins;
import dev.berth.agent.image.Reference;
import dev.berth.agent.registry.Credentials;
import dev.berth.agent.registry.RegistryClient;
import dev.berth.proto.v1.StoredAllocation;
import dev.berth.proto.v1.StoredCredential;
import dev.berth.proto.v1.StoredJob;
import dev.berth.scheduler.model.TaskGroup;
import java.util.List;
import java.util.Optional;
import java.util.logging.Logger;

/**
 * Who gets a registry credential, on a server: the node an allocation is placed on, for that
 * allocation, while it is to run, for the registry of the image it was placed to pull; no one
 * else. The allocation must carry the tag the scheduler leader gave it when it placed it ({@link
 * AllocationTags}), computed again here to the same: every agent can write the replicated state,
 * so an allocation a member wrote for itself, or one whose node, job or image was changed after it
 * was placed, gets nothing. The job must still name the image the tag vouches for. The credential
 * is the job's own for that registry, else the cluster's login for it ({@code berth login
 * --cluster}), opened with the seal key as what it was sealed for: the job's own as the tagged
 * allocation's job, the login as a login ({@link CredentialVault.Scope}), so a member that copies
 * another job's sealed credential into a job of its own gets nothing for that job's allocations.
 *
 * <p>The caller's node is what the transport proved ({@code NodeIdentityInterceptor.caller()}):
 * its node certificate over mutual TLS; on plaintext TCP ({@code --tls-plaintext}, loopback only)
 * nothing is proven and the claim is taken as given, as for every other call there. Errors:
 * {@code PERMISSION_DENIED} naming the allocation and the reason when the caller may not have it
 * or the credential was not sealed for the job or login it is kept as (each one logged), {@code
 * NOT_FOUND} when there is no credential, {@code FAILED_PRECONDITION} naming the allocation when
 * this agent cannot open it (among others, one sealed before credentials had a scope: given again,
 * it opens). Thread-safe; blocks as the store does.
 */
public final class CredentialHandout {
  private static final Logger LOG = Logger.getLogger(CredentialHandout.class.getName());

  private final JobStore jobs;
  private final RegistryLogins logins;
  private final CredentialVault vault;
  private final AllocationTags tags;

  public CredentialHandout(JobStore jobs, RegistryLogins logins, CredentialVault vault) {
    this.jobs = jobs;
    this.logins = logins;
    this.vault = vault;
    this.tags = new AllocationTags(vault);
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
      throw refuse(what + " is handed only to the node it is placed on, asked as that node "
          + "(with its node certificate over mutual TLS); this call was made as no node");
    }
    String node = caller.get();
    StoredAllocation a = jobs.nodeAllocations(node).allocations().stream()
        // The entry is kept under the node's key, but the allocation's own node is what its tag vouches for.
        .filter(x -> x.getId().equals(allocationId) && x.getNode().equals(node)).findFirst()
        .orElseThrow(() -> refuse(what + " is not for node " + node + ": the allocation is not placed on it"));
    if (a.getDesiredStop()) {
      throw refuse(what + " is not handed out: the allocation is to stop on node " + node);
    }
    Optional<String> untrusted = tags.refusal(a);
    if (untrusted.isPresent()) {
      throw refuse(what + " is not handed to node " + node + ": " + untrusted.get());
    }
    String image = a.getTag().getImage();
    StoredJob job = jobs.job(a.getJob()).orElseThrow(() -> BerthException.notFound(what + ": its job " + a.getJob()
        + " is gone"));
    if (job.getStopped()) {
      throw refuse(what + " is not handed out: its job " + job.getName() + " is stopped");
    }
    String now = JobCodec.job(job).groups().stream().filter(g -> g.name().equals(a.getGroup()))
        .map(TaskGroup::image).findFirst().orElse(null);
    if (!image.equals(now)) {
      throw refuse(what + " is not handed out: it was placed to pull " + image + ", and its job " + job.getName()
          + (now == null ? " has no task group " + a.getGroup() + " any more" : " now names " + now
              + " for task group " + a.getGroup()));
    }
    String pulls = Reference.parse(image).domain();
    if (!sameRegistry(pulls, registry)) {
      throw refuse(what + " is only for registry " + pulls + ", which its image " + image + " is pulled from, not for "
          + registry);
    }
    // The scope to open with comes from what the tag vouches for (the allocation's job) and from
    // where the credential was read, never from the records themselves: sealed bytes copied into
    // this job's record from another job's, or from a login, do not open here.
    Optional<StoredCredential> own = matching(job.getCredentialsList(), pulls);
    if (own.isPresent()) {
      return open(what, own.get(), CredentialVault.Scope.job(a.getJob()));
    }
    StoredCredential login = logins.get(pulls).orElseThrow(() -> BerthException.notFound("neither job "
        + job.getName() + " nor the cluster's logins have a credential for registry " + pulls));
    if (!sameRegistry(login.getRegistry(), pulls)) {
      throw refuse(what + " is not handed out: the cluster's login kept for registry " + pulls
          + " is a credential for registry " + login.getRegistry());
    }
    return open(what, login, CredentialVault.Scope.CLUSTER);
  }

  /** Opens {@code c} as {@code scope}; a credential not sealed for it is a refusal, named and logged. */
  private Credentials open(String what, StoredCredential c, CredentialVault.Scope scope) {
    try {
      return new Credentials(c.getUsername(), vault.open(c, scope));
    } catch (BerthException e) {
      if (e.kind() == BerthException.Kind.PERMISSION_DENIED) {
        throw refuse(what + " is not handed out: " + e.getMessage());
      }
      throw new BerthException(e.kind(), what + ": " + e.getMessage(), e);
    }
  }

  private static BerthException refuse(String message) {
    LOG.warning("refused: " + message);
    return BerthException.permissionDenied(message);
  }

  private static boolean sameRegistry(String a, String b) {
    return a.equals(b) || RegistryClient.apiHost(a).equals(RegistryClient.apiHost(b));
  }

  /** The credential in {@code credentials} for {@code registry}, as an image reference names it. */
  public static Optional<StoredCredential> matching(List<StoredCredential> credentials, String registry) {
    String host = RegistryClient.apiHost(registry);
    return credentials.stream()
        .filter(x -> x.getRegistry().equals(registry) || RegistryClient.apiHost(x.getRegistry()).equals(host))
        .findFirst();
  }
}
