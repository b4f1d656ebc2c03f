package dev.berth.agent.api;

import dev.berth.agent.BerthException;
import dev.berth.agent.cluster.GossipView;
import dev.berth.agent.cluster.MemberState;
import dev.berth.agent.cluster.Membership;
import dev.berth.agent.cluster.NodeFacts;
import dev.berth.agent.cluster.NodeRecord;
import dev.berth.agent.cluster.NodeRegistry;
import dev.berth.agent.runtime.ContainerRuntime;
import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerServiceGrpc;
import dev.berth.proto.v1.ContainerStatus;
import dev.berth.proto.v1.SystemServiceGrpc;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * Finds the node a container lives on when it is not on this one, and sends the request there:
 * the CLI may talk to any agent of a cluster, as with Swarm or Nomad.
 *
 * <p>Where: each other node's containers as it last gossiped them ({@link GossipView}, a hint),
 * taken only from nodes the replicated registry holds (gossip is plaintext UDP, anyone can forge
 * it); the address is the one the node registered ({@link NodeRecord#apiAddress()}), and with TLS
 * the peer must prove it is that node. A stale hint costs one round trip: the node answers
 * NOT_FOUND itself.
 *
 * <p>No loops: a forwarded call carries {@link #FORWARDED_BY}, and {@link ForwardedCallInterceptor}
 * marks it in the {@link Context}; {@link #locate} then finds nothing, so the agent answers from
 * its own containers only. Errors are relayed as the owning agent gave them; only when that agent
 * never answered (its answer lacks {@link #ANSWERED_BY}) is an UNAVAILABLE reworded to name the
 * node.
 *
 * <p>Lifecycle: built by the composition root, closed on shutdown (its channels, one per node,
 * with it). Thread-safe. {@link #locate} reads the local gossip view first and the registry only
 * when gossip names a candidate, so a container found nowhere costs no cluster round trip and a
 * cluster still starting changes nothing for containers of this node.
 */
public final class ContainerForwarder implements AutoCloseable {
  /** The node that forwarded a call; an agent never forwards a call that carries it. */
  public static final Metadata.Key<String> FORWARDED_BY = Metadata.Key.of("berth-forwarded", Metadata.ASCII_STRING_MARSHALLER);
  /** The node a call was forwarded to: any other agent refuses it (its registered address is wrong). */
  public static final Metadata.Key<String> FORWARDED_TO = Metadata.Key.of("berth-forwarded-to", Metadata.ASCII_STRING_MARSHALLER);
  /** In the trailers of a forwarded call's answer: the node whose agent answered. */
  public static final Metadata.Key<String> ANSWERED_BY = Metadata.Key.of("berth-answered-by", Metadata.ASCII_STRING_MARSHALLER);
  /** Set while serving a forwarded call: the node that forwarded it. */
  static final Context.Key<String> FORWARDED = Context.key("berth-forwarded");

  /** Opens a channel to a node's agent at its registered API address. */
  @FunctionalInterface
  public interface Channels {
    /** Throws {@code BerthException} when this agent may not dial it (e.g. no TLS to do it with). */
    ManagedChannel open(String node, String address);
  }

  /**
   * A container on another node, and where to reach that node's agent.
   *
   * @param node the node's name
   * @param address its registered API address (host:port)
   * @param id the container's full id
   * @param name the container's name
   */
  public record Remote(String node, String address, String id, String name) {}

  private record Open(String address, ManagedChannel channel) {}

  private final String self;
  private final NodeRegistry registry;
  private final GossipView gossip;
  private final Membership membership;
  private final Channels channels;
  private final Map<String, Open> open = new ConcurrentHashMap<>();
  private volatile boolean closed;

  /**
   * @param self this node's name; its own gossiped containers are never a target
   * @param channels how to dial another agent ({@link AgentChannels})
   */
  public ContainerForwarder(String self, NodeRegistry registry, GossipView gossip, Membership membership, Channels channels) {
    this.self = self;
    this.registry = registry;
    this.gossip = gossip;
    this.membership = membership;
    this.channels = channels;
  }

  /**
   * Where {@code ref} lives when it is not a container of {@code runtime} (this node's): empty when
   * it is here, also when the ref is invalid or ambiguous here (this node's answer says so), and
   * as {@link #locate}. Only a container missing here costs a look at the cluster.
   */
  public Optional<Remote> ownerElsewhere(ContainerRuntime runtime, String ref) {
    return isHere(runtime, ref) ? Optional.empty() : locate(ref);
  }

  /** Whether this node answers for {@code ref}: it names a container here, or is no good here. */
  static boolean isHere(ContainerRuntime runtime, String ref) {
    try {
      runtime.inspect(ref);
      return true;
    } catch (BerthException e) {
      return e.kind() != BerthException.Kind.NOT_FOUND;
    }
  }

  /** Whether the call being served was forwarded by another agent. */
  static boolean servingForwarded() {
    return FORWARDED.get() != null;
  }

  /**
   * The other node {@code ref} (id, unique id prefix or name) names a container of, as gossiped;
   * empty when none does, or when the call being served was forwarded already. Throws {@code
   * INVALID_ARGUMENT} when it names containers on several nodes (the message lists them),
   * {@code FAILED_PRECONDITION} when the node serves no API over TCP, {@code UNAVAILABLE} when it
   * is down or the registry cannot be read.
   */
  public Optional<Remote> locate(String ref) {
    if (servingForwarded() || ref == null || ref.isBlank()) {
      return Optional.empty();
    }
    Map<String, Optional<NodeRecord>> records = new HashMap<>();
    Predicate<String> registered = node -> records.computeIfAbsent(node, registry::get).isPresent();
    Optional<Located> found = find(ref, self, gossip.all(), registered);
    if (found.isEmpty()) {
      return Optional.empty();
    }
    Located c = found.get();
    NodeRecord node = records.get(c.node()).orElseThrow();
    if (node.apiAddress().isEmpty()) {
      throw BerthException.failedPrecondition("container " + c.name() + " is on node " + c.node()
          + ", which serves no API over TCP that other agents reach: start berthd on " + c.node()
          + " with --tcp HOST:PORT (an address the other nodes reach)");
    }
    if (membership.member(c.node()).map(m -> m.state() == MemberState.DOWN).orElse(false)) {
      throw new BerthException(BerthException.Kind.UNAVAILABLE, "container " + c.name() + " is on node " + c.node()
          + ", which is down: its agent has not been heard from for the grace period");
    }
    return Optional.of(new Remote(c.node(), node.apiAddress(), c.id(), c.name()));
  }

  /** A container found in another node's gossiped facts. */
  record Located(String node, String id, String name) {}

  /**
   * The lookup, as the runtime's own: an exact id, else an exact name, else a unique id prefix
   * (a leading '/' of a name ignored), among the containers other registered nodes gossip.
   * Several matches of the first kind that matches are ambiguous: INVALID_ARGUMENT naming each
   * candidate and its node.
   */
  static Optional<Located> find(String ref, String self, Map<String, NodeFacts> facts, Predicate<String> registered) {
    String r = ref.startsWith("/") ? ref.substring(1) : ref;
    List<Located> byId = new ArrayList<>();
    List<Located> byName = new ArrayList<>();
    List<Located> byPrefix = new ArrayList<>();
    for (NodeFacts f : facts.values()) {
      if (f.node().equals(self)) {
        continue;
      }
      for (NodeFacts.ContainerFact c : f.containers()) {
        Located l = new Located(f.node(), c.id(), c.name());
        if (c.id().equals(r)) {
          byId.add(l);
        } else if (c.name().equals(r)) {
          byName.add(l);
        } else if (c.id().startsWith(r)) {
          byPrefix.add(l);
        }
      }
    }
    // Gossip names candidates; only a registered node's word counts.
    byId.removeIf(l -> !registered.test(l.node()));
    if (!byId.isEmpty()) {
      return one(byId, "the container id \"" + r + "\" is claimed by several nodes", "");
    }
    byName.removeIf(l -> !registered.test(l.node()));
    if (!byName.isEmpty()) {
      return one(byName, "the container name \"" + r + "\" is taken on several nodes", "; give the id instead");
    }
    byPrefix.removeIf(l -> !registered.test(l.node()));
    if (!byPrefix.isEmpty()) {
      return one(byPrefix, "multiple containers match the id prefix \"" + r + "\"", "; give more of the id");
    }
    return Optional.empty();
  }

  private static Optional<Located> one(List<Located> matches, String what, String advice) {
    if (matches.size() == 1) {
      return Optional.of(matches.get(0));
    }
    List<Located> sorted = new ArrayList<>(matches);
    sorted.sort(java.util.Comparator.comparing(Located::node).thenComparing(Located::id));
    StringBuilder b = new StringBuilder(what).append(": ");
    for (int i = 0; i < sorted.size(); i++) {
      Located l = sorted.get(i);
      b.append(i == 0 ? "" : ", ").append(l.name()).append(" (").append(l.id(), 0, Math.min(12, l.id().length()))
          .append(") on node ").append(l.node());
    }
    throw BerthException.invalid(b.append(advice).toString());
  }

  /**
   * Every other registered node's containers as it last gossiped them: id, name, image, status and
   * node only; running ones only unless {@code all}. By node name. Reads the registry (UNAVAILABLE
   * while the cluster starts).
   */
  public List<Container> listElsewhere(boolean all) {
    List<NodeRecord> nodes;
    try {
      nodes = registry.list();
    } catch (BerthException e) {
      throw new BerthException(e.kind(), "cannot list the other nodes' containers: " + e.getMessage(), e);
    }
    List<Container> out = new ArrayList<>();
    for (NodeRecord r : nodes) {
      if (r.name().equals(self)) {
        continue;
      }
      for (NodeFacts.ContainerFact c : gossip.of(r.name()).map(NodeFacts::containers).orElse(List.of())) {
        ContainerStatus status = status(c.state());
        if (all || status == ContainerStatus.RUNNING) {
          out.add(Container.newBuilder().setId(c.id()).setName(c.name()).setImage(c.image()).setStatus(status)
              .setNode(r.name()).build());
        }
      }
    }
    return out;
  }

  /** A gossiped state ({@code ContainerState.Status} in lower case) as the API's status. */
  static ContainerStatus status(String state) {
    try {
      ContainerStatus s = ContainerStatus.valueOf(state.toUpperCase(Locale.ROOT));
      return s == ContainerStatus.UNRECOGNIZED ? ContainerStatus.CONTAINER_STATUS_UNSPECIFIED : s;
    } catch (IllegalArgumentException e) {
      return ContainerStatus.CONTAINER_STATUS_UNSPECIFIED;
    }
  }

  /** The container API of {@code to}'s agent; calls through it are marked forwarded by this node. */
  public ContainerServiceGrpc.ContainerServiceStub containers(Remote to) {
    return ContainerServiceGrpc.newStub(channel(to)).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers(to)));
  }

  /** The system API (stats, top) of {@code to}'s agent, as {@link #containers}. */
  public SystemServiceGrpc.SystemServiceStub system(Remote to) {
    return SystemServiceGrpc.newStub(channel(to)).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers(to)));
  }

  private Metadata headers(Remote to) {
    Metadata m = new Metadata();
    m.put(FORWARDED_BY, self);
    m.put(FORWARDED_TO, to.node());
    return m;
  }

  private ManagedChannel channel(Remote to) {
    if (closed) {
      throw new BerthException(BerthException.Kind.UNAVAILABLE, "this agent is shutting down");
    }
    Open o = open.compute(to.node(), (node, cur) -> {
      if (cur != null && cur.address().equals(to.address()) && !cur.channel().isShutdown()) {
        return cur;
      }
      if (cur != null) {
        cur.channel().shutdown();  // the node registered another address
      }
      try {
        return new Open(to.address(), channels.open(to.node(), to.address()));
      } catch (BerthException e) {
        throw new BerthException(e.kind(), "container " + to.name() + " is on node " + to.node() + ": " + e.getMessage(), e);
      }
    });
    return o.channel();
  }

  /**
   * Relays a forwarded call's answer to {@code out} as it comes: for unary calls and for the
   * output of attach and exec (whose volume the terminal paces).
   */
  public <T> StreamObserver<T> relay(Remote from, StreamObserver<T> out) {
    return new StreamObserver<>() {
      @Override
      public void onNext(T value) {
        out.onNext(value);
      }

      @Override
      public void onError(Throwable t) {
        out.onError(relayed(t, from));
      }

      @Override
      public void onCompleted() {
        out.onCompleted();
      }
    };
  }

  /**
   * Relays a forwarded server stream (logs) with flow control: the next message is asked of the
   * owning agent only once the client can take it, so a large log never piles up here. Cancelling
   * the client's call cancels the forwarded one. Create it while the service method runs (it
   * installs the server call's handlers).
   */
  public <Q, T> ClientResponseObserver<Q, T> relayStream(Remote from, StreamObserver<T> out) {
    ServerCallStreamObserver<T> down = (ServerCallStreamObserver<T>) out;
    return new ClientResponseObserver<>() {
      private ClientCallStreamObserver<Q> up;
      private boolean wanting;  // guarded by this: the owning agent waits for a request

      @Override
      public void beforeStart(ClientCallStreamObserver<Q> call) {
        up = call;
        call.disableAutoRequestWithInitial(1);
        down.setOnReadyHandler(this::ready);
        down.setOnCancelHandler(() -> call.cancel("the client cancelled", null));
      }

      private synchronized void ready() {
        if (wanting && down.isReady()) {
          wanting = false;
          up.request(1);
        }
      }

      @Override
      public void onNext(T value) {
        down.onNext(value);
        synchronized (this) {
          if (down.isReady()) {
            up.request(1);
          } else {
            wanting = true;
          }
        }
      }

      @Override
      public void onError(Throwable t) {
        if (!down.isCancelled()) {
          down.onError(relayed(t, from));
        }
      }

      @Override
      public void onCompleted() {
        if (!down.isCancelled()) {
          down.onCompleted();
        }
      }
    };
  }

  /**
   * The error to give the client for a forwarded call's error: the owning agent's status as it
   * is, or, when that agent never answered (no {@link #ANSWERED_BY}: refused connection, failed
   * handshake, no route), UNAVAILABLE naming the node.
   */
  static StatusRuntimeException relayed(Throwable t, Remote from) {
    Status s = Status.fromThrowable(t);
    Metadata trailers = Status.trailersFromThrowable(t);
    boolean answered = trailers != null && trailers.get(ANSWERED_BY) != null;
    if (answered || s.getCode() != Status.Code.UNAVAILABLE) {
      return s.asRuntimeException();
    }
    return Status.UNAVAILABLE.withCause(s.getCause())
        .withDescription("container " + from.name() + " is on node " + from.node() + ", whose agent at " + from.address()
            + " cannot be reached (is it down?): " + s.getDescription())
        .asRuntimeException();
  }

  /** Closes every channel; calls in flight are cancelled. */
  @Override
  public void close() {
    closed = true;
    for (Open o : open.values()) {
      o.channel().shutdownNow();
    }
    for (Open o : open.values()) {
      try {
        o.channel().awaitTermination(2, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
    open.clear();
  }
}
