package dev.berth.agent.jobs;

import dev.berth.agent.cluster.ClusterStore;
import dev.berth.agent.cluster.GossipView;
import dev.berth.agent.cluster.InMemoryClusterStore;
import dev.berth.agent.cluster.Member;
import dev.berth.agent.cluster.MemberState;
import dev.berth.agent.cluster.Membership;
import dev.berth.agent.cluster.NodeFacts;
import dev.berth.agent.cluster.NodeRegistry;
import dev.berth.agent.cluster.Role;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * Nodes for unit tests of the jobs package: a registry over an in-memory store, a liveness view
 * whose verdicts the test sets, and gossiped facts (capacity, images) the test sets.
 */
final class FakeNodes implements Membership, GossipView {
  final ClusterStore store = new InMemoryClusterStore();
  final NodeRegistry registry = new NodeRegistry(store);
  final JobStore jobs = new JobStore(store);
  private final Map<String, Member> members = new TreeMap<>();
  private final Map<String, NodeFacts> facts = new TreeMap<>();

  /** Registers an alive node with {@code cpus} cpus and {@code memoryMiB} MiB. */
  FakeNodes node(String name, int cpus, long memoryMiB) {
    registry.register(name, "10.0.0." + (members.size() + 1) + ":7946", "", Role.MEMBER, 1);
    members.put(name, new Member(name, "10.0.0." + (members.size() + 1) + ":7946", Role.MEMBER, MemberState.ALIVE, 1));
    facts.put(name, new NodeFacts(name, cpus, memoryMiB << 20, cpus, memoryMiB << 20, List.of(), List.of(), 1));
    return this;
  }

  /** Registers an alive Raft server with no capacity for allocations (a server of the quorum). */
  FakeNodes server(String name) {
    registry.register(name, "10.0.1." + (members.size() + 1) + ":7946", "", Role.SERVER, 1);
    members.put(name, new Member(name, "10.0.1." + (members.size() + 1) + ":7946", Role.SERVER, MemberState.ALIVE, 1));
    return this;
  }

  /** Starts draining a node, as {@code berth node drain} records it; deadline 0: none. */
  void drain(String name, long deadlineMillis) {
    registry.update(name, r -> r.withDrain(true, deadlineMillis));
  }

  /**
   * Plays every node's part for one round, as their agents would: what they were asked to stop
   * is stopped; what is pending runs; what runs is reported {@code healthy} as given.
   */
  void nodesReport(boolean healthy) {
    for (String node : members.keySet()) {
      jobs.updateNode(node, list -> list.stream().map(a -> {
        if (JobCodec.terminal(a)) {
          return a;
        }
        if (a.getDesiredStop()) {
          return a.toBuilder().setState(dev.berth.proto.v1.AllocationState.ALLOCATION_STOPPED_VALUE).build();
        }
        return a.toBuilder().setState(dev.berth.proto.v1.AllocationState.ALLOCATION_RUNNING_VALUE)
            .setHealthy(a.getHealthy() || healthy).build();
      }).toList());
    }
  }

  void state(String name, MemberState state) {
    Member m = members.get(name);
    members.put(name, new Member(name, m.address(), m.role(), state, 2));
  }

  ClusterView view() {
    return new ClusterView(registry, this, this, jobs);
  }

  @Override
  public Member local() {
    return members.values().iterator().next();
  }

  @Override
  public List<Member> members() {
    return members.values().stream().sorted(Comparator.comparing(Member::name)).toList();
  }

  @Override
  public Optional<Member> member(String name) {
    return Optional.ofNullable(members.get(name));
  }

  @Override
  public void addListener(Consumer<Member> listener) {}

  @Override
  public void removeListener(Consumer<Member> listener) {}

  @Override
  public Map<String, NodeFacts> all() {
    return Map.copyOf(facts);
  }

  @Override
  public Optional<NodeFacts> of(String node) {
    return Optional.ofNullable(facts.get(node));
  }
}
