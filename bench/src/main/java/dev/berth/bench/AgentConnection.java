package dev.berth.bench;

import com.google.protobuf.ByteString;
import dev.berth.proto.v1.ContainerServiceGrpc;
import dev.berth.proto.v1.Image;
import dev.berth.proto.v1.ImageServiceGrpc;
import dev.berth.proto.v1.ImportChunk;
import dev.berth.proto.v1.ImportHeader;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import io.grpc.stub.StreamObserver;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** A benchmark's gRPC connection to its berthd over the agent's unix socket, opened on first use. */
final class AgentConnection implements AutoCloseable {
  private final String socket;
  private ManagedChannel channel;
  private EpollEventLoopGroup group;

  AgentConnection(String socket) {
    this.socket = socket;
  }

  synchronized ManagedChannel channel() {
    if (channel == null) {
      group = new EpollEventLoopGroup(1);
      channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket))
          .channelType(EpollDomainSocketChannel.class).eventLoopGroup(group).usePlaintext().build();
    }
    return channel;
  }

  /** The container service, each call bounded to 60 s. */
  ContainerServiceGrpc.ContainerServiceBlockingStub containers() {
    return ContainerServiceGrpc.newBlockingStub(channel()).withDeadlineAfter(60, TimeUnit.SECONDS);
  }

  /** ImageService.Import of a rootfs tar as {@code reference} (command /bin/sh): the header, then 64 KiB chunks. */
  Image importImage(Path tar, String reference) throws Exception {
    CompletableFuture<Image> done = new CompletableFuture<>();
    StreamObserver<ImportChunk> in = ImageServiceGrpc.newStub(channel()).import_(new StreamObserver<>() {
      @Override
      public void onNext(Image value) {
        done.complete(value);
      }

      @Override
      public void onError(Throwable t) {
        done.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {}
    });
    in.onNext(ImportChunk.newBuilder().setHeader(ImportHeader.newBuilder().setReference(reference).addCmd("/bin/sh")).build());
    byte[] buf = new byte[1 << 16];
    try (InputStream s = Files.newInputStream(tar)) {
      int n;
      while ((n = s.readNBytes(buf, 0, buf.length)) > 0) {
        in.onNext(ImportChunk.newBuilder().setData(ByteString.copyFrom(buf, 0, n)).build());
      }
    }
    in.onCompleted();
    return done.get(120, TimeUnit.SECONDS);
  }

  @Override
  public synchronized void close() {
    if (channel != null) {
      channel.shutdownNow();
      try {
        channel.awaitTermination(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (group != null) {
      group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
    }
  }
}
