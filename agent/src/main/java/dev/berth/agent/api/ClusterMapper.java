package dev.berth.agent.api;

import dev.berth.agent.cluster.ClusterStatus;
import dev.berth.agent.cluster.Member;
import dev.berth.agent.cluster.MemberState;
import dev.berth.agent.cluster.NodeFacts;
import dev.berth.agent.cluster.NodeInfo;
import dev.berth.agent.cluster.NodeRecord;
import dev.berth.agent.cluster.Role;
import dev.berth.proto.v1.ClusterServer;
import dev.berth.proto.v1.Node;
import dev.berth.proto.v1.NodeContainer;
import dev.berth.proto.v1.NodeRole;
import dev.berth.proto.v1.NodeStatus;
import java.util.Locale;

/** Maps the cluster's domain records to the API's messages; the cluster services' one mapper. */
final class ClusterMapper {
  private ClusterMapper() {}

  static Node node(NodeInfo n) {
    Node.Builder b = Node.newBuilder().setName(n.name()).setAddress(n.member().address())
        .setRole(role(n.member().role())).setStatus(status(n.member().state()))
        .setStatusSinceUnixMillis(n.member().sinceMillis()).setRegistered(n.record().isPresent());
    n.record().ifPresent(r -> b.setRole(role(r.role())).putAllLabels(r.labels()).setDrain(r.drain()).setEligible(r.eligible())
        .setDrainDeadlineUnixMillis(r.drainDeadlineMillis())
        .setAddress(n.member().address().isEmpty() ? r.address() : n.member().address()));
    n.facts().ifPresent(f -> facts(b, f));
    return b.build();
  }

  private static void facts(Node.Builder b, NodeFacts f) {
    b.setCpus(f.cpus()).setMemoryBytes(f.memoryBytes()).setFreeCpus(f.freeCpus()).setFreeMemoryBytes(f.freeMemoryBytes())
        .addAllImageDigests(f.imageDigests()).setFactsUnixMillis(f.updatedAtMillis());
    for (NodeFacts.ContainerFact c : f.containers()) {
      b.addContainers(NodeContainer.newBuilder().setId(c.id()).setName(c.name()).setImage(c.image()).setState(c.state()));
    }
  }

  static dev.berth.proto.v1.ClusterStatus status(ClusterStatus s) {
    dev.berth.proto.v1.ClusterStatus.Builder b = dev.berth.proto.v1.ClusterStatus.newBuilder()
        .setCluster(s.cluster()).setNode(s.node()).setRole(role(s.role()))
        .setPhase(s.phase().name().toLowerCase(Locale.ROOT)).setMessage(s.message())
        .setLeader(s.leader().orElse("")).setTerm(s.term()).setQuorum(s.quorum()).setStartupMillis(s.startupMillis());
    for (Member m : s.servers()) {
      b.addServers(ClusterServer.newBuilder().setName(m.name()).setAddress(m.address()).setStatus(status(m.state()))
          .setLeader(s.leader().filter(m.name()::equals).isPresent()));
    }
    return b.build();
  }

  static NodeRole role(Role r) {
    return r == Role.SERVER ? NodeRole.NODE_ROLE_SERVER : NodeRole.NODE_ROLE_MEMBER;
  }

  static NodeStatus status(MemberState s) {
    return switch (s) {
      case ALIVE -> NodeStatus.NODE_STATUS_READY;
      case SUSPECT -> NodeStatus.NODE_STATUS_SUSPECT;
      case DOWN -> NodeStatus.NODE_STATUS_DOWN;
    };
  }

  /** A drain's deadline when the request gives none: Nomad's default, an hour. */
  static final java.time.Duration DEFAULT_DRAIN_DEADLINE = java.time.Duration.ofHours(1);

  /**
   * Unused fields of a record stay as they are; see {@code UpdateNodeRequest}. A drain's deadline
   * is made absolute here, on {@code nowMillis}: the servers compare it with their clocks.
   */
  static NodeRecord apply(NodeRecord r, dev.berth.proto.v1.UpdateNodeRequest req, long nowMillis) {
    java.util.Map<String, String> labels = new java.util.HashMap<>(r.labels());
    labels.putAll(req.getLabelAddMap());
    req.getLabelRmList().forEach(labels::remove);
    NodeRecord out = r.withLabels(labels);
    if (req.hasDrain()) {
      long deadline = 0;
      if (req.getDrain()) {
        long in = req.hasDrainDeadlineMillis() ? req.getDrainDeadlineMillis() : DEFAULT_DRAIN_DEADLINE.toMillis();
        // 0: at once; the stored 0 means "none", so "at once" is now.
        deadline = in < 0 ? 0 : Math.max(1, nowMillis + in);
      }
      out = out.withDrain(req.getDrain(), deadline);
    }
    if (req.hasEligible()) {
      out = out.withEligible(req.getEligible());
    }
    return out;
  }
}
