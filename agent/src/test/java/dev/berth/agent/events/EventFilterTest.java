package dev.berth.agent.events;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.berth.agent.BerthException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** docker events --filter: which of a fixed set of events each filter lets through. */
class EventFilterTest {
  private static final String WEB = "3f2a9c0d1e2b3f2a9c0d1e2b3f2a9c0d1e2b3f2a9c0d1e2b3f2a9c0d1e2b3f2a";

  /** The events, by a short label each. */
  private static final Map<String, Event> EVENTS = new java.util.LinkedHashMap<>();

  static {
    EVENTS.put("web-create", Event.of(Event.CONTAINER, "create", WEB, "web", "n1", Map.of("image", "busybox")));
    EVENTS.put("web-die", Event.of(Event.CONTAINER, "die", WEB, "web", "n1", Map.of("image", "busybox", "exitCode", "1")));
    EVENTS.put("db-health", Event.of(Event.CONTAINER, "health_status: unhealthy", "9d9d9d9d", "db", "n2",
        Map.of("image", "postgres:16")));
    EVENTS.put("pull", Event.of(Event.IMAGE, "pull", "sha256:ab", "busybox:latest", "n2", Map.of()));
    EVENTS.put("n3-down", Event.of(Event.NODE, "down", "n3", "n3", "n3", Map.of("role", "member")));
    EVENTS.put("job-reg", Event.of(Event.JOB, "registered", "api", "api", "n1", Map.of("version", "2")));
    EVENTS.put("alloc-lost", Event.of(Event.ALLOCATION, "lost", "a-1", "api.web[0]", "n3", Map.of("job", "api")));
    EVENTS.put("warning", Event.of(Event.WARNING, "skipped", "n4", "n4", "n4", Map.of("message", "down")));
  }

  static Stream<Arguments> cases() {
    return Stream.of(
        Arguments.of(List.of(), "web-create web-die db-health pull n3-down job-reg alloc-lost warning"),
        Arguments.of(List.of("type=container"), "web-create web-die db-health warning"),
        Arguments.of(List.of("type=image", "type=node"), "pull n3-down warning"),
        Arguments.of(List.of("type=allocation"), "alloc-lost warning"),
        Arguments.of(List.of("event=die"), "web-die warning"),
        Arguments.of(List.of("event=health_status"), "db-health warning"),
        Arguments.of(List.of("event=health_status: unhealthy"), "db-health warning"),
        Arguments.of(List.of("event=die", "event=create"), "web-create web-die warning"),
        Arguments.of(List.of("container=web"), "web-create web-die warning"),
        Arguments.of(List.of("container=3f2a9c"), "web-create web-die warning"),
        Arguments.of(List.of("container=3f2"), "warning"),
        Arguments.of(List.of("container=web", "event=die"), "web-die warning"),
        Arguments.of(List.of("container=web", "container=db"), "web-create web-die db-health warning"),
        Arguments.of(List.of("image=busybox"), "web-create web-die pull warning"),
        Arguments.of(List.of("image=postgres:16"), "db-health warning"),
        Arguments.of(List.of("image=sha256:ab"), "pull warning"),
        Arguments.of(List.of("node=n2"), "db-health pull warning"),
        Arguments.of(List.of("node=n3", "type=allocation"), "alloc-lost warning"),
        Arguments.of(List.of("job=api"), "job-reg alloc-lost warning"),
        Arguments.of(List.of("type=job", "job=api"), "job-reg warning"));
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @MethodSource("cases")
  void letsThrough(List<String> filters, String expected) {
    List<EventFilter.Term> terms = new ArrayList<>();
    for (String f : filters) {
      int eq = f.indexOf('=');
      terms.add(new EventFilter.Term(f.substring(0, eq), f.substring(eq + 1)));
    }
    EventFilter filter = EventFilter.of(terms);
    List<String> passed = EVENTS.entrySet().stream().filter(e -> filter.test(e.getValue())).map(Map.Entry::getKey).toList();
    assertEquals(expected, String.join(" ", passed));
  }

  @Test
  void unknownKeysTypesAndEmptyValuesAreRefused() {
    BerthException key = assertThrows(BerthException.class,
        () -> EventFilter.of(List.of(new EventFilter.Term("label", "x"))));
    assertEquals("invalid filter 'label': accepted are type, event, container, image, node, job", key.getMessage());
    BerthException type = assertThrows(BerthException.class,
        () -> EventFilter.of(List.of(new EventFilter.Term("type", "network"))));
    assertEquals("invalid filter 'type=network': accepted are container, image, node, job, allocation", type.getMessage());
    assertThrows(BerthException.class, () -> EventFilter.of(List.of(new EventFilter.Term("node", " "))));
  }
}
