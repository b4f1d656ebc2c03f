package dev.berth.agent.jobs;

import dev.berth.agent.cluster.GossipView;
import dev.berth.agent.cluster.Member;
import dev.berth.agent.cluster.MemberState;
import dev.berth.agent.cluster.Membership;
import dev.berth.agent.cluster.NodeFacts;
import dev.berth.agent.cluster.NodeRecord;
import dev.berth.agent.cluster.NodeRegistry;
import dev.berth.agent.cluster.Role;
import dev.berth.proto.v1.StoredAllocation;
import dev.berth.scheduler.model.Allocation;
import dev.berth.scheduler.model.ClusterSnapshot;
import dev.berth.scheduler.model.Node;
import dev.berth.scheduler.model.Resources;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The cluster as the placement engine sees it, joined from the agent's three views: the
 * registry (who is a node, labels, eligibility, drain: Raft), liveness (the servers' verdict),
 * and gossip (capacity, attributes, the images and volumes a node holds), with the allocations from the
 * store. A node is ready for new replicas when it is alive and has told its capacity.
 *
 * <p>Stateless; every call reads the store (blocks, throws what it throws).
 */
public final class ClusterView {
  /**
   * Pids a node offers: the kernel's default {@code pid_max} on 64-bit hosts. Nodes do not gossip
   * their own limit; a job's pids request is mostly a per-container cap.
   */
  static final long NODE_PIDS = 4_194_304;

  private final NodeRegistry registry;
  private final Membership membership;
  private final GossipView gossip;
  private final JobStore jobs;

  public ClusterView(NodeRegistry registry, Membership membership, GossipView gossip, JobStore jobs) {
    this.registry = registry;
    this.membership = membership;
    this.gossip = gossip;
    this.jobs = jobs;
  }

  /** A snapshot with what the store holds now, and the allocations as stored, by node. */
  public Read read() {
    List<NodeRecord> records = registry.list();
    Map<String, JobStore.NodeAllocations> allocations = jobs.allAllocations();
    Map<String, NodeFacts> facts = gossip.all();
    List<Node> nodes = new ArrayList<>(records.size());
    Set<String> down = new HashSet<>();
    Map<String, String> addresses = new LinkedHashMap<>();
    Map<String, Long> drains = new LinkedHashMap<>();
    int servers = 0;
    int serversAlive = 0;
    for (NodeRecord r : records) {
      Optional<Member> m = membership.member(r.name());
      MemberState state = m.map(Member::state).orElse(MemberState.DOWN);
      if (state == MemberState.DOWN) {
        down.add(r.name());
      }
      if (r.role() == Role.SERVER) {
        servers++;
        serversAlive += state == MemberState.ALIVE ? 1 : 0;
      }
      if (r.drain()) {
        drains.put(r.name(), r.drainDeadlineMillis());
      }
      addresses.put(r.name(), host(r.address()));
      NodeFacts f = facts.get(r.name());
      Resources capacity = f == null ? Resources.ZERO
          : new Resources(f.cpus() * 1000L, f.memoryBytes(), NODE_PIDS);
      nodes.add(new Node(r.name(), r.name(), r.labels(), f == null ? Map.of() : f.attributes(), capacity,
          state == MemberState.ALIVE && f != null, r.eligible(), r.drain(),
          f == null ? Set.of() : Set.copyOf(f.imageDigests()), f == null ? Set.of() : Set.copyOf(f.volumes())));
    }
    List<Allocation> all = new ArrayList<>();
    long index = 0;
    for (JobStore.NodeAllocations n : allocations.values()) {
      index += n.version();
      for (StoredAllocation a : n.allocations()) {
        all.add(JobCodec.allocation(a));
      }
    }
    boolean quorum = servers == 0 || serversAlive * 2 > servers;
    return new Read(new ClusterSnapshot(index, nodes, all), allocations, down, addresses, drains, quorum);
  }

  /**
   * Ends a node's drain once nothing is left on it: not draining any more, and ineligible, so
   * that nothing comes back until {@code berth node activate} (as Nomad leaves a drained node).
   */
  public void drained(String node) {
    registry.update(node, r -> r.drain() ? r.withDrain(false, 0).withEligible(false) : r);
  }

  /**
   * One read of the cluster.
   *
   * @param snapshot for the placement engine
   * @param allocations as stored, by node, with the versions a commit must name
   * @param down registered nodes the servers judge down: their allocations are lost
   * @param addresses each node's host address, for the ports its replicas publish
   * @param drains the draining nodes and their deadlines (wall clock; 0: none)
   * @param quorum whether this agent's liveness view holds a majority of the registered servers
   *     alive: without it, the view is one side of a partition, or stale, and its "down" verdicts
   *     must not be acted on
   */
  public record Read(ClusterSnapshot snapshot, Map<String, JobStore.NodeAllocations> allocations, Set<String> down,
      Map<String, String> addresses, Map<String, Long> drains, boolean quorum) {}

  private static String host(String address) {
    int colon = address.lastIndexOf(':');
    String h = colon > 0 ? address.substring(0, colon) : address;
    return h.startsWith("[") && h.endsWith("]") ? h.substring(1, h.length() - 1) : h;
  }
}
