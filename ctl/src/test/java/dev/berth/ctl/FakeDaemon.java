package dev.berth.ctl;

import com.google.protobuf.ByteString;
import com.google.protobuf.Message;
import dev.berth.proto.v1.AttachInput;
import dev.berth.proto.v1.AttachOutput;
import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerRef;
import dev.berth.proto.v1.ContainerServiceGrpc;
import dev.berth.proto.v1.ContainerStatus;
import dev.berth.proto.v1.CreateContainerRequest;
import dev.berth.proto.v1.ExecInput;
import dev.berth.proto.v1.ExitStatus;
import dev.berth.proto.v1.Image;
import dev.berth.proto.v1.ImageRef;
import dev.berth.proto.v1.ImageServiceGrpc;
import dev.berth.proto.v1.ImportChunk;
import dev.berth.proto.v1.InfoRequest;
import dev.berth.proto.v1.InfoResponse;
import dev.berth.proto.v1.KillContainerRequest;
import dev.berth.proto.v1.ListContainersRequest;
import dev.berth.proto.v1.ListContainersResponse;
import dev.berth.proto.v1.ListImagesRequest;
import dev.berth.proto.v1.ListImagesResponse;
import dev.berth.proto.v1.LogEntry;
import dev.berth.proto.v1.LogsRequest;
import dev.berth.proto.v1.RemoveContainerRequest;
import dev.berth.proto.v1.RemoveContainerResponse;
import dev.berth.proto.v1.RemoveImageRequest;
import dev.berth.proto.v1.RemoveImageResponse;
import dev.berth.proto.v1.StopContainerRequest;
import dev.berth.proto.v1.SystemServiceGrpc;
import dev.berth.proto.v1.WaitResponse;
import io.grpc.BindableService;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The three services in memory, for the CLI's tests and the `berth ps` timing: containers and
 * images are what the test put in, and every request is recorded in {@link #requests}.
 */
final class FakeDaemon {
  /** Every request message in arrival order (streams: each client message). */
  final List<Message> requests = new CopyOnWriteArrayList<>();
  final Map<String, Container> containers = new LinkedHashMap<>();
  final Map<String, Image> images = new LinkedHashMap<>();
  /** Volumes by name; Create adds to them, Remove and Prune take from them. */
  final Map<String, dev.berth.proto.v1.Volume> volumes = new LinkedHashMap<>();
  /** The name Create gives a volume created without one. */
  volatile String generatedVolume = "9a8b7c6d5e4f30211203f4e5d6c7b8a99a8b7c6d5e4f30211203f4e5d6c7b8a9";
  final List<LogEntry> logs = new ArrayList<>();
  /** What Attach and Exec print before echoing stdin. */
  final List<AttachOutput> output = new ArrayList<>();
  volatile ExitStatus exit = ExitStatus.newBuilder().setExitCode(0).build();
  final ByteArrayOutputStream imported = new ByteArrayOutputStream();
  final ByteArrayOutputStream loaded = new ByteArrayOutputStream();
  /** References pulled so far; "missing" exists only once pulled, "nowhere" cannot be pulled. */
  final java.util.Set<String> pulled = java.util.concurrent.ConcurrentHashMap.newKeySet();
  volatile String createdId = "4f1c2b9a7d3e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8";

  /** Networks: Containers.create places each new container on one (NOT_FOUND for an unknown one). */
  final FakeNetworkService network = new FakeNetworkService(requests);

  /** Nodes and cluster status, in a part of their own. */
  final FakeClusterServices cluster = new FakeClusterServices(requests);

  List<BindableService> services() {
    List<BindableService> all = new ArrayList<>(List.of(new Containers(), new Images(), new SystemInfo(), new Volumes(), network));
    all.addAll(cluster.services());
    return all;
  }

  /** The recorded requests of one type. */
  <T extends Message> List<T> requests(Class<T> type) {
    List<T> out = new ArrayList<>();
    for (Message m : requests) {
      if (type.isInstance(m)) {
        out.add(type.cast(m));
      }
    }
    return out;
  }

  private synchronized Container find(String ref) {
    for (Container c : containers.values()) {
      if (c.getId().startsWith(ref) || c.getName().equals(ref)) {
        return c;
      }
    }
    throw Status.NOT_FOUND.withDescription("No such container: " + ref).asRuntimeException();
  }

  private <T> void unary(Message request, StreamObserver<T> response, java.util.function.Supplier<T> answer) {
    requests.add(request);
    try {
      response.onNext(answer.get());
      response.onCompleted();
    } catch (RuntimeException e) {
      response.onError(e);
    }
  }

  final class Containers extends ContainerServiceGrpc.ContainerServiceImplBase {
    @Override
    public void create(CreateContainerRequest r, StreamObserver<Container> o) {
      unary(r, o, () -> {
        if (r.getSpec().getImage().equals("missing") && !pulled.contains("missing")) {
          throw Status.NOT_FOUND.withDescription("No such image: missing").asRuntimeException();
        }
        Container c = Container.newBuilder().setId(createdId).setName(r.getSpec().getName().isEmpty() ? "fake_name" : r.getSpec().getName())
            .setImage(r.getSpec().getImage()).setSpec(r.getSpec()).setStatus(ContainerStatus.CREATED)
            .setNetwork(network.attach(r.getSpec())).build();
        synchronized (FakeDaemon.this) {
          containers.put(c.getId(), c);
        }
        return c;
      });
    }

    @Override
    public void start(ContainerRef r, StreamObserver<Container> o) {
      unary(r, o, () -> find(r.getId()));
    }

    @Override
    public void stop(StopContainerRequest r, StreamObserver<Container> o) {
      unary(r, o, () -> find(r.getId()));
    }

    @Override
    public void kill(KillContainerRequest r, StreamObserver<Container> o) {
      unary(r, o, () -> find(r.getId()));
    }

    @Override
    public void remove(RemoveContainerRequest r, StreamObserver<RemoveContainerResponse> o) {
      unary(r, o, () -> RemoveContainerResponse.newBuilder().setId(find(r.getId()).getId()).build());
    }

    @Override
    public void list(ListContainersRequest r, StreamObserver<ListContainersResponse> o) {
      unary(r, o, () -> {
        synchronized (FakeDaemon.this) {
          ListContainersResponse.Builder b = ListContainersResponse.newBuilder();
          containers.values().stream().filter(c -> r.getAll() || c.getStatus() == ContainerStatus.RUNNING || c.getRestarting())
              .forEach(b::addContainers);
          return b.build();
        }
      });
    }

    @Override
    public void inspect(ContainerRef r, StreamObserver<Container> o) {
      unary(r, o, () -> find(r.getId()));
    }

    @Override
    public void wait(ContainerRef r, StreamObserver<WaitResponse> o) {
      unary(r, o, () -> WaitResponse.newBuilder().setExitCode(find(r.getId()).getExitCode()).build());
    }

    @Override
    public void logs(LogsRequest r, StreamObserver<LogEntry> o) {
      requests.add(r);
      try {
        find(r.getId());
      } catch (RuntimeException e) {
        o.onError(e);
        return;
      }
      logs.forEach(o::onNext);
      o.onCompleted();
    }

    @Override
    public StreamObserver<AttachInput> attach(StreamObserver<AttachOutput> o) {
      return new Stdio<>(o) {
        @Override
        void onMessage(AttachInput in) {
          switch (in.getInputCase()) {
            case OPEN -> opened(in.getOpen().getId(), in.getOpen().getStdin());
            case STDIN -> echo(in.getStdin());
            case CLOSE_STDIN -> finish();
            default -> { }
          }
        }
      };
    }

    @Override
    public StreamObserver<ExecInput> exec(StreamObserver<AttachOutput> o) {
      return new Stdio<>(o) {
        @Override
        void onMessage(ExecInput in) {
          switch (in.getInputCase()) {
            case EXEC -> opened(in.getExec().getContainerId(), in.getExec().getStdin());
            case STDIN -> echo(in.getStdin());
            case CLOSE_STDIN -> finish();
            default -> { }
          }
        }
      };
    }
  }

  /** Attach/Exec: the canned output, then stdin echoed to stdout until close_stdin, then the exit status. */
  abstract class Stdio<I extends Message> implements StreamObserver<I> {
    private final StreamObserver<AttachOutput> out;
    private boolean done;

    Stdio(StreamObserver<AttachOutput> out) {
      this.out = out;
    }

    abstract void onMessage(I in);

    @Override
    public synchronized void onNext(I in) {
      requests.add(in);
      if (!done) {
        onMessage(in);
      }
    }

    void opened(String id, boolean stdin) {
      try {
        find(id);
      } catch (RuntimeException e) {
        done = true;
        out.onError(e);
        return;
      }
      output.forEach(out::onNext);
      if (!stdin) {
        finish();
      }
    }

    void echo(ByteString data) {
      out.onNext(AttachOutput.newBuilder().setStdout(data).build());
    }

    void finish() {
      if (!done) {
        done = true;
        out.onNext(AttachOutput.newBuilder().setExit(exit).build());
        out.onCompleted();
      }
    }

    @Override
    public void onError(Throwable t) {
      done = true;
    }

    @Override
    public synchronized void onCompleted() {
      finish();
    }
  }

  final class Images extends ImageServiceGrpc.ImageServiceImplBase {
    @Override
    public void push(dev.berth.proto.v1.PushRequest r, StreamObserver<dev.berth.proto.v1.PushProgress> o) {
      requests.add(r);
      String digest = "sha256:" + "12".repeat(32);
      for (var state : List.of(dev.berth.proto.v1.PushState.PREPARING, dev.berth.proto.v1.PushState.PUSHING,
          dev.berth.proto.v1.PushState.PUSHING, dev.berth.proto.v1.PushState.PUSHED)) {
        o.onNext(dev.berth.proto.v1.PushProgress.newBuilder().setLayer(dev.berth.proto.v1.PushLayerProgress.newBuilder()
            .setDigest(digest).setTotalBytes(10).setState(state)).build());
      }
      o.onNext(dev.berth.proto.v1.PushProgress.newBuilder().setDigest("sha256:" + "34".repeat(32)).build());
      o.onCompleted();
    }

    @Override
    public void commit(dev.berth.proto.v1.CommitRequest r, StreamObserver<Image> o) {
      unary(r, o, () -> Image.newBuilder().setId("sha256:" + "77".repeat(32)).build());
    }

    @Override
    public void tag(dev.berth.proto.v1.TagRequest r, StreamObserver<Image> o) {
      unary(r, o, () -> Image.newBuilder().setId("sha256:" + "ab".repeat(32)).addRepoTags(r.getTarget()).build());
    }

    @Override
    public void save(dev.berth.proto.v1.SaveRequest r, StreamObserver<dev.berth.proto.v1.SaveChunk> o) {
      requests.add(r);
      for (String part : List.of("first-", "second")) {
        o.onNext(dev.berth.proto.v1.SaveChunk.newBuilder().setData(com.google.protobuf.ByteString.copyFromUtf8(part)).build());
      }
      o.onCompleted();
    }

    @Override
    public StreamObserver<dev.berth.proto.v1.LoadChunk> load(StreamObserver<dev.berth.proto.v1.LoadResponse> o) {
      return new StreamObserver<>() {
        @Override
        public void onNext(dev.berth.proto.v1.LoadChunk c) {
          synchronized (loaded) {
            loaded.writeBytes(c.getData().toByteArray());
          }
        }

        @Override
        public void onError(Throwable t) {
        }

        @Override
        public void onCompleted() {
          o.onNext(dev.berth.proto.v1.LoadResponse.newBuilder()
              .addImages(Image.newBuilder().setId("sha256:" + "ab".repeat(32)).addRepoTags("busybox:1"))
              .addImages(Image.newBuilder().setId("sha256:" + "cd".repeat(32))).build());
          o.onCompleted();
        }
      };
    }

    @Override
    public void prune(dev.berth.proto.v1.PruneRequest r, StreamObserver<dev.berth.proto.v1.PruneResponse> o) {
      unary(r, o, () -> dev.berth.proto.v1.PruneResponse.newBuilder().addDeleted("sha256:" + "ef".repeat(32))
          .setReclaimedBytes(3_500_000).build());
    }

    @Override
    public void login(dev.berth.proto.v1.LoginRequest r, StreamObserver<dev.berth.proto.v1.LoginResponse> o) {
      unary(r, o, () -> {
        if (r.getAuth().getPassword().equals("wrong")) {
          throw Status.UNAUTHENTICATED.withDescription("unauthorized: incorrect username or password").asRuntimeException();
        }
        return dev.berth.proto.v1.LoginResponse.newBuilder().setStatus("Login Succeeded").build();
      });
    }

    @Override
    public void logout(dev.berth.proto.v1.LogoutRequest r, StreamObserver<dev.berth.proto.v1.LogoutResponse> o) {
      unary(r, o, () -> dev.berth.proto.v1.LogoutResponse.newBuilder().setRemoved(r.getServer().equals("127.0.0.1:5000"))
          .build());
    }

    @Override
    public void pull(dev.berth.proto.v1.PullRequest r, StreamObserver<dev.berth.proto.v1.PullProgress> o) {
      requests.add(r);
      if (r.getReference().equals("nowhere")) {
        o.onError(Status.NOT_FOUND.withDescription("manifest unknown: nowhere").asRuntimeException());
        return;
      }
      String digest = "sha256:" + "cd".repeat(32);
      for (var state : List.of(dev.berth.proto.v1.LayerState.WAITING, dev.berth.proto.v1.LayerState.DOWNLOADING,
          dev.berth.proto.v1.LayerState.DOWNLOADING, dev.berth.proto.v1.LayerState.DONE)) {
        o.onNext(dev.berth.proto.v1.PullProgress.newBuilder().setLayer(dev.berth.proto.v1.LayerProgress.newBuilder()
            .setDigest(digest).setTotalBytes(2_000_000).setDoneBytes(state == dev.berth.proto.v1.LayerState.DONE ? 2_000_000 : 1_000_000)
            .setState(state)).build());
      }
      o.onNext(dev.berth.proto.v1.PullProgress.newBuilder().setStatus("Digest: " + digest).build());
      pulled.add(r.getReference());
      o.onNext(dev.berth.proto.v1.PullProgress.newBuilder().setImage(Image.newBuilder().setId("sha256:" + "ef".repeat(32))
          .addRepoTags(r.getReference() + ":latest")).build());
      o.onCompleted();
    }

    @Override
    public StreamObserver<ImportChunk> import_(StreamObserver<Image> o) {
      return new StreamObserver<>() {
        private String reference;

        @Override
        public void onNext(ImportChunk c) {
          if (c.hasHeader()) {
            requests.add(c);
            reference = c.getHeader().getReference();
          } else {
            synchronized (imported) {
              imported.writeBytes(c.getData().toByteArray());
            }
          }
        }

        @Override
        public void onError(Throwable t) {
        }

        @Override
        public void onCompleted() {
          o.onNext(Image.newBuilder().setId("sha256:" + "ab".repeat(32)).addRepoTags(reference).setSizeBytes(imported.size()).build());
          o.onCompleted();
        }
      };
    }

    @Override
    public void list(ListImagesRequest r, StreamObserver<ListImagesResponse> o) {
      unary(r, o, () -> ListImagesResponse.newBuilder().addAllImages(images.values()).build());
    }

    @Override
    public void inspect(ImageRef r, StreamObserver<Image> o) {
      unary(r, o, () -> {
        Image i = images.get(r.getReference());
        if (i == null) {
          throw Status.NOT_FOUND.withDescription("No such image: " + r.getReference()).asRuntimeException();
        }
        return i;
      });
    }

    @Override
    public void remove(RemoveImageRequest r, StreamObserver<RemoveImageResponse> o) {
      unary(r, o, () -> {
        Image i = images.get(r.getReference());
        if (i == null) {
          throw Status.NOT_FOUND.withDescription("No such image: " + r.getReference()).asRuntimeException();
        }
        return RemoveImageResponse.newBuilder().addUntagged(r.getReference()).addDeleted(i.getId()).build();
      });
    }
  }

  final class SystemInfo extends SystemServiceGrpc.SystemServiceImplBase {
    @Override
    public void info(InfoRequest r, StreamObserver<InfoResponse> o) {
      unary(r, o, () -> InfoResponse.newBuilder().setVersion("0.1.0-fake").setNodeName("node1")
          .setDataDir("/var/lib/berth").setCgroupVersion("v2").setContainers(containers.size())
          .setImages(images.size()).setKernelVersion("6.1.0").setCpus(2).setMemoryBytes(8L << 30)
          .setPrefix("berth").build());
    }

    @Override
    public void containerStats(dev.berth.proto.v1.ContainerStatsRequest r,
        StreamObserver<dev.berth.proto.v1.ContainerStatsResponse> o) {
      unary(r, o, FakeDaemon.this::nextStats);
    }

    @Override
    public void containerTop(dev.berth.proto.v1.ContainerTopRequest r, StreamObserver<dev.berth.proto.v1.ContainerTopResponse> o) {
      unary(r, o, () -> dev.berth.proto.v1.ContainerTopResponse.newBuilder().setId(find(r.getId()).getId())
          .addAllProcesses(processes).build());
    }

    @Override
    public void diskUsage(dev.berth.proto.v1.DiskUsageRequest r, StreamObserver<dev.berth.proto.v1.DiskUsageResponse> o) {
      unary(r, o, () -> diskUsage);
    }
  }

  /**
   * ContainerStats answers: each call takes the next of {@link #statsReplies}, and repeats the
   * last one once they run out.
   */
  final java.util.concurrent.ConcurrentLinkedQueue<dev.berth.proto.v1.ContainerStatsResponse> statsReplies =
      new java.util.concurrent.ConcurrentLinkedQueue<>();
  private volatile dev.berth.proto.v1.ContainerStatsResponse lastStats =
      dev.berth.proto.v1.ContainerStatsResponse.getDefaultInstance();

  /** The next ContainerStats answer: the next queued reply, else the last one again. */
  private synchronized dev.berth.proto.v1.ContainerStatsResponse nextStats() {
    var next = statsReplies.poll();
    if (next != null) {
      lastStats = next;
    }
    return lastStats;
  }
  /** What ContainerTop answers for any container that exists. */
  final List<dev.berth.proto.v1.ContainerProcess> processes = new CopyOnWriteArrayList<>();
  /** What DiskUsage answers. */
  volatile dev.berth.proto.v1.DiskUsageResponse diskUsage = dev.berth.proto.v1.DiskUsageResponse.getDefaultInstance();

  /** Volumes in {@link #volumes}: Remove refuses one in use unless forced; Prune takes the unused anonymous ones (all unused with all). */
  final class Volumes extends dev.berth.proto.v1.VolumeServiceGrpc.VolumeServiceImplBase {
    @Override
    public void create(dev.berth.proto.v1.CreateVolumeRequest r, StreamObserver<dev.berth.proto.v1.Volume> o) {
      unary(r, o, () -> {
        String name = r.getName().isEmpty() ? generatedVolume : r.getName();
        synchronized (FakeDaemon.this) {
          return volumes.computeIfAbsent(name, n -> dev.berth.proto.v1.Volume.newBuilder().setName(n)
              .setMountpoint("/var/lib/berth/volumes/" + n + "/_data").putAllLabels(r.getLabelsMap())
              .setCreatedUnixNanos(CliRunner.NOW_NANOS).setAnonymous(r.getName().isEmpty()).build());
        }
      });
    }

    @Override
    public void list(dev.berth.proto.v1.ListVolumesRequest r, StreamObserver<dev.berth.proto.v1.ListVolumesResponse> o) {
      unary(r, o, () -> {
        synchronized (FakeDaemon.this) {
          return dev.berth.proto.v1.ListVolumesResponse.newBuilder().addAllVolumes(volumes.values()).build();
        }
      });
    }

    @Override
    public void inspect(dev.berth.proto.v1.VolumeRef r, StreamObserver<dev.berth.proto.v1.Volume> o) {
      unary(r, o, () -> volume(r.getName()));
    }

    @Override
    public void remove(dev.berth.proto.v1.RemoveVolumeRequest r, StreamObserver<dev.berth.proto.v1.RemoveVolumeResponse> o) {
      unary(r, o, () -> {
        dev.berth.proto.v1.Volume v = volume(r.getName());
        if (v.getUsedByCount() > 0 && !r.getForce()) {
          throw Status.FAILED_PRECONDITION.withDescription("remove " + v.getName() + ": volume is in use - ["
              + String.join(", ", v.getUsedByList()) + "]").asRuntimeException();
        }
        synchronized (FakeDaemon.this) {
          volumes.remove(v.getName());
        }
        return dev.berth.proto.v1.RemoveVolumeResponse.newBuilder().setName(v.getName()).build();
      });
    }

    @Override
    public void prune(dev.berth.proto.v1.PruneVolumesRequest r, StreamObserver<dev.berth.proto.v1.PruneVolumesResponse> o) {
      unary(r, o, () -> {
        synchronized (FakeDaemon.this) {
          List<String> deleted = volumes.values().stream()
              .filter(v -> v.getUsedByCount() == 0 && (r.getAll() || v.getAnonymous()))
              .map(dev.berth.proto.v1.Volume::getName).toList();
          deleted.forEach(volumes::remove);
          return dev.berth.proto.v1.PruneVolumesResponse.newBuilder().addAllDeleted(deleted)
              .setReclaimedBytes(1_200_000L * deleted.size()).build();
        }
      });
    }

    private synchronized dev.berth.proto.v1.Volume volume(String name) {
      dev.berth.proto.v1.Volume v = volumes.get(name);
      if (v == null) {
        throw Status.NOT_FOUND.withDescription("get " + name + ": no such volume").asRuntimeException();
      }
      return v;
    }
  }
}
