package dev.berth.ctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.berth.proto.v1.Event;
import dev.berth.proto.v1.EventActor;
import dev.berth.proto.v1.EventFilter;
import dev.berth.proto.v1.EventServiceGrpc;
import dev.berth.proto.v1.EventsRequest;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** `berth events` against an in-process EventService: the request its flags make, and what the user sees. */
@Timeout(30)
class EventsCommandTest {
  private static final String ID = "3f2a9c0d1e2b3f2a9c0d1e2b3f2a9c0d1e2b3f2a9c0d1e2b3f2a9c0d1e2b3f2a";
  private static final long T = Instant.parse("2026-11-27T12:00:00Z").getEpochSecond() * 1_000_000_000L;

  /** Answers each Stream with {@link #events}, then completes (or fails with {@link #failure}). */
  static final class FakeEventService extends EventServiceGrpc.EventServiceImplBase {
    final List<EventsRequest> requests = new CopyOnWriteArrayList<>();
    volatile List<Event> events = List.of();
    volatile StatusRuntimeException failure;

    @Override
    public void stream(EventsRequest req, StreamObserver<Event> out) {
      requests.add(req);
      if (failure != null) {
        out.onError(failure);
        return;
      }
      events.forEach(out::onNext);
      out.onCompleted();
    }
  }

  private final FakeEventService service = new FakeEventService();
  private final String name = InProcessServerBuilder.generateName();
  private Server server;
  private CliRunner cli;

  @BeforeEach
  void start() throws Exception {
    server = InProcessServerBuilder.forName(name).addService(service).directExecutor().build().start();
    cli = new CliRunner();
    cli.connector = a -> InProcessChannelBuilder.forName(name).directExecutor().build();
  }

  @AfterEach
  void stop() throws Exception {
    cli.close();
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  private static Event.Builder event(long time, String type, String action, String id, String name, String node) {
    return Event.newBuilder().setTimeUnixNanos(time).setType(type).setAction(action)
        .setActor(EventActor.newBuilder().setId(id).setName(name)).setNode(node).setSource("n1");
  }

  @Test
  void printsALineForEachEventAsDockerDoesAndWarningsOnStderr() {
    service.events = List.of(
        event(T, "container", "die", ID, "web", "n2").putAttributes("exitCode", "1").putAttributes("image", "busybox")
            .setSequence(7).build(),
        Event.newBuilder().setProgress(true).setTimeUnixNanos(T + 5).setSource("n1").build(),
        event(T + 1_500, "warning", "skipped", "n3", "n3", "n3")
            .putAttributes("message", "node n3 at 10.0.0.3:2377 cannot be reached (UNAVAILABLE): its events are left out")
            .build(),
        event(T + 123_456_789, "node", "down", "n3", "n3", "n3").putAttributes("role", "member").build(),
        event(T + 2_000_000_000L, "allocation", "rescheduled", "a-1", "web.app[1]", "n2")
            .putAttributes("job", "web").putAttributes("previousNode", "n3").build());

    CliRunner.Result r = cli.run("events");

    assertEquals(0, r.code(), r.err());
    assertEquals("""
        2026-11-27T12:00:00.000000000Z container die %s (name=web, exitCode=1, image=busybox, node=n2)
        2026-11-27T12:00:00.123456789Z node down n3 (name=n3, node=n3, role=member)
        2026-11-27T12:00:02.000000000Z allocation rescheduled a-1 (name=web.app[1], job=web, node=n2, previousNode=n3)
        """.formatted(ID), r.out());
    assertEquals("warning: node n3 at 10.0.0.3:2377 cannot be reached (UNAVAILABLE): its events are left out\n", r.err());
    assertEquals(EventsRequest.getDefaultInstance(), service.requests.get(0), "without flags: live, everything");
  }

  @Test
  void formatJsonPrintsAJsonLineForEachEvent() throws Exception {
    service.events = List.of(event(T, "container", "start", ID, "web", "n1").setSequence(3).build(),
        event(T + 1, "image", "pull", "sha256:ab", "busybox:latest", "n1").setSequence(4).build());

    CliRunner.Result r = cli.run("events", "--format", "json");

    assertEquals(0, r.code(), r.err());
    String[] lines = r.out().split("\n");
    assertEquals(2, lines.length, r.out());
    JsonNode first = new ObjectMapper().readTree(lines[0]);
    assertEquals(T, first.get("timeUnixNanos").asLong());
    assertEquals("container", first.get("type").asText());
    assertEquals("start", first.get("action").asText());
    assertEquals(ID, first.get("actor").get("id").asText());
    assertEquals("web", first.get("actor").get("name").asText());
    assertEquals("n1", first.get("node").asText());
    assertEquals("n1", first.get("source").asText());
    assertEquals(3, first.get("sequence").asLong());
    assertTrue(first.get("attributes").isObject());
    assertTrue(!first.has("progress"), "marks are the agents' business");
    assertEquals("busybox:latest", new ObjectMapper().readTree(lines[1]).get("actor").get("name").asText());
  }

  @Test
  void flagsMakeTheRequest() {
    CliRunner.Result r = cli.run("events", "--filter", "type=container", "-f", "event=die", "--filter", "container=web",
        "--since", "10m", "--until", "2024-05-01T12:30:00Z");

    assertEquals(0, r.code(), r.err());
    EventsRequest sent = service.requests.get(0);
    assertEquals(List.of(filter("type", "container"), filter("event", "die"), filter("container", "web")),
        sent.getFiltersList());
    assertEquals(CliRunner.NOW_NANOS - Duration.ofMinutes(10).toNanos(), sent.getSinceUnixNanos());
    assertEquals(CliRunner.NOW_NANOS + Duration.ofMinutes(30).toNanos(), sent.getUntilUnixNanos());
    assertTrue(!sent.getProgress());
  }

  private static EventFilter filter(String key, String value) {
    return EventFilter.newBuilder().setKey(key).setValue(value).build();
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "1714564800            | 2024-05-01T12:00:00Z",
      "1714564800.25         | 2024-05-01T12:00:00.250Z",
      "1714564800.000000001  | 2024-05-01T12:00:00.000000001Z",
      "2024-05-01T11:00:00Z  | 2024-05-01T11:00:00Z",
      "2024-05-01T13:00:00.5+02:00 | 2024-05-01T11:00:00.500Z",
      "2024-05-01T11:00:00   | 2024-05-01T09:00:00Z",
      "2024-05-01            | 2024-04-30T22:00:00Z",
      "10m                   | 2024-05-01T11:50:00Z",
      "1h30m                 | 2024-05-01T10:30:00Z",
      "1.5h                  | 2024-05-01T10:30:00Z",
      "500ms                 | 2024-05-01T11:59:59.500Z",
      "0s                    | 2024-05-01T12:00:00Z"})
  void timesAsDockerTakesThem(String text, String expected) {
    // Local times in a zone two hours east of UTC, as a user's terminal might be.
    assertEquals(Instant.parse(expected), EventsCommand.time("--since", text, CliRunner.NOW, ZoneId.of("+02:00")));
  }

  @Test
  void badFlagsAreRefusedBeforeAnythingIsAsked() {
    CliRunner.Result since = cli.run("events", "--since", "yesterday");
    assertEquals(1, since.code());
    assertEquals("invalid value for --since: \"yesterday\": expected RFC 3339 (2026-11-27T12:00:00Z), unix seconds, "
        + "or a duration before now (10m)\n", since.err());
    CliRunner.Result filter = cli.run("events", "--filter", "container");
    assertEquals(1, filter.code());
    assertEquals("invalid filter 'container': expected KEY=VALUE, e.g. type=container\n", filter.err());
    CliRunner.Result format = cli.run("events", "--format", "table");
    assertEquals(1, format.code());
    assertEquals("invalid --format \"table\": plain or json\n", format.err());
    assertEquals(List.of(), service.requests);
  }

  @Test
  void theAgentsRefusalIsShownAsDockerShowsIt() {
    service.failure = Status.INVALID_ARGUMENT
        .withDescription("invalid filter 'colour': accepted are type, event, container, image, node, job").asRuntimeException();
    CliRunner.Result r = cli.run("events", "--filter", "colour=red");
    assertEquals(1, r.code());
    assertEquals("Error response from daemon: invalid filter 'colour': accepted are type, event, container, image, node, job\n",
        r.err());
  }

  @Test
  void helpListsTheTimeFormatsAndFilters() {
    CliRunner.Result r = cli.run("events", "--help");
    assertEquals(0, r.code());
    assertTrue(r.out().contains("--since=TIME"), r.out());
    assertTrue(r.out().contains("type=container|image|node|job|allocation"), r.out());
    assertTrue(cli.run("--help").out().contains("events"), "listed among the commands");
  }
}
