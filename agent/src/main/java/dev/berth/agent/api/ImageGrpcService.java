package dev.berth.agent.api;

import dev.berth.agent.BerthException;
import dev.berth.agent.cluster.RegistryLogins;
import dev.berth.agent.events.ImageEvents;
import dev.berth.agent.image.ImageRecord;
import dev.berth.agent.image.ImageStore;
import dev.berth.agent.image.ImportRequest;
import dev.berth.agent.image.RemoveResult;
import dev.berth.agent.runtime.ContainerRuntime;
import dev.berth.agent.registry.Credentials;
import dev.berth.agent.registry.PullListener;
import dev.berth.agent.image.ImageArchive;
import dev.berth.agent.image.PruneResult;
import dev.berth.agent.registry.Puller;
import dev.berth.agent.registry.PushListener;
import dev.berth.agent.registry.Pusher;
import dev.berth.proto.v1.ArchiveFormat;
import dev.berth.proto.v1.CommitRequest;
import dev.berth.proto.v1.LoadChunk;
import dev.berth.proto.v1.LoadResponse;
import dev.berth.proto.v1.PruneRequest;
import dev.berth.proto.v1.PruneResponse;
import dev.berth.proto.v1.PushLayerProgress;
import dev.berth.proto.v1.PushProgress;
import dev.berth.proto.v1.PushRequest;
import dev.berth.proto.v1.PushState;
import dev.berth.proto.v1.SaveChunk;
import dev.berth.proto.v1.SaveRequest;
import dev.berth.proto.v1.TagRequest;
import dev.berth.agent.registry.RegistryClient;
import dev.berth.proto.v1.LoginRequest;
import dev.berth.proto.v1.LoginResponse;
import dev.berth.proto.v1.LogoutRequest;
import dev.berth.proto.v1.LogoutResponse;
import dev.berth.proto.v1.Image;
import dev.berth.proto.v1.LayerProgress;
import dev.berth.proto.v1.LayerState;
import dev.berth.proto.v1.PullProgress;
import dev.berth.proto.v1.PullRequest;
import dev.berth.proto.v1.RegistryAuth;
import io.grpc.stub.ServerCallStreamObserver;
import dev.berth.proto.v1.ImageRef;
import dev.berth.proto.v1.ImageServiceGrpc;
import dev.berth.proto.v1.ImportChunk;
import dev.berth.proto.v1.ImportHeader;
import dev.berth.proto.v1.ListImagesRequest;
import dev.berth.proto.v1.ListImagesResponse;
import dev.berth.proto.v1.RemoveImageRequest;
import dev.berth.proto.v1.RemoveImageResponse;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The image API: validates, maps, delegates to the image store. */
public final class ImageGrpcService extends ImageServiceGrpc.ImageServiceImplBase {
  private final ImageStore images;
  private final ContainerRuntime runtime;
  private final Path tmpDir;
  private final Puller puller;
  private final Pusher pusher;
  private final RegistryClient registries;
  private final ImageEvents events;

  public ImageGrpcService(ImageStore images, ContainerRuntime runtime, Path tmpDir, Puller puller, Pusher pusher,
      RegistryClient registries) {
    this(images, runtime, tmpDir, puller, pusher, registries, ImageEvents.NONE);
  }

  /** As above, recording tag, untag, delete, import and load in {@code events} (pulls: the puller's). */
  public ImageGrpcService(ImageStore images, ContainerRuntime runtime, Path tmpDir, Puller puller, Pusher pusher,
      RegistryClient registries, ImageEvents events) {
    this.events = events;
    this.images = images;
    this.runtime = runtime;
    this.tmpDir = tmpDir;
    this.puller = puller;
    this.pusher = pusher;
    this.registries = registries;
  }

  private volatile RegistryLogins clusterLogins;

  @Override
  public void push(PushRequest req, StreamObserver<PushProgress> out) {
    if (req.getReference().isBlank()) {
      throw BerthException.invalid("a push needs an image reference, e.g. 127.0.0.1:5000/app:1");
    }
    Object lock = new Object();
    PushListener listener = new PushListener() {
      @Override
      public void layer(LayerEvent e) {
        send(PushProgress.newBuilder().setLayer(PushLayerProgress.newBuilder().setDigest(e.digest())
            .setTotalBytes(e.totalBytes()).setDoneBytes(e.doneBytes()).setState(pushState(e.state()))).build());
      }

      @Override
      public void status(String line) {
        send(PushProgress.newBuilder().setStatus(line).build());
      }

      private void send(PushProgress p) {
        synchronized (lock) {
          out.onNext(p);
        }
      }
    };
    String digest = pusher.push(req.getReference(), credentials(req.getAuth()), listener);
    synchronized (lock) {
      out.onNext(PushProgress.newBuilder().setDigest(digest).build());
      out.onCompleted();
    }
  }

  private static PushState pushState(PushListener.State s) {
    return switch (s) {
      case PREPARING -> PushState.PREPARING;
      case WAITING -> PushState.PUSH_WAITING;
      case PUSHING -> PushState.PUSHING;
      case MOUNTED -> PushState.MOUNTED;
      case ALREADY_EXISTS -> PushState.PUSH_ALREADY_EXISTS;
      case PUSHED -> PushState.PUSHED;
    };
  }

  @Override
  public void commit(CommitRequest req, StreamObserver<Image> out) {
    // An unset pause means docker's default: pause.
    boolean pause = !req.hasPause() || req.getPause();
    out.onNext(ProtoMapper.image(runtime.commit(req.getContainer(), req.getReference(), req.getComment(), pause)));
    out.onCompleted();
  }

  @Override
  public void tag(TagRequest req, StreamObserver<Image> out) {
    ImageRecord tagged = images.tag(req.getSource(), req.getTarget());
    events.tagged(tagged, req.getTarget());
    out.onNext(ProtoMapper.image(tagged));
    out.onCompleted();
  }

  @Override
  public void save(SaveRequest req, StreamObserver<SaveChunk> out) {
    if (req.getReferencesCount() == 0) {
      throw BerthException.invalid("save needs at least one image");
    }
    ImageArchive.Format format = req.getFormat() == ArchiveFormat.OCI_ARCHIVE
        ? ImageArchive.Format.OCI_ARCHIVE : ImageArchive.Format.DOCKER_ARCHIVE;
    // Chunks of 64 KiB as the archive is written; the client puts them together.
    try (OutputStream chunks = new java.io.BufferedOutputStream(new OutputStream() {
      @Override
      public void write(int b) {
        write(new byte[] {(byte) b}, 0, 1);
      }

      @Override
      public void write(byte[] b, int off, int len) {
        out.onNext(SaveChunk.newBuilder().setData(com.google.protobuf.ByteString.copyFrom(b, off, len)).build());
      }
    }, 64 * 1024)) {
      ImageArchive.save(images, req.getReferencesList(), format, chunks);
    } catch (IOException e) {
      throw BerthException.internal("cannot write the archive: " + e.getMessage(), e);
    }
    out.onCompleted();
  }

  @Override
  public StreamObserver<LoadChunk> load(StreamObserver<LoadResponse> out) {
    return new Spooled<>(out, "load-", LoadChunk::getData, spool -> {
      try (InputStream in = Files.newInputStream(spool)) {
        LoadResponse.Builder b = LoadResponse.newBuilder();
        ImageArchive.load(images, in).forEach(r -> {
          events.loaded(r);
          b.addImages(ProtoMapper.image(r));
        });
        return b.build();
      }
    });
  }

  @Override
  public void prune(PruneRequest req, StreamObserver<PruneResponse> out) {
    PruneResult r = images.prune(req.getAll(), runtime::imageInUse);
    r.deletedImages().forEach(events::deleted);
    out.onNext(PruneResponse.newBuilder().addAllDeleted(r.deletedImages()).setReclaimedBytes(r.reclaimedBytes()).build());
    out.onCompleted();
  }

  /**
   * A client stream of bytes spooled to a temporary file in the agent's tmp dir, then handed
   * to {@code finish}; the file is deleted in every case.
   */
  private final class Spooled<C, R> implements StreamObserver<C> {
    private final StreamObserver<R> out;
    private final String prefix;
    private final java.util.function.Function<C, com.google.protobuf.ByteString> data;
    private final SpoolAction<R> finish;
    private Path spool;
    private OutputStream sink;
    private boolean failed;

    Spooled(StreamObserver<R> out, String prefix, java.util.function.Function<C, com.google.protobuf.ByteString> data,
        SpoolAction<R> finish) {
      this.out = out;
      this.prefix = prefix;
      this.data = data;
      this.finish = finish;
    }

    @Override
    public void onNext(C chunk) {
      if (failed) {
        return;
      }
      try {
        if (sink == null) {
          Files.createDirectories(tmpDir);
          spool = Files.createTempFile(tmpDir, prefix, ".tar");
          sink = Files.newOutputStream(spool);
        }
        data.apply(chunk).writeTo(sink);
      } catch (IOException e) {
        failed = true;
        cleanup();
        out.onError(Errors.toGrpc(new UncheckedIOException(e)));
      }
    }

    @Override
    public void onError(Throwable t) {
      cleanup();
    }

    @Override
    public void onCompleted() {
      if (failed) {
        return;
      }
      try {
        if (sink == null) {
          throw BerthException.invalid("nothing was sent");
        }
        sink.close();
        out.onNext(finish.apply(spool));
        out.onCompleted();
      } catch (IOException | RuntimeException e) {
        out.onError(Errors.toGrpc(e));
      } finally {
        cleanup();
      }
    }

    private void cleanup() {
      try {
        if (sink != null) {
          sink.close();
        }
        if (spool != null) {
          Files.deleteIfExists(spool);
        }
      } catch (IOException ignored) {
        // the spool is in the agent's tmp dir, cleared at start
      }
    }
  }

  private interface SpoolAction<R> {
    R apply(Path spool) throws IOException;
  }

  /** Where {@code login --cluster} keeps credentials; without it such a login is refused. */
  public ImageGrpcService clusterLogins(RegistryLogins logins) {
    this.clusterLogins = logins;
    return this;
  }

  @Override
  public void login(LoginRequest req, StreamObserver<LoginResponse> out) {
    Credentials creds = credentials(req.getAuth());
    if (creds == null) {
      throw BerthException.invalid("a login needs a username and a password");
    }
    String registry = req.getServer().isBlank() ? "docker.io" : req.getServer();
    // Checked against the registry first: a credential that does not work is never kept.
    registries.login(registry, creds);
    if (req.getCluster()) {
      requireClusterLogins().put(registry, creds.username(), creds.password());
    }
    out.onNext(LoginResponse.newBuilder().setStatus("Login Succeeded").build());
    out.onCompleted();
  }

  @Override
  public void logout(LogoutRequest req, StreamObserver<LogoutResponse> out) {
    if (!req.getCluster()) {
      throw BerthException.invalid("an agent keeps only the cluster's logins: a local logout is the CLI's");
    }
    boolean removed = requireClusterLogins().remove(req.getServer().isBlank() ? "docker.io" : req.getServer());
    out.onNext(LogoutResponse.newBuilder().setRemoved(removed).build());
    out.onCompleted();
  }

  private RegistryLogins requireClusterLogins() {
    if (clusterLogins == null) {
      throw BerthException.failedPrecondition("this agent keeps no cluster logins");
    }
    return clusterLogins;
  }

  @Override
  public void pull(PullRequest req, StreamObserver<PullProgress> out) {
    if (req.getReference().isBlank()) {
      throw BerthException.invalid("a pull needs an image reference, e.g. busybox or 127.0.0.1:5000/app:1");
    }
    ServerCallStreamObserver<PullProgress> call = (ServerCallStreamObserver<PullProgress>) out;
    // Progress comes from the puller's worker threads too; a gRPC stream takes one writer at a time.
    Object lock = new Object();
    PullListener listener = new PullListener() {
      @Override
      public void layer(LayerEvent e) {
        send(PullProgress.newBuilder().setLayer(LayerProgress.newBuilder().setDigest(e.digest())
            .setTotalBytes(e.totalBytes()).setDoneBytes(e.doneBytes())
            .setState(LayerState.valueOf(e.state().name()))).build());
      }

      @Override
      public void status(String line) {
        send(PullProgress.newBuilder().setStatus(line).build());
      }

      private void send(PullProgress p) {
        synchronized (lock) {
          if (!call.isCancelled()) {
            out.onNext(p);
          }
        }
      }
    };
    // A client that goes away cancels the pull: the puller stops at its next step.
    Thread puller = Thread.currentThread();
    boolean[] pulling = {true};
    call.setOnCancelHandler(() -> {
      synchronized (lock) {
        if (pulling[0]) {
          puller.interrupt();
        }
      }
    });
    ImageRecord r;
    try {
      r = this.puller.pull(req.getReference(), credentials(req.getAuth()), listener);
    } finally {
      synchronized (lock) {
        pulling[0] = false;
        Thread.interrupted(); // a late cancel must not reach the next call on this thread
      }
    }
    synchronized (lock) {
      out.onNext(PullProgress.newBuilder().setImage(ProtoMapper.image(r)).build());
      out.onCompleted();
    }
  }

  private static Credentials credentials(RegistryAuth auth) {
    return auth.getUsername().isEmpty() && auth.getPassword().isEmpty()
        ? null : new Credentials(auth.getUsername(), auth.getPassword());
  }

  @Override
  public StreamObserver<ImportChunk> import_(StreamObserver<Image> out) {
    // The tar is spooled to disk first: the store reads it twice (digest, then unpack).
    ImportHeader[] header = {null};
    return new Spooled<>(out, "import-", chunk -> {
      if (chunk.hasHeader()) {
        header[0] = chunk.getHeader();
        return com.google.protobuf.ByteString.EMPTY;
      }
      return chunk.getData();
    }, spool -> {
      ImportHeader h = header[0];
      if (h == null) {
        throw BerthException.invalid("an import must begin with its header");
      }
      if (h.getReference().isBlank()) {
        throw BerthException.invalid("an import needs a name for the image, e.g. busybox:latest");
      }
      try (InputStream in = Files.newInputStream(spool)) {
        ImageRecord imported = images.importTar(in, new ImportRequest(h.getReference(), h.getCmdList(),
            h.getEntrypointList(), h.getEnvList(), h.getWorkingDir(), h.getUser(), h.getExposedPortsList()));
        events.imported(imported, h.getReference());
        return ProtoMapper.image(imported);
      }
    });
  }

  @Override
  public void list(ListImagesRequest req, StreamObserver<ListImagesResponse> out) {
    ListImagesResponse.Builder b = ListImagesResponse.newBuilder();
    images.list().forEach(r -> b.addImages(ProtoMapper.image(r)));
    out.onNext(b.build());
    out.onCompleted();
  }

  @Override
  public void inspect(ImageRef req, StreamObserver<Image> out) {
    out.onNext(ProtoMapper.image(images.get(req.getReference())));
    out.onCompleted();
  }

  @Override
  public void remove(RemoveImageRequest req, StreamObserver<RemoveImageResponse> out) {
    // Even forced, an image under a running container stays: its layers are that container's rootfs.
    String id = images.get(req.getReference()).id();
    if (runtime.imageRunning(id)) {
      throw BerthException.failedPrecondition("conflict: unable to remove image " + req.getReference()
          + ": it is used by a running container; stop the container first");
    }
    RemoveResult r = images.remove(req.getReference(), req.getForce(), runtime::imageInUse);
    events.removed(id, r);
    out.onNext(RemoveImageResponse.newBuilder().addAllUntagged(r.untagged()).addAllDeleted(r.deleted()).build());
    out.onCompleted();
  }
}
