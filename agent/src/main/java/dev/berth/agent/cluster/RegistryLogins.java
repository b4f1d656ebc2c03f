package dev.berth.agent.cluster;

import dev.berth.agent.BerthException;
import dev.berth.proto.v1.StoredCredential;
import com.google.protobuf.InvalidProtocolBufferException;
import java.util.Optional;

/**
 * Registry credentials kept for the whole cluster ({@code berth login --cluster}), in the
 * replicated store's table {@value #TABLE}, one key per registry: an agent that runs a job's
 * allocation pulls its image with the job's own credential for the registry, else with this one.
 * The password is kept sealed ({@link CredentialVault}): the agents read the table, but only the
 * servers open it, and hand it only to the node of an allocation that pulls from the registry.
 * Never returned by any API.
 */
public final class RegistryLogins {
  public static final String TABLE = "registry-logins";

  private final ClusterStore store;
  private final CredentialVault vault;

  public RegistryLogins(ClusterStore store, CredentialVault vault) {
    this.store = store;
    this.vault = vault;
  }

  /**
   * Keeps the credential sealed for {@link CredentialVault.Scope#CLUSTER}, so it opens only as a
   * cluster login; {@code FAILED_PRECONDITION} when the cluster has no seal key.
   */
  public void put(String registry, String username, String password) {
    store.put(TABLE, registry, vault.seal(CredentialVault.Scope.CLUSTER, registry, username, password).toByteArray());
  }

  /** Forgets the registry's credential; false if there was none. */
  public boolean remove(String registry) {
    for (int i = 0; i < 16; i++) {
      Optional<ClusterStore.Entry> cur = store.get(TABLE, registry);
      if (cur.isEmpty()) {
        return false;
      }
      if (store.remove(TABLE, registry, cur.get().version())) {
        return true;
      }
    }
    throw new BerthException(BerthException.Kind.UNAVAILABLE, "the cluster's login for " + registry
        + " kept changing while it was removed; try again");
  }

  public Optional<StoredCredential> get(String registry) {
    return store.get(TABLE, registry).map(e -> {
      try {
        return StoredCredential.parseFrom(e.value());
      } catch (InvalidProtocolBufferException x) {
        throw BerthException.internal("the cluster's login for " + registry + " is not readable", x);
      }
    });
  }
}
