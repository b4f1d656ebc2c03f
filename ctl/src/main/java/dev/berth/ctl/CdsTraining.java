package dev.berth.ctl;

import com.google.protobuf.ByteString;
import dev.berth.proto.v1.Container;
import dev.berth.proto.v1.ContainerRef;
import dev.berth.proto.v1.ContainerServiceGrpc;
import dev.berth.proto.v1.ContainerSpec;
import dev.berth.proto.v1.ContainerStatus;
import dev.berth.proto.v1.Image;
import dev.berth.proto.v1.ImageRef;
import dev.berth.proto.v1.ImageServiceGrpc;
import dev.berth.proto.v1.InfoRequest;
import dev.berth.proto.v1.InfoResponse;
import dev.berth.proto.v1.ListContainersRequest;
import dev.berth.proto.v1.ListContainersResponse;
import dev.berth.proto.v1.ListImagesRequest;
import dev.berth.proto.v1.ListImagesResponse;
import dev.berth.proto.v1.LogEntry;
import dev.berth.proto.v1.LogsRequest;
import dev.berth.proto.v1.Stream;
import dev.berth.proto.v1.SystemServiceGrpc;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.okhttp.OkHttpServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The training run behind {@code make-cds-archive}: one JVM that runs the common commands
 * in-process, so that the class-data archive written when it exits (JDK 17's dynamic CDS, or a
 * JDK 25 AOT cache) holds the classes a real `berth` run loads. The daemon is a canned one
 * served by grpc-okhttp on a loopback port; a missing unix socket covers that transport's
 * classes and the "cannot connect" path. All output is discarded.
 */
final class CdsTraining {
  private CdsTraining() {
  }

  public static void main(String[] args) throws Exception {
    Server server = OkHttpServerBuilder
        .forPort(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), InsecureServerCredentials.create())
        .addService(new Containers()).addService(new Images()).addService(new SystemInfo())
        .build().start();
    String tcp = "127.0.0.1:" + server.getPort();
    Path dir = Files.createTempDirectory("berth-cds");
    String missing = dir.resolve("missing.sock").toString();
    String[][] runs = {
        {"-H", tcp, "ps"}, {"-H", tcp, "ps", "-a", "--format", "json"}, {"-H", tcp, "ps", "-q"},
        {"-H", tcp, "images"}, {"-H", tcp, "info"}, {"-H", tcp, "version"},
        {"-H", tcp, "inspect", "c0ffee", "nothere"}, {"-H", tcp, "image", "inspect", "alpine"},
        {"-H", tcp, "logs", "-t", "c0ffee"}, {"-H", tcp, "wait", "nothere"},
        {"-H", missing, "ps"}, {"-H", missing, "version"}, {"--help"}, {"run", "--help"},
        {"run", "--bogus", "alpine"}, {"-H", missing, "run", "-d", "-e", "A=1", "alpine", "sh", "-c", "true"},
    };
    try {
      for (String[] run : runs) {
        for (boolean fast : new boolean[] {true, false}) {
          PrintStream sink = new PrintStream(OutputStream.nullOutputStream(), false, "UTF-8");
          try (Cli cli = new Cli(sink, sink, new ByteArrayInputStream(new byte[0]), Map.of(),
              Clock.systemUTC(), null, Terminal.system(), null)) {
            Main.execute(run, cli, fast);
          }
        }
      }
    } finally {
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      Files.deleteIfExists(dir);
    }
  }

  private static final long NOW = System.currentTimeMillis() * 1_000_000L;
  private static final Container CONTAINER = Container.newBuilder().setId("c0ffee" + "0".repeat(58))
      .setName("web").setImage("alpine:3.20").setImageId("sha256:" + "a".repeat(64))
      .setSpec(ContainerSpec.newBuilder().setImage("alpine:3.20").addCmd("sleep").addCmd("60"))
      .addPathAndArgs("sleep").addPathAndArgs("60").setStatus(ContainerStatus.RUNNING)
      .setCreatedAtUnixNanos(NOW - 90_000_000_000L).setStartedAtUnixNanos(NOW - 60_000_000_000L)
      .putLabels("app", "web").build();
  private static final Image IMAGE = Image.newBuilder().setId("sha256:" + "a".repeat(64))
      .addRepoTags("alpine:3.20").setSizeBytes(7_800_000).setCreatedUnixNanos(NOW - 86_400_000_000_000L)
      .addLayers("sha256:" + "b".repeat(64)).build();

  private static <T> void reply(StreamObserver<T> o, T value) {
    o.onNext(value);
    o.onCompleted();
  }

  private static final class Containers extends ContainerServiceGrpc.ContainerServiceImplBase {
    @Override
    public void list(ListContainersRequest r, StreamObserver<ListContainersResponse> o) {
      reply(o, ListContainersResponse.newBuilder().addContainers(CONTAINER)
          .addContainers(CONTAINER.toBuilder().setStatus(ContainerStatus.EXITED).setId("dead" + "0".repeat(60))).build());
    }

    @Override
    public void inspect(ContainerRef r, StreamObserver<Container> o) {
      if (CONTAINER.getId().startsWith(r.getId())) {
        reply(o, CONTAINER);
      } else {
        o.onError(Status.NOT_FOUND.withDescription("No such container: " + r.getId()).asRuntimeException());
      }
    }

    @Override
    public void wait(ContainerRef r, StreamObserver<dev.berth.proto.v1.WaitResponse> o) {
      o.onError(Status.NOT_FOUND.withDescription("No such container: " + r.getId()).asRuntimeException());
    }

    @Override
    public void logs(LogsRequest r, StreamObserver<LogEntry> o) {
      o.onNext(LogEntry.newBuilder().setStream(Stream.STDOUT).setData(ByteString.copyFromUtf8("hello\n")).setTimeUnixNanos(NOW).build());
      o.onNext(LogEntry.newBuilder().setStream(Stream.STDERR).setData(ByteString.copyFromUtf8("oops\n")).setTimeUnixNanos(NOW).build());
      o.onCompleted();
    }
  }

  private static final class Images extends ImageServiceGrpc.ImageServiceImplBase {
    @Override
    public void list(ListImagesRequest r, StreamObserver<ListImagesResponse> o) {
      reply(o, ListImagesResponse.newBuilder().addImages(IMAGE).build());
    }

    @Override
    public void inspect(ImageRef r, StreamObserver<Image> o) {
      reply(o, IMAGE);
    }
  }

  private static final class SystemInfo extends SystemServiceGrpc.SystemServiceImplBase {
    @Override
    public void info(InfoRequest r, StreamObserver<InfoResponse> o) {
      reply(o, InfoResponse.newBuilder().setVersion("training").setNodeName("node").setCgroupVersion("v2")
          .setContainers(2).setContainersRunning(1).setImages(1).setCpus(2).setMemoryBytes(8L << 30).build());
    }
  }
}
