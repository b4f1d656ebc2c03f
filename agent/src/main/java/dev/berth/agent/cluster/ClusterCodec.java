package dev.berth.agent.cluster;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.berth.agent.BerthException;
import dev.berth.proto.v1.StoredContainerFact;
import dev.berth.proto.v1.StoredNode;
import dev.berth.proto.v1.StoredNodeFacts;

/**
 * The byte format of the records Berth stores through Atomix (the node registry in Raft, the
 * facts in the gossip map): protobuf ({@code cluster_state.proto}), so that a value written by
 * one version of the agent is read by the next, and Atomix's own serializer never sees a Berth
 * type. Values an earlier agent stored as JSON are still read.
 */
final class ClusterCodec {
  private ClusterCodec() {}

  static byte[] node(NodeRecord n) {
    return StoredNode.newBuilder().setName(n.name()).setAddress(n.address()).setApiAddress(n.apiAddress())
        .setServer(n.role() == Role.SERVER)
        .putAllLabels(n.labels()).setDrain(n.drain()).setEligible(n.eligible())
        .setRegisteredAtMillis(n.registeredAtMillis()).setDrainDeadlineMillis(n.drainDeadlineMillis()).build()
        .toByteArray();
  }

  static NodeRecord node(byte[] bytes) {
    if (isJson(bytes)) {
      return ClusterJson.read(bytes, NodeRecord.class);
    }
    try {
      StoredNode s = StoredNode.parseFrom(bytes);
      return new NodeRecord(s.getName(), s.getAddress(), s.getApiAddress(), s.getServer() ? Role.SERVER : Role.MEMBER,
          s.getLabelsMap(), s.getDrain(), s.getEligible(), s.getRegisteredAtMillis(), s.getDrainDeadlineMillis());
    } catch (InvalidProtocolBufferException e) {
      throw BerthException.internal("cannot decode a stored node: " + e.getMessage(), e);
    }
  }

  static byte[] facts(NodeFacts f) {
    StoredNodeFacts.Builder b = StoredNodeFacts.newBuilder().setNode(f.node()).setCpus(f.cpus())
        .setMemoryBytes(f.memoryBytes()).setFreeCpus(f.freeCpus()).setFreeMemoryBytes(f.freeMemoryBytes())
        .addAllImageDigests(f.imageDigests()).setUpdatedAtMillis(f.updatedAtMillis()).addAllVolumes(f.volumes())
        .putAllAttributes(f.attributes());
    for (NodeFacts.ContainerFact c : f.containers()) {
      b.addContainers(StoredContainerFact.newBuilder().setId(c.id()).setName(c.name()).setImage(c.image())
          .setState(c.state()));
    }
    return b.build().toByteArray();
  }

  static NodeFacts facts(byte[] bytes) {
    if (isJson(bytes)) {
      return ClusterJson.read(bytes, NodeFacts.class);
    }
    try {
      StoredNodeFacts s = StoredNodeFacts.parseFrom(bytes);
      return new NodeFacts(s.getNode(), s.getCpus(), s.getMemoryBytes(), s.getFreeCpus(), s.getFreeMemoryBytes(),
          s.getContainersList().stream()
              .map(c -> new NodeFacts.ContainerFact(c.getId(), c.getName(), c.getImage(), c.getState())).toList(),
          s.getImageDigestsList(), s.getUpdatedAtMillis(), s.getVolumesList(), s.getAttributesMap());
    } catch (InvalidProtocolBufferException e) {
      throw BerthException.internal("cannot decode a node's facts: " + e.getMessage(), e);
    }
  }

  /**
   * A JSON object, as agents before the protobuf format stored: '{' is 0x7b, which as the first
   * byte of a protobuf message would be field 15 of wire type 3, a type proto3 never writes.
   */
  private static boolean isJson(byte[] bytes) {
    return bytes.length > 0 && bytes[0] == '{';
  }
}
