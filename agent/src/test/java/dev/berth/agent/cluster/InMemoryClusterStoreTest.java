package dev.berth.agent.cluster;

/** The contract against the fake. */
class InMemoryClusterStoreTest extends ClusterStoreContract {
  private final InMemoryClusterStore store = new InMemoryClusterStore();

  @Override
  ClusterStore store() {
    return store;
  }
}
