package dev.berth.agent.cluster;

import java.util.Map;
import java.util.TreeMap;

/**
 * A node's entry in the registry (replicated): who it is and its admin state.
 *
 * @param name node name, the registry key
 * @param address where its agent is reached for cluster traffic
 * @param apiAddress host:port of its agent's gRPC API over TCP, where other agents forward requests
 *     about its containers; empty when it serves none that other nodes can reach
 * @param role server or plain member
 * @param labels user labels, for placement constraints
 * @param drain when true the scheduler moves its allocations away and places none there
 * @param eligible when false no new allocation is placed there (existing ones stay)
 * @param registeredAtMillis when the node first registered
 * @param drainDeadlineMillis while draining: when what is left on it is stopped at once (wall
 *     clock); 0: no deadline
 */
public record NodeRecord(String name, String address, String apiAddress, Role role, Map<String, String> labels,
    boolean drain, boolean eligible, long registeredAtMillis, long drainDeadlineMillis) {
  public NodeRecord {
    // Absent from records an earlier agent stored (JSON without the field): it served none then.
    apiAddress = apiAddress == null ? "" : apiAddress;
    labels = Map.copyOf(labels == null ? Map.of() : labels);
  }

  /** A record without a drain deadline. */
  public NodeRecord(String name, String address, String apiAddress, Role role, Map<String, String> labels,
      boolean drain, boolean eligible, long registeredAtMillis) {
    this(name, address, apiAddress, role, labels, drain, eligible, registeredAtMillis, 0);
  }

  /** Draining (or not) with this deadline; 0: none. */
  public NodeRecord withDrain(boolean d, long deadlineMillis) {
    return new NodeRecord(name, address, apiAddress, role, labels, d, eligible, registeredAtMillis,
        d ? deadlineMillis : 0);
  }

  public NodeRecord withLabels(Map<String, String> l) {
    return new NodeRecord(name, address, apiAddress, role, l, drain, eligible, registeredAtMillis, drainDeadlineMillis);
  }

  public NodeRecord withDrain(boolean d) {
    return new NodeRecord(name, address, apiAddress, role, labels, d, eligible, registeredAtMillis,
        d ? drainDeadlineMillis : 0);
  }

  public NodeRecord withEligible(boolean e) {
    return new NodeRecord(name, address, apiAddress, role, labels, drain, e, registeredAtMillis, drainDeadlineMillis);
  }

  public NodeRecord withAddress(String a, Role r) {
    return new NodeRecord(name, a, apiAddress, r, labels, drain, eligible, registeredAtMillis, drainDeadlineMillis);
  }

  public NodeRecord withApiAddress(String api) {
    return new NodeRecord(name, address, api, role, labels, drain, eligible, registeredAtMillis, drainDeadlineMillis);
  }

  /** Labels sorted by key, for stable output. */
  public Map<String, String> sortedLabels() {
    return new TreeMap<>(labels);
  }
}
