package dev.berth.ctl;

import com.google.protobuf.Message;
import dev.berth.proto.v1.ContainerSpec;
import dev.berth.proto.v1.CreateNetworkRequest;
import dev.berth.proto.v1.ListNetworksRequest;
import dev.berth.proto.v1.ListNetworksResponse;
import dev.berth.proto.v1.Network;
import dev.berth.proto.v1.NetworkRef;
import dev.berth.proto.v1.NetworkServiceGrpc;
import dev.berth.proto.v1.NetworkSettings;
import dev.berth.proto.v1.PortBinding;
import dev.berth.proto.v1.PruneNetworksRequest;
import dev.berth.proto.v1.PruneNetworksResponse;
import dev.berth.proto.v1.RemoveNetworkResponse;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * NetworkService in memory, for {@link FakeDaemon}: bridge, host and none exist from the start
 * and cannot be removed; Remove refuses a network with containers; Prune takes the user-defined
 * ones without. The errors carry the agent's words (docker's).
 */
final class FakeNetworkService extends NetworkServiceGrpc.NetworkServiceImplBase {
  /** Networks by name, in creation order. */
  final Map<String, Network> networks = new LinkedHashMap<>();
  private final List<Message> requests;
  private int created;

  FakeNetworkService(List<Message> requests) {
    this.requests = requests;
    networks.put("bridge", Network.newBuilder().setId("b1".repeat(32)).setName("bridge").setDriver("bridge")
        .setSubnet("172.17.0.0/16").setGateway("172.17.0.1").setBridge("berth0").setPredefined(true)
        .setCreatedUnixNanos(CliRunner.NOW_NANOS).build());
    networks.put("host", Network.newBuilder().setId("c2".repeat(32)).setName("host").setDriver("host")
        .setPredefined(true).setCreatedUnixNanos(CliRunner.NOW_NANOS).build());
    networks.put("none", Network.newBuilder().setId("d3".repeat(32)).setName("none").setDriver("null")
        .setPredefined(true).setCreatedUnixNanos(CliRunner.NOW_NANOS).build());
  }

  /** By name, id or id prefix, as the agent resolves a NetworkRef. */
  synchronized Network find(String ref) {
    Network n = networks.get(ref);
    if (n != null) {
      return n;
    }
    for (Network candidate : networks.values()) {
      if (!ref.isEmpty() && candidate.getId().startsWith(ref)) {
        return candidate;
      }
    }
    throw Status.NOT_FOUND.withDescription("network " + ref + " not found").asRuntimeException();
  }

  /**
   * Where a container created with {@code spec} sits: NOT_FOUND for an unknown network, nothing
   * for host and none, else its network with the ports reserved (host port 0: 32768 onwards).
   */
  synchronized NetworkSettings attach(ContainerSpec spec) {
    Network n = find(spec.getNetworkMode().isEmpty() ? "bridge" : spec.getNetworkMode());
    if (!n.getDriver().equals("bridge")) {
      return NetworkSettings.getDefaultInstance();
    }
    NetworkSettings.Builder s = NetworkSettings.newBuilder().setNetwork(n.getName()).setNetworkId(n.getId())
        .setGateway(n.getGateway()).setBridge(n.getBridge()).addAllAliases(spec.getNetworkAliasesList());
    int chosen = 32768;
    for (PortBinding p : spec.getPortsList()) {
      s.addPorts(p.getHostPort() != 0 ? p : p.toBuilder().setHostPort(chosen++).build());
    }
    return s.build();
  }

  private <T> void unary(Message request, StreamObserver<T> response, Supplier<T> answer) {
    requests.add(request);
    try {
      response.onNext(answer.get());
      response.onCompleted();
    } catch (RuntimeException e) {
      response.onError(e);
    }
  }

  @Override
  public void create(CreateNetworkRequest r, StreamObserver<Network> o) {
    unary(r, o, () -> {
      synchronized (this) {
        if (networks.containsKey(r.getName())) {
          throw Status.ALREADY_EXISTS.withDescription("network with name " + r.getName() + " already exists").asRuntimeException();
        }
        created++;
        String subnet = r.getSubnet().isEmpty() ? "172." + (17 + created) + ".0.0/16" : r.getSubnet();
        String gateway = r.getGateway().isEmpty() ? subnet.substring(0, subnet.lastIndexOf(".0/")) + ".1" : r.getGateway();
        Network n = Network.newBuilder().setId(String.format("%02x", 0xe0 + created).repeat(32)).setName(r.getName())
            .setDriver("bridge").setSubnet(subnet).setGateway(gateway).setBridge("br-" + created)
            .putAllLabels(r.getLabelsMap()).setInternal(r.getInternal()).setCreatedUnixNanos(CliRunner.NOW_NANOS).build();
        networks.put(n.getName(), n);
        return n;
      }
    });
  }

  @Override
  public void list(ListNetworksRequest r, StreamObserver<ListNetworksResponse> o) {
    unary(r, o, () -> {
      synchronized (this) {
        return ListNetworksResponse.newBuilder().addAllNetworks(networks.values()).build();
      }
    });
  }

  @Override
  public void inspect(NetworkRef r, StreamObserver<Network> o) {
    unary(r, o, () -> find(r.getId()));
  }

  @Override
  public void remove(NetworkRef r, StreamObserver<RemoveNetworkResponse> o) {
    unary(r, o, () -> {
      synchronized (this) {
        Network n = find(r.getId());
        if (n.getPredefined()) {
          throw Status.FAILED_PRECONDITION.withDescription(n.getName() + " is a pre-defined network and cannot be removed")
              .asRuntimeException();
        }
        if (n.getContainersCount() > 0) {
          throw Status.FAILED_PRECONDITION.withDescription("error while removing network: network " + n.getName()
              + " id " + n.getId() + " has active endpoints").asRuntimeException();
        }
        networks.remove(n.getName());
        return RemoveNetworkResponse.newBuilder().setId(n.getId()).build();
      }
    });
  }

  @Override
  public void prune(PruneNetworksRequest r, StreamObserver<PruneNetworksResponse> o) {
    unary(r, o, () -> {
      synchronized (this) {
        List<String> deleted = networks.values().stream().filter(n -> !n.getPredefined() && n.getContainersCount() == 0)
            .map(Network::getName).toList();
        deleted.forEach(networks::remove);
        return PruneNetworksResponse.newBuilder().addAllDeleted(deleted).build();
      }
    });
  }
}
