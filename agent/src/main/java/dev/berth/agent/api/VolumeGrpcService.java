package dev.berth.agent.api;

import dev.berth.agent.runtime.ContainerRuntime;
import dev.berth.agent.runtime.VolumeStore;
import dev.berth.proto.v1.CreateVolumeRequest;
import dev.berth.proto.v1.ListVolumesRequest;
import dev.berth.proto.v1.ListVolumesResponse;
import dev.berth.proto.v1.PruneVolumesRequest;
import dev.berth.proto.v1.PruneVolumesResponse;
import dev.berth.proto.v1.RemoveVolumeRequest;
import dev.berth.proto.v1.RemoveVolumeResponse;
import dev.berth.proto.v1.Volume;
import dev.berth.proto.v1.VolumeRef;
import dev.berth.proto.v1.VolumeServiceGrpc;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.Map;

/** The volume API: validates, maps, delegates to the volume store; in-use comes from the runtime. */
public final class VolumeGrpcService extends VolumeServiceGrpc.VolumeServiceImplBase {
  private final VolumeStore volumes;
  private final ContainerRuntime runtime;

  public VolumeGrpcService(VolumeStore volumes, ContainerRuntime runtime) {
    this.volumes = volumes;
    this.runtime = runtime;
  }

  @Override
  public void create(CreateVolumeRequest req, StreamObserver<Volume> out) {
    reply(out, map(volumes.create(req.getName(), req.getLabelsMap(), false)));
  }

  @Override
  public void list(ListVolumesRequest req, StreamObserver<ListVolumesResponse> out) {
    reply(out, ListVolumesResponse.newBuilder().addAllVolumes(volumes.list().stream().map(this::map).toList()).build());
  }

  @Override
  public void inspect(VolumeRef req, StreamObserver<Volume> out) {
    reply(out, map(volumes.get(req.getName())));
  }

  @Override
  public void remove(RemoveVolumeRequest req, StreamObserver<RemoveVolumeResponse> out) {
    volumes.remove(req.getName(), req.getForce(), runtime::volumeInUse);
    reply(out, RemoveVolumeResponse.newBuilder().setName(req.getName()).build());
  }

  @Override
  public void prune(PruneVolumesRequest req, StreamObserver<PruneVolumesResponse> out) {
    Map.Entry<List<String>, Long> r = volumes.prune(req.getAll(), runtime::volumeInUse);
    reply(out, PruneVolumesResponse.newBuilder().addAllDeleted(r.getKey()).setReclaimedBytes(r.getValue()).build());
  }

  private Volume map(VolumeStore.Volume v) {
    return Volume.newBuilder().setName(v.name()).setMountpoint(v.mountpoint().toString()).putAllLabels(v.labels())
        .setCreatedUnixNanos(ProtoMapper.nanos(v.created())).setAnonymous(v.anonymous())
        .addAllUsedBy(runtime.volumeUsers(v.name())).build();
  }

  private static <T> void reply(StreamObserver<T> out, T value) {
    out.onNext(value);
    out.onCompleted();
  }
}
