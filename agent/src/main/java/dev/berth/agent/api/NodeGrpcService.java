package dev.berth.agent.api;

import dev.berth.agent.BerthException;
import dev.berth.agent.cluster.NodeDirectory;
import dev.berth.proto.v1.ListNodesRequest;
import dev.berth.proto.v1.ListNodesResponse;
import dev.berth.proto.v1.Node;
import dev.berth.proto.v1.NodeRef;
import dev.berth.proto.v1.NodeServiceGrpc;
import dev.berth.proto.v1.UpdateNodeRequest;
import io.grpc.stub.StreamObserver;
import java.util.regex.Pattern;

/**
 * `berth nodes`, `berth node inspect|update|drain|activate`: validate, delegate to
 * {@link NodeDirectory}, map. A drain is only recorded here (drain, deadline); the scheduling
 * loop on the leading server moves the allocations.
 * While the cluster starts the directory throws UNAVAILABLE, which {@link Errors} maps.
 */
public final class NodeGrpcService extends NodeServiceGrpc.NodeServiceImplBase {
  /** Label keys as Kubernetes and Nomad accept them, minus the prefix's slash rules: simple and shell-safe. */
  private static final Pattern LABEL_KEY = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9_./-]{0,126}[A-Za-z0-9])?");
  private static final int MAX_LABEL_VALUE = 256;

  private final NodeDirectory nodes;

  public NodeGrpcService(NodeDirectory nodes) {
    this.nodes = nodes;
  }

  @Override
  public void list(ListNodesRequest req, StreamObserver<ListNodesResponse> out) {
    ListNodesResponse.Builder b = ListNodesResponse.newBuilder();
    nodes.list().forEach(n -> b.addNodes(ClusterMapper.node(n)));
    out.onNext(b.build());
    out.onCompleted();
  }

  @Override
  public void inspect(NodeRef req, StreamObserver<Node> out) {
    out.onNext(ClusterMapper.node(nodes.inspect(requireName(req.getName()))));
    out.onCompleted();
  }

  @Override
  public void update(UpdateNodeRequest req, StreamObserver<Node> out) {
    requireName(req.getName());
    req.getLabelAddMap().forEach((k, v) -> {
      requireLabelKey(k);
      if (v.length() > MAX_LABEL_VALUE) {
        throw BerthException.invalid("label " + k + ": a value has at most " + MAX_LABEL_VALUE + " characters");
      }
    });
    req.getLabelRmList().forEach(NodeGrpcService::requireLabelKey);
    if (req.hasDrainDeadlineMillis() && !(req.hasDrain() && req.getDrain())) {
      throw BerthException.invalid("a drain deadline goes with drain: true");
    }
    long now = System.currentTimeMillis();
    out.onNext(ClusterMapper.node(nodes.update(req.getName(), r -> ClusterMapper.apply(r, req, now))));
    out.onCompleted();
  }

  private static String requireName(String name) {
    if (name.isBlank()) {
      throw BerthException.invalid("a node name is required");
    }
    return name;
  }

  private static void requireLabelKey(String k) {
    if (!LABEL_KEY.matcher(k).matches()) {
      throw BerthException.invalid("invalid label key \"" + k + "\": letters, digits, '-', '_', '.', '/', at most 128");
    }
  }
}
