package dev.berth.agent.api;

import dev.berth.agent.BerthException;
import dev.berth.agent.image.ImageRecord;
import dev.berth.agent.image.ImageStore;
import dev.berth.agent.image.ImportRequest;
import dev.berth.agent.image.RemoveResult;
import dev.berth.agent.runtime.ContainerRuntime;
import dev.berth.proto.v1.Image;
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

  public ImageGrpcService(ImageStore images, ContainerRuntime runtime, Path tmpDir) {
    this.images = images;
    this.runtime = runtime;
    this.tmpDir = tmpDir;
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
