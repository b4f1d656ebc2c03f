package dev.berth.agent.metrics;

import dev.berth.proto.v1.ContainerServiceGrpc;
import dev.berth.proto.v1.ImageServiceGrpc;
import dev.berth.proto.v1.LayerState;
import dev.berth.proto.v1.PullProgress;
import io.grpc.ForwardingServerCall.SimpleForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Times every call the agent serves, by method and status code
 * ({@code berth_grpc_server_requests_seconds}, a histogram; streams are timed until they
 * close), and derives two meters from the calls it sees: pulls
 * ({@code berth_image_pull_seconds} by status, {@code berth_image_pull_bytes_total}: the
 * layers this agent downloaded, counted when each is verified) and container starts
 * ({@code berth_container_start_seconds}, the ContainerService/Start calls that succeeded).
 *
 * <p>Only calls through the API are seen: a pull that {@code run} makes for a missing image,
 * and a start by a restart policy, are not (the runtime would have to report those itself).
 *
 * <p>Thread-safe; adds a clock read and a map lookup per call.
 */
public final class GrpcMetricsInterceptor implements ServerInterceptor {
  /** Bucket bounds of the latency histograms: from a quick unary call to a pull of a large image. */
  static final Duration[] BUCKETS = {Duration.ofMillis(1), Duration.ofMillis(5), Duration.ofMillis(10),
      Duration.ofMillis(25), Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250),
      Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofMillis(2500), Duration.ofSeconds(5),
      Duration.ofSeconds(10), Duration.ofSeconds(30), Duration.ofSeconds(60), Duration.ofSeconds(300)};

  private static final String PULL = ImageServiceGrpc.getPullMethod().getFullMethodName();
  private static final String START = ContainerServiceGrpc.getStartMethod().getFullMethodName();

  private final MeterRegistry registry;
  private final Counter pullBytes;
  private final Timer starts;

  public GrpcMetricsInterceptor(MeterRegistry registry) {
    this.registry = registry;
    this.pullBytes = Counter.builder(MetricNames.PULL_BYTES).baseUnit("bytes")
        .description("Bytes of image layers downloaded by pulls through the API").register(registry);
    this.starts = Timer.builder(MetricNames.CONTAINER_START).serviceLevelObjectives(BUCKETS)
        .description("Time to start a container (ContainerService/Start), as the caller waits for it").register(registry);
    // Present from the start, so that rate() has a series before the first pull.
    pullTimer("OK");
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    String method = call.getMethodDescriptor().getFullMethodName();
    long start = System.nanoTime();
    boolean pull = method.equals(PULL);
    Set<String> counted = pull ? ConcurrentHashMap.newKeySet() : null;
    ServerCall<Q, R> timed = new SimpleForwardingServerCall<>(call) {
      @Override
      public void sendMessage(R message) {
        if (pull && message instanceof PullProgress p && p.hasLayer() && p.getLayer().getState() == LayerState.VERIFYING
            && counted.add(p.getLayer().getDigest())) {
          pullBytes.increment(p.getLayer().getTotalBytes());
        }
        super.sendMessage(message);
      }

      @Override
      public void close(Status status, Metadata trailers) {
        long nanos = System.nanoTime() - start;
        String code = status.getCode().name();
        Timer.builder(MetricNames.GRPC_REQUESTS).tag("method", method).tag("status", code)
            .serviceLevelObjectives(BUCKETS).description("gRPC calls served, by method and status code")
            .register(registry).record(Duration.ofNanos(nanos));
        if (pull) {
          pullTimer(code).record(Duration.ofNanos(nanos));
        } else if (method.equals(START) && status.isOk()) {
          starts.record(Duration.ofNanos(nanos));
        }
        super.close(status, trailers);
      }
    };
    return next.startCall(timed, headers);
  }

  private Timer pullTimer(String code) {
    return Timer.builder(MetricNames.PULL_DURATION).tag("status", code).serviceLevelObjectives(BUCKETS)
        .description("Time to pull an image through the API, by status code").register(registry);
  }
}
