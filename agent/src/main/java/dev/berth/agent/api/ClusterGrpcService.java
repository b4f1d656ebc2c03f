package dev.berth.agent.api;

import dev.berth.agent.cluster.ClusterStatus;
import dev.berth.proto.v1.ClusterServiceGrpc;
import dev.berth.proto.v1.ClusterStatusRequest;
import io.grpc.stub.StreamObserver;
import java.util.function.Supplier;

/** `berth cluster status`: this agent's view of the cluster. Answers even while the cluster starts (phase "starting"). */
public final class ClusterGrpcService extends ClusterServiceGrpc.ClusterServiceImplBase {
  private final Supplier<ClusterStatus> status;

  /** @param status the cluster layer's status; must not block on the network */
  public ClusterGrpcService(Supplier<ClusterStatus> status) {
    this.status = status;
  }

  @Override
  public void status(ClusterStatusRequest req, StreamObserver<dev.berth.proto.v1.ClusterStatus> out) {
    out.onNext(ClusterMapper.status(status.get()));
    out.onCompleted();
  }
}
