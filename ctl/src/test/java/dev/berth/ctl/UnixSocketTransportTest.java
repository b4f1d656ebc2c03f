package dev.berth.ctl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.berth.proto.v1.AttachInput;
import dev.berth.proto.v1.AttachOpen;
import dev.berth.proto.v1.AttachOutput;
import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerServiceGrpc;
import dev.berth.proto.v1.ContainerStatus;
import dev.berth.proto.v1.ExitStatus;
import dev.berth.proto.v1.ListContainersRequest;
import dev.berth.proto.v1.LogEntry;
import dev.berth.proto.v1.LogsRequest;
import dev.berth.proto.v1.Stream;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The OkHttp channel over {@link UnixSocket} against a real HTTP/2 server (Netty, epoll) on a
 * unix socket: unary, server streaming, and bidi streaming with both directions busy at once.
 */
@Timeout(60)
class UnixSocketTransportTest {
  @TempDir
  Path dir;
  private FakeDaemon daemon;
  private UnixServer server;
  private Path socket;
  private ManagedChannel channel;

  @BeforeEach
  void start() throws Exception {
    socket = dir.resolve("d.sock");
    assertTrue(socket.toString().length() < 100, socket.toString());
    daemon = new FakeDaemon();
    for (int i = 0; i < 3; i++) {
      String id = "c" + i;
      daemon.containers.put(id, Container.newBuilder().setId(id).setName("n" + i).setStatus(ContainerStatus.RUNNING).build());
    }
    server = new UnixServer(socket, daemon.services());
    channel = DaemonAddress.parse(socket.toString()).connect();
  }

  @AfterEach
  void stop() throws Exception {
    channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    server.close();
  }

  @Test
  void unary() {
    var stub = ContainerServiceGrpc.newBlockingStub(channel);
    for (int i = 0; i < 20; i++) {
      assertEquals(3, stub.list(ListContainersRequest.newBuilder().setAll(true).build()).getContainersCount());
    }
  }

  @Test
  void serverStreaming() {
    byte[] line = new byte[1000];
    for (int i = 0; i < 2000; i++) {  // ~2 MB: well past the HTTP/2 flow-control windows
      daemon.logs.add(LogEntry.newBuilder().setStream(Stream.STDOUT).setData(ByteString.copyFrom(line)).setTimeUnixNanos(i).build());
    }
    Iterator<LogEntry> it = ContainerServiceGrpc.newBlockingStub(channel).logs(LogsRequest.newBuilder().setId("c1").build());
    int n = 0;
    while (it.hasNext()) {
      assertEquals(n++, it.next().getTimeUnixNanos());
    }
    assertEquals(2000, n);
  }

  @Test
  void statusErrorsArriveIntact() {
    var stub = ContainerServiceGrpc.newBlockingStub(channel);
    StatusRuntimeException e = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
        () -> stub.inspect(LifecycleCommands.ref("nope")));
    assertEquals("No such container: nope", e.getStatus().getDescription());
  }

  /**
   * Sends 8 MiB of stdin while the server echoes it back: the client writes while its reader
   * thread is blocked in read. With a stream implementation that serialized reads and writes
   * this deadlocks as soon as the flow-control windows fill.
   */
  @Test
  void bidiWithConcurrentSendAndReceive() throws Exception {
    byte[] data = new byte[8 << 20];
    new Random(3).nextBytes(data);
    ByteArrayOutputStream echoed = new ByteArrayOutputStream();
    CompletableFuture<ExitStatus> exit = new CompletableFuture<>();
    StreamObserver<AttachInput> in = ContainerServiceGrpc.newStub(channel).attach(new StreamObserver<>() {
      @Override
      public void onNext(AttachOutput o) {
        if (o.hasExit()) {
          exit.complete(o.getExit());
        } else {
          synchronized (echoed) {
            echoed.writeBytes(o.getStdout().toByteArray());
          }
        }
      }

      @Override
      public void onError(Throwable t) {
        exit.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {
        exit.complete(null);
      }
    });
    in.onNext(AttachInput.newBuilder().setOpen(AttachOpen.newBuilder().setId("c0").setStdin(true)).build());
    for (int off = 0; off < data.length; off += 16 * 1024) {
      in.onNext(AttachInput.newBuilder().setStdin(ByteString.copyFrom(data, off, 16 * 1024)).build());
    }
    in.onNext(AttachInput.newBuilder().setCloseStdin(true).build());
    assertEquals(0, exit.get(30, TimeUnit.SECONDS).getExitCode());
    in.onCompleted();
    assertArrayEquals(data, echoed.toByteArray());
  }

  /** The whole CLI over the socket: `ps`, and `exec -i` piping 4 MiB through the container. */
  @Test
  void theCliOverTheSocket() throws Exception {
    try (CliRunner cli = new CliRunner()) {
      cli.connector = DaemonAddress::connect;
      CliRunner.Result ps = cli.run("-H", "unix://" + socket, "ps", "-q");
      assertEquals(0, ps.code(), ps.err());
      assertEquals("c0\nc1\nc2\n", ps.out());
      byte[] data = new byte[4 << 20];
      new Random(5).nextBytes(data);
      cli.stdin = new ByteArrayInputStream(data);
      CliRunner.Result exec = cli.run("-H", socket.toString(), "exec", "-i", "n1", "cat");
      assertEquals(0, exec.code(), exec.err());
      assertArrayEquals(data, exec.stdout());
    }
  }

  @Test
  void manyConcurrentCallsOnOneConnection() throws Exception {
    var stub = ContainerServiceGrpc.newFutureStub(channel);
    List<com.google.common.util.concurrent.ListenableFuture<?>> calls = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      calls.add(stub.list(ListContainersRequest.getDefaultInstance()));
    }
    for (var c : calls) {
      c.get(10, TimeUnit.SECONDS);
    }
  }
}
