package dev.berth.agent.api;

import dev.berth.agent.BerthException;
import dev.berth.agent.image.ImageRecord;
import dev.berth.agent.image.ImageStore;
import dev.berth.agent.image.ImportRequest;
import dev.berth.agent.image.RemoveResult;
import dev.berth.agent.runtime.ContainerRuntime;
import dev.berth.agent.registry.Credentials;
import dev.berth.agent.registry.PullListener;
import dev.berth.agent.registry.Puller;
import dev.berth.agent.registry.RegistryClient;
import dev.berth.proto.v1.LoginRequest;
import dev.berth.proto.v1.LoginResponse;
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
  private final RegistryClient registries;

  public ImageGrpcService(ImageStore images, ContainerRuntime runtime, Path tmpDir, Puller puller,
      RegistryClient registries) {
    this.images = images;
    this.runtime = runtime;
    this.tmpDir = tmpDir;
    this.puller = puller;
    this.registries = registries;
  }

  @Override
  public void login(LoginRequest req, StreamObserver<LoginResponse> out) {
    Credentials creds = credentials(req.getAuth());
    if (creds == null) {
      throw BerthException.invalid("a login needs a username and a password");
    }
    registries.login(req.getServer().isBlank() ? "docker.io" : req.getServer(), creds);
    out.onNext(LoginResponse.newBuilder().setStatus("Login Succeeded").build());
    out.onCompleted();
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
    return new StreamObserver<>() {
      private ImportHeader header;
      private Path spool;
      private OutputStream sink;
      private boolean failed;

      @Override
      public void onNext(ImportChunk chunk) {
        if (failed) {
          return;
        }
        try {
          if (header == null) {
            if (!chunk.hasHeader()) {
              throw BerthException.invalid("an import must begin with its header");
            }
            header = chunk.getHeader();
            if (header.getReference().isBlank()) {
              throw BerthException.invalid("an import needs a name for the image, e.g. busybox:latest");
            }
            // The tar is spooled to disk first: the store reads it twice (digest, then unpack).
            Files.createDirectories(tmpDir);
            spool = Files.createTempFile(tmpDir, "import-", ".tar");
            sink = Files.newOutputStream(spool);
          } else {
            sink.write(chunk.getData().toByteArray());
          }
        } catch (IOException | RuntimeException e) {
          abort(e);
        }
      }

      private void abort(Throwable e) {
        failed = true;
        cleanup();
        out.onError(Errors.toGrpc(e instanceof IOException io ? new UncheckedIOException(io) : e));
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

      @Override
      public void onError(Throwable t) {
        cleanup();
      }

      @Override
      public void onCompleted() {
        if (failed) {
          return;
        }
        if (header == null) {
          out.onError(Errors.toGrpc(BerthException.invalid("an import must begin with its header")));
          return;
        }
        try {
          sink.close();
          ImageRecord r;
          try (InputStream in = Files.newInputStream(spool)) {
            r = images.importTar(in, new ImportRequest(header.getReference(), header.getCmdList(),
                header.getEntrypointList(), header.getEnvList(), header.getWorkingDir(), header.getUser()));
          }
          out.onNext(ProtoMapper.image(r));
          out.onCompleted();
        } catch (IOException | RuntimeException e) {
          out.onError(Errors.toGrpc(e));
        } finally {
          cleanup();
        }
      }
    };
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
    out.onNext(RemoveImageResponse.newBuilder().addAllUntagged(r.untagged()).addAllDeleted(r.deleted()).build());
    out.onCompleted();
  }
}
