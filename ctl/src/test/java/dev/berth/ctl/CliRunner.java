package dev.berth.ctl;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Runs the real {@link Main#execute} in-process against a {@link FakeDaemon} served over gRPC's
 * in-process transport, capturing stdout, stderr and the exit code.
 */
final class CliRunner implements AutoCloseable {
  /** The tests' "now": 2024-05-01T12:00:00Z. */
  static final Instant NOW = Instant.parse("2024-05-01T12:00:00Z");
  static final long NOW_NANOS = NOW.getEpochSecond() * 1_000_000_000L;

  final FakeDaemon daemon = new FakeDaemon();
  final Map<String, String> env = new HashMap<>();
  final FakeTerminal terminal = new FakeTerminal();
  /** The addresses the CLI asked to connect to. */
  final List<DaemonAddress> connects = new CopyOnWriteArrayList<>();
  InputStream stdin = new ByteArrayInputStream(new byte[0]);
  boolean fastPath = true;
  /** null: the in-process daemon; else how to connect (e.g. the real unix socket transport). */
  Function<DaemonAddress, ManagedChannel> connector;

  private final String name = InProcessServerBuilder.generateName();
  private final Server server;

  /** The exit code and the raw bytes written to stdout and stderr. */
  record Result(int code, byte[] stdout, byte[] stderr) {
    String out() {
      return new String(stdout, StandardCharsets.UTF_8);
    }

    String err() {
      return new String(stderr, StandardCharsets.UTF_8);
    }
  }

  CliRunner() throws IOException {
    InProcessServerBuilder b = InProcessServerBuilder.forName(name);
    daemon.services().forEach(b::addService);
    server = b.build().start();
  }

  Result run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    Function<DaemonAddress, ManagedChannel> connect = connector != null ? connector : a -> {
      connects.add(a);
      return InProcessChannelBuilder.forName(name).build();
    };
    int code;
    try (Cli cli = new Cli(new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8), stdin, env,
        Clock.fixed(NOW, ZoneOffset.UTC), ZoneId.of("UTC"), terminal, connect)) {
      code = Main.execute(args, cli, fastPath);
    }
    return new Result(code, out.toByteArray(), err.toByteArray());
  }

  @Override
  public void close() {
    try {
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
