package dev.berth.agent.api;

import dev.berth.agent.BerthException;
import dev.berth.agent.runtime.ContainerRuntime;
import dev.berth.agent.runtime.ContainerView;
import dev.berth.agent.runtime.net.NetworkManager;
import dev.berth.agent.runtime.net.NetworkRecord;
import dev.berth.proto.v1.CreateNetworkRequest;
import dev.berth.proto.v1.ListNetworksRequest;
import dev.berth.proto.v1.ListNetworksResponse;
import dev.berth.proto.v1.Network;
import dev.berth.proto.v1.NetworkEndpoint;
import dev.berth.proto.v1.NetworkRef;
import dev.berth.proto.v1.NetworkServiceGrpc;
import dev.berth.proto.v1.PruneNetworksRequest;
import dev.berth.proto.v1.PruneNetworksResponse;
import dev.berth.proto.v1.RemoveNetworkResponse;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;

/** The network API: validates, maps, delegates to the network manager; membership comes from the runtime. */
public final class NetworkGrpcService extends NetworkServiceGrpc.NetworkServiceImplBase {
  private final NetworkManager networks;
  private final ContainerRuntime runtime;

  public NetworkGrpcService(NetworkManager networks, ContainerRuntime runtime) {
    this.networks = networks;
    this.runtime = runtime;
  }

  @Override
  public void create(CreateNetworkRequest req, StreamObserver<Network> out) {
    if (req.getName().isBlank()) {
      throw BerthException.invalid("a network name is required");
    }
    reply(out, map(networks.create(req.getName(), req.getDriver(), req.getSubnet(), req.getGateway(),
        req.getLabelsMap(), req.getInternal())));
  }

  @Override
  public void list(ListNetworksRequest req, StreamObserver<ListNetworksResponse> out) {
    reply(out, ListNetworksResponse.newBuilder()
        .addAllNetworks(networks.store().list().stream().map(this::map).toList()).build());
  }

  @Override
  public void inspect(NetworkRef req, StreamObserver<Network> out) {
    reply(out, map(networks.store().get(req.getId())));
  }

  @Override
  public void remove(NetworkRef req, StreamObserver<RemoveNetworkResponse> out) {
    NetworkRecord n = networks.store().get(req.getId());
    networks.remove(n, runtime::networkInUse);
    reply(out, RemoveNetworkResponse.newBuilder().setId(n.id()).build());
  }

  @Override
  public void prune(PruneNetworksRequest req, StreamObserver<PruneNetworksResponse> out) {
    List<String> deleted = new ArrayList<>();
    for (NetworkRecord n : networks.store().list()) {
      if (!n.predefined() && !runtime.networkInUse(n.id())) {
        try {
          networks.remove(n, runtime::networkInUse);
          deleted.add(n.name());
        } catch (BerthException e) {
          // A container joined it meanwhile: it stays, as in a prune that ran a moment later.
        }
      }
    }
    reply(out, PruneNetworksResponse.newBuilder().addAllDeleted(deleted).build());
  }

  private Network map(NetworkRecord n) {
    Network.Builder b = Network.newBuilder().setId(n.id()).setName(n.name()).setDriver(n.driver())
        .setSubnet(n.subnet()).setGateway(n.gateway()).setBridge(n.bridge()).putAllLabels(n.labels())
        .setCreatedUnixNanos(ProtoMapper.nanos(n.created())).setInternal(n.internal()).setPredefined(n.predefined());
    for (ContainerView v : runtime.networkMembers(n.id())) {
      NetworkEndpoint.Builder e = NetworkEndpoint.newBuilder().setContainerId(v.id()).setName(v.config().name());
      if (v.endpoint() != null) {
        e.setIpAddress(v.endpoint().ipAddress()).setMacAddress(v.endpoint().macAddress());
      }
      b.addContainers(e);
    }
    return b.build();
  }

  private static <T> void reply(StreamObserver<T> out, T value) {
    out.onNext(value);
    out.onCompleted();
  }
}
