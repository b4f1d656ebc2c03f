package dev.berth.ctl;

import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerSpec;
import dev.berth.proto.v1.ContainerStatus;
import io.grpc.BindableService;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real gRPC server (Netty, epoll) on a unix socket: the other end for the transport test, and
 * a stand-alone fake berthd ({@link #main}) to time the CLI against.
 */
final class UnixServer implements AutoCloseable {
  private final Server server;
  private final EpollEventLoopGroup group;

  UnixServer(Path socket, List<BindableService> services) throws IOException {
    group = new EpollEventLoopGroup(2);
    NettyServerBuilder b = NettyServerBuilder.forAddress(new DomainSocketAddress(socket.toString()))
        .channelType(EpollServerDomainSocketChannel.class).bossEventLoopGroup(group).workerEventLoopGroup(group);
    services.forEach(b::addService);
    server = b.build().start();
  }

  @Override
  public void close() {
    try {
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** {@code UnixServer SOCKET [N]}: serves a fake daemon holding N running containers until killed. */
  public static void main(String[] args) throws Exception {
    Path socket = Path.of(args[0]);
    int n = args.length > 1 ? Integer.parseInt(args[1]) : 5;
    Files.deleteIfExists(socket);
    FakeDaemon d = new FakeDaemon();
    long now = System.currentTimeMillis() * 1_000_000L;
    for (int i = 0; i < n; i++) {
      String id = String.format("%08x", 0xc0ffee00L + i) + "5eed".repeat(14);
      d.containers.put(id, Container.newBuilder().setId(id).setName("web" + i).setImage("alpine:3.20")
          .setSpec(ContainerSpec.newBuilder().setImage("alpine:3.20").addCmd("sleep").addCmd("1000"))
          .addPathAndArgs("sleep").addPathAndArgs("1000").setStatus(ContainerStatus.RUNNING)
          .setCreatedAtUnixNanos(now - 3_600_000_000_000L).setStartedAtUnixNanos(now - 60_000_000_000L).build());
    }
    UnixServer server = new UnixServer(socket, d.services());
    try {
      System.out.println("listening on " + socket);
      System.out.flush();
      Thread.currentThread().join();
    } finally {
      server.close();
    }
  }
}
