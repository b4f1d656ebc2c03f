package dev.berth.agent.api;

import com.google.protobuf.ByteString;
import dev.berth.agent.BerthException;
import dev.berth.agent.runtime.ContainerRuntime;
import dev.berth.agent.runtime.ContainerState;
import dev.berth.agent.runtime.ContainerView;
import dev.berth.agent.runtime.CreateRequest;
import dev.berth.agent.task.RestartPolicy;
import dev.berth.agent.task.Supervision;
import dev.berth.agent.runtime.IoSession;
import dev.berth.proto.v1.AttachInput;
import dev.berth.proto.v1.AttachOutput;
import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerRef;
import dev.berth.proto.v1.ContainerServiceGrpc;
import dev.berth.proto.v1.CreateContainerRequest;
import dev.berth.proto.v1.ExecInput;
import dev.berth.proto.v1.ExecSpec;
import dev.berth.proto.v1.ExitStatus;
import dev.berth.proto.v1.KillContainerRequest;
import dev.berth.proto.v1.ListContainersRequest;
import dev.berth.proto.v1.ListContainersResponse;
import dev.berth.proto.v1.LogEntry;
import dev.berth.proto.v1.LogsRequest;
import dev.berth.proto.v1.RemoveContainerRequest;
import dev.berth.proto.v1.RemoveContainerResponse;
import dev.berth.proto.v1.StopContainerRequest;
import dev.berth.proto.v1.Stream;
import dev.berth.proto.v1.TerminalSize;
import dev.berth.proto.v1.WaitResponse;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Optional;
import java.util.function.BiConsumer;
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The container API: validates, maps with {@link ProtoMapper}, delegates to the runtime. In a
 * cluster, a request about a container that is not on this node but on another one goes to that
 * node's agent ({@link ContainerForwarder}), its answer or stream relayed as is; a container of
 * this node is always served here, without asking the cluster.
 */
public final class ContainerGrpcService extends ContainerServiceGrpc.ContainerServiceImplBase {
  private final ContainerRuntime runtime;
  private final Supervision tasks;
  private final String node;
  private final ContainerForwarder forwarder;

  /** Without a supervisor: nothing restarts, no health checks. */
  public ContainerGrpcService(ContainerRuntime runtime) {
    this(runtime, Supervision.NONE);
  }

  /** Alone: no node name on its containers, nothing forwarded. */
  public ContainerGrpcService(ContainerRuntime runtime, Supervision tasks) {
    this(runtime, tasks, "", null);
  }

  /**
   * @param node this node's name, set on every container returned
   * @param forwarder where containers of other nodes are looked up and requests about them sent;
   *     null for none. Serve the service with its {@link ForwardedCallInterceptor}.
   */
  public ContainerGrpcService(ContainerRuntime runtime, Supervision tasks, String node, ContainerForwarder forwarder) {
    this.runtime = runtime;
    this.tasks = tasks;
    this.node = node;
    this.forwarder = forwarder;
  }

  @Override
  public void create(CreateContainerRequest req, StreamObserver<Container> out) {
    CreateRequest r = ProtoMapper.createRequest(req.getSpec());
    RestartPolicy policy = RestartPolicy.of(r.restartPolicy(), r.restartMaxRetries());
    if (r.autoRemove() && policy.mode() != RestartPolicy.Mode.NO) {
      throw BerthException.invalid("conflicting options: a restart policy (" + policy + ") and auto-remove (--rm)");
    }
    if (r.healthcheck() != null) {
      r.healthcheck().validate();
    }
    reply(out, container(runtime.create(r)));
  }

  @Override
  public void start(ContainerRef req, StreamObserver<Container> out) {
    if (forwarded(req.getId(), out, (to, o) -> forwarder.containers(to).start(req, o))) {
      return;
    }
    reply(out, container(runtime.start(req.getId())));
  }

  @Override
  public void stop(StopContainerRequest req, StreamObserver<Container> out) {
    if (forwarded(req.getId(), out, (to, o) -> forwarder.containers(to).stop(req, o))) {
      return;
    }
    Integer timeout = req.getHasTimeout() && req.getTimeoutSeconds() >= 0 ? req.getTimeoutSeconds() : null;
    reply(out, container(runtime.stop(req.getId(), timeout)));
  }

  @Override
  public void kill(KillContainerRequest req, StreamObserver<Container> out) {
    if (forwarded(req.getId(), out, (to, o) -> forwarder.containers(to).kill(req, o))) {
      return;
    }
    reply(out, container(runtime.kill(req.getId(), req.getSignal())));
  }

  private Container container(ContainerView v) {
    Container c = ProtoMapper.container(v, tasks);
    return node.isEmpty() ? c : c.toBuilder().setNode(node).build();
  }

  /** The other node {@code ref} lives on, if it is not here ({@link ContainerForwarder#ownerElsewhere}). */
  private Optional<ContainerForwarder.Remote> elsewhere(String ref) {
    return forwarder == null ? Optional.empty() : forwarder.ownerElsewhere(runtime, ref);
  }

  /** Sends a unary call about {@code ref} to the node it lives on, if not this one; true if it did. */
  private <T> boolean forwarded(String ref, StreamObserver<T> out,
      BiConsumer<ContainerForwarder.Remote, StreamObserver<T>> call) {
    Optional<ContainerForwarder.Remote> to = elsewhere(ref);
    to.ifPresent(r -> call.accept(r, forwarder.relay(r, out)));
    return to.isPresent();
  }

  @Override
  public void remove(RemoveContainerRequest req, StreamObserver<RemoveContainerResponse> out) {
    if (forwarded(req.getId(), out, (to, o) -> forwarder.containers(to).remove(req, o))) {
      return;
    }
    reply(out, RemoveContainerResponse.newBuilder()
        .setId(runtime.remove(req.getId(), req.getForce(), req.getVolumes())).build());
  }

  @Override
  public void list(ListContainersRequest req, StreamObserver<ListContainersResponse> out) {
    ListContainersResponse.Builder b = ListContainersResponse.newBuilder();
    // A restarting container is listed without --all, as docker's ps lists it.
    runtime.list(true).stream().filter(v -> req.getAll() || v.state().running() || tasks.restarting(v.id()))
        .forEach(v -> b.addContainers(container(v)));
    if (req.getAllNodes() && forwarder != null) {
      b.addAllContainers(forwarder.listElsewhere(req.getAll()));
    }
    reply(out, b.build());
  }

  @Override
  public void inspect(ContainerRef req, StreamObserver<Container> out) {
    if (forwarded(req.getId(), out, (to, o) -> forwarder.containers(to).inspect(req, o))) {
      return;
    }
    reply(out, container(runtime.inspect(req.getId())));
  }

  @Override
  public void wait(ContainerRef req, StreamObserver<WaitResponse> out) {
    if (forwarded(req.getId(), out, (to, o) -> forwarder.containers(to).wait(req, o))) {
      return;
    }
    runtime.waitExit(req.getId()).whenComplete((ContainerState s, Throwable t) -> {
      if (t != null) {
        out.onError(Errors.toGrpc(t));
        return;
      }
      reply(out, WaitResponse.newBuilder().setExitCode(s.exitCode()).setOomKilled(s.oomKilled())
          .setExitUnknown(s.exitUnknown()).setError(s.error()).build());
    });
  }

  @Override
  public void logs(LogsRequest req, StreamObserver<LogEntry> out) {
    Optional<ContainerForwarder.Remote> to = elsewhere(req.getId());
    if (to.isPresent()) {
      forwarder.containers(to.get()).logs(req, forwarder.relayStream(to.get(), out));
      return;
    }
    ServerCallStreamObserver<LogEntry> call = (ServerCallStreamObserver<LogEntry>) out;
    Instant since = req.getSinceUnixNanos() > 0 ? Instant.ofEpochSecond(0, req.getSinceUnixNanos()) : null;
    try {
      runtime.logs(req.getId(), req.getTail(), req.getFollow(), since, e -> {
        if (call.isCancelled()) {
          return false;
        }
        out.onNext(LogEntry.newBuilder()
            .setStream(e.stderr() ? Stream.STDERR : Stream.STDOUT)
            .setData(ByteString.copyFrom(e.text(), StandardCharsets.UTF_8))
            .setTimeUnixNanos(ProtoMapper.nanos(e.time()))
            .build());
        return true;
      });
      out.onCompleted();
    } catch (IOException e) {
      throw BerthException.internal("cannot read the logs of " + req.getId() + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      out.onCompleted();
    }
  }

  @Override
  public StreamObserver<AttachInput> attach(StreamObserver<AttachOutput> out) {
    return routed(out, in -> in.hasOpen() ? in.getOpen().getId() : null, (to, o) -> forwarder.containers(to).attach(o),
        () -> attachHere(out));
  }

  private StreamObserver<AttachInput> attachHere(StreamObserver<AttachOutput> out) {
    return new Session<>(out, in -> switch (in.getInputCase()) {
      case OPEN -> Input.open(in.getOpen().getId(), in.getOpen());
      case STDIN -> Input.stdin(in.getStdin().toByteArray());
      case CLOSE_STDIN -> Input.closeStdin();
      case RESIZE -> Input.resize(in.getResize());
      default -> throw BerthException.invalid("empty attach message");
    }, (open, sink) -> {
      var o = (dev.berth.proto.v1.AttachOpen) open;
      return runtime.attach(o.getId(), o.getStdin(), o.getStart(), o.getSize().getRows(), o.getSize().getCols(), sink);
    });
  }

  @Override
  public StreamObserver<ExecInput> exec(StreamObserver<AttachOutput> out) {
    return routed(out, in -> in.hasExec() ? in.getExec().getContainerId() : null, (to, o) -> forwarder.containers(to).exec(o),
        () -> execHere(out));
  }

  private StreamObserver<ExecInput> execHere(StreamObserver<AttachOutput> out) {
    return new Session<>(out, in -> switch (in.getInputCase()) {
      case EXEC -> Input.open(in.getExec().getContainerId(), in.getExec());
      case STDIN -> Input.stdin(in.getStdin().toByteArray());
      case CLOSE_STDIN -> Input.closeStdin();
      case RESIZE -> Input.resize(in.getResize());
      default -> throw BerthException.invalid("empty exec message");
    }, (open, sink) -> {
      ExecSpec e = (ExecSpec) open;
      return runtime.exec(e.getContainerId(), new ContainerRuntime.ExecRequest(e.getCmdList(), e.getEnvList(),
          e.getUser(), e.getWorkingDir(), e.getTty(), e.getStdin(), e.getSize().getRows(), e.getSize().getCols()), sink);
    });
  }

  /**
   * A bidi stream whose first message decides where it is served: here ({@code here}), or, when
   * it opens a container of another node, relayed both ways to that node's agent ({@code there});
   * a cancelled client call cancels the forwarded one. Without a forwarder, always here.
   */
  private <I> StreamObserver<I> routed(StreamObserver<AttachOutput> out, Function<I, String> ref,
      BiFunction<ContainerForwarder.Remote, StreamObserver<AttachOutput>, StreamObserver<I>> there,
      Supplier<StreamObserver<I>> here) {
    if (forwarder == null) {
      return here.get();
    }
    return new StreamObserver<>() {
      private StreamObserver<I> to;  // serialized: the server calls a stream's observer from one thread at a time

      @Override
      public void onNext(I message) {
        if (to == null) {
          String r = ref.apply(message);
          try {
            Optional<ContainerForwarder.Remote> remote = r == null ? Optional.empty() : elsewhere(r);
            to = remote.isPresent() ? there.apply(remote.get(), forwarder.relay(remote.get(), out)) : here.get();
          } catch (RuntimeException e) {
            to = discarding();
            out.onError(Errors.toGrpc(e));
            return;
          }
        }
        to.onNext(message);
      }

      @Override
      public void onError(Throwable t) {
        if (to != null) {
          to.onError(t);
        }
      }

      @Override
      public void onCompleted() {
        if (to != null) {
          to.onCompleted();
        }
      }
    };
  }

  @SuppressWarnings("unchecked")
  private static <I> StreamObserver<I> discarding() {
    return (StreamObserver<I>) Discard.INSTANCE;
  }

  /** What a stream that already failed does with further input: nothing. */
  private enum Discard implements StreamObserver<Object> {
    INSTANCE;

    @Override
    public void onNext(Object value) {}

    @Override
    public void onError(Throwable t) {}

    @Override
    public void onCompleted() {}
  }

  /** One client message of an attach or exec stream, reduced to what the session needs. */
  private record Input(Object open, byte[] stdin, boolean close, TerminalSize resize) {
    static Input open(String id, Object spec) {
      if (id.isBlank()) {
        throw BerthException.invalid("a container id or name is required");
      }
      return new Input(spec, null, false, null);
    }

    static Input stdin(byte[] b) {
      return new Input(null, b, false, null);
    }

    static Input closeStdin() {
      return new Input(null, null, true, null);
    }

    static Input resize(TerminalSize s) {
      return new Input(null, null, false, s);
    }
  }

  private interface Opener {
    IoSession open(Object spec, IoSession.Sink sink);
  }

  /** Bridges a bidi stream and an {@link IoSession}; the first message must open it. */
  private static final class Session<I> implements StreamObserver<I> {
    private final StreamObserver<AttachOutput> out;
    private final Function<I, Input> decode;
    private final Opener opener;
    private volatile IoSession session;
    private boolean done;

    Session(StreamObserver<AttachOutput> out, Function<I, Input> decode, Opener opener) {
      this.out = out;
      this.decode = decode;
      this.opener = opener;
    }

    @Override
    public void onNext(I message) {
      try {
        Input in = decode.apply(message);
        if (session == null) {
          if (in.open() == null) {
            throw BerthException.invalid("the first message must open the session");
          }
          session = opener.open(in.open(), sink());
        } else if (in.stdin() != null) {
          session.stdin(in.stdin());
        } else if (in.close()) {
          session.closeStdin();
        } else if (in.resize() != null) {
          session.resize(in.resize().getRows(), in.resize().getCols());
        }
      } catch (IOException e) {
        fail(BerthException.failedPrecondition("the container's stdio is gone: " + e.getMessage()));
      } catch (RuntimeException e) {
        fail(e);
      }
    }

    private IoSession.Sink sink() {
      return new IoSession.Sink() {
        @Override
        public void stdout(byte[] data) {
          send(AttachOutput.newBuilder().setStdout(ByteString.copyFrom(data)).build());
        }

        @Override
        public void stderr(byte[] data) {
          send(AttachOutput.newBuilder().setStderr(ByteString.copyFrom(data)).build());
        }

        @Override
        public void exit(IoSession.ExitStatus s) {
          synchronized (Session.this) {
            if (done) {
              return;
            }
            done = true;
            out.onNext(AttachOutput.newBuilder().setExit(ExitStatus.newBuilder().setExitCode(s.exitCode())
                .setOomKilled(s.oomKilled()).setExitUnknown(s.exitUnknown())
                .setError(s.error() == null ? "" : s.error())).build());
            out.onCompleted();
          }
        }
      };
    }

    private synchronized void send(AttachOutput o) {
      if (!done) {
        out.onNext(o);
      }
    }

    private synchronized void fail(Throwable t) {
      if (!done) {
        done = true;
        out.onError(Errors.toGrpc(t));
      }
      IoSession s = session;
      if (s != null) {
        s.close();
      }
    }

    @Override
    public void onError(Throwable t) {
      IoSession s = session;
      if (s != null) {
        s.close();
      }
    }

    @Override
    public void onCompleted() {
      // The client sends no more input; output keeps flowing until the process exits.
    }
  }

  private static <T> void reply(StreamObserver<T> out, T value) {
    out.onNext(value);
    out.onCompleted();
  }
}
