package dev.berth.ctl;

import com.google.protobuf.Message;
import dev.berth.proto.v1.ClusterServiceGrpc;
import dev.berth.proto.v1.ClusterStatus;
import dev.berth.proto.v1.ClusterStatusRequest;
import dev.berth.proto.v1.ListNodesRequest;
import dev.berth.proto.v1.ListNodesResponse;
import dev.berth.proto.v1.Node;
import dev.berth.proto.v1.NodeRef;
import dev.berth.proto.v1.NodeServiceGrpc;
import dev.berth.proto.v1.UpdateNodeRequest;
import io.grpc.BindableService;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The cluster and node services of {@link FakeDaemon}: nodes are what the test put in, Update
 * applies the label changes as the agent does, and {@link #starting} makes every call answer
 * UNAVAILABLE as an agent whose cluster layer is still starting.
 */
final class FakeClusterServices {
  final Map<String, Node> nodes = new LinkedHashMap<>();
  volatile ClusterStatus status = ClusterStatus.getDefaultInstance();
  volatile boolean starting;
  private final List<Message> requests;

  FakeClusterServices(List<Message> requests) {
    this.requests = requests;
  }

  List<BindableService> services() {
    return List.of(new Nodes(), new Clusters());
  }

  private <T> void unary(Message request, StreamObserver<T> response, java.util.function.Supplier<T> answer) {
    requests.add(request);
    try {
      if (starting) {
        throw Status.UNAVAILABLE.withDescription("the cluster is still starting").asRuntimeException();
      }
      response.onNext(answer.get());
      response.onCompleted();
    } catch (RuntimeException e) {
      response.onError(e);
    }
  }

  private synchronized Node find(String name) {
    Node n = nodes.get(name);
    if (n == null) {
      throw Status.NOT_FOUND.withDescription("No such node: " + name).asRuntimeException();
    }
    return n;
  }

  final class Nodes extends NodeServiceGrpc.NodeServiceImplBase {
    @Override
    public void list(ListNodesRequest r, StreamObserver<ListNodesResponse> o) {
      unary(r, o, () -> {
        synchronized (FakeClusterServices.this) {
          return ListNodesResponse.newBuilder().addAllNodes(nodes.values()).build();
        }
      });
    }

    @Override
    public void inspect(NodeRef r, StreamObserver<Node> o) {
      unary(r, o, () -> find(r.getName()));
    }

    @Override
    public void update(UpdateNodeRequest r, StreamObserver<Node> o) {
      unary(r, o, () -> {
        synchronized (FakeClusterServices.this) {
          Node n = find(r.getName());
          Map<String, String> labels = new HashMap<>(n.getLabelsMap());
          labels.putAll(r.getLabelAddMap());
          r.getLabelRmList().forEach(labels::remove);
          Node.Builder b = n.toBuilder().clearLabels().putAllLabels(labels);
          if (r.hasDrain()) {
            b.setDrain(r.getDrain());
          }
          if (r.hasEligible()) {
            b.setEligible(r.getEligible());
          }
          nodes.put(n.getName(), b.build());
          return b.build();
        }
      });
    }
  }

  final class Clusters extends ClusterServiceGrpc.ClusterServiceImplBase {
    @Override
    public void status(ClusterStatusRequest r, StreamObserver<ClusterStatus> o) {
      unary(r, o, () -> status);
    }
  }
}
