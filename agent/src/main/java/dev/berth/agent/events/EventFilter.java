package dev.berth.agent.events;

import dev.berth.agent.BerthException;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * {@code docker events --filter}: which events to show. Values of one key widen (any of them),
 * different keys narrow (all of them). Immutable; a warning always passes.
 *
 * <ul>
 *   <li>{@code type}: container, image, node, job, allocation;
 *   <li>{@code event}: the action (die, start, ...); {@code health_status} matches each {@code health_status: ...};
 *   <li>{@code container}: a container event whose id, id prefix or name it is;
 *   <li>{@code image}: an image event of that id or reference, or a container event of that image
 *       (a reference without a tag is the same as with {@code :latest});
 *   <li>{@code node}: an event that happened on that node;
 *   <li>{@code job}: an event of the job, or of one of its allocations.
 * </ul>
 */
public final class EventFilter implements Predicate<Event> {
  public static final List<String> KEYS = List.of("type", "event", "container", "image", "node", "job");
  public static final List<String> TYPES = List.of(Event.CONTAINER, Event.IMAGE, Event.NODE, Event.JOB, Event.ALLOCATION);
  /** Passes everything. */
  public static final EventFilter ALL = new EventFilter(Map.of());

  /** One key=value as the user gave it. */
  public record Term(String key, String value) {}

  private final Map<String, Set<String>> terms;

  private EventFilter(Map<String, Set<String>> terms) {
    this.terms = terms;
  }

  /**
   * The filter of {@code terms}.
   *
   * @throws BerthException INVALID_ARGUMENT for an unknown key, an unknown type or an empty value
   */
  public static EventFilter of(List<Term> terms) {
    Map<String, Set<String>> byKey = new LinkedHashMap<>();
    for (Term t : terms) {
      String key = t.key().trim();
      String value = t.value().trim();
      if (!KEYS.contains(key)) {
        throw BerthException.invalid("invalid filter '" + t.key() + "': accepted are " + String.join(", ", KEYS));
      }
      if (value.isEmpty()) {
        throw BerthException.invalid("invalid filter '" + key + "=': a value is needed");
      }
      if (key.equals("type") && !TYPES.contains(value)) {
        throw BerthException.invalid("invalid filter 'type=" + value + "': accepted are " + String.join(", ", TYPES));
      }
      byKey.computeIfAbsent(key, k -> new LinkedHashSet<>()).add(value);
    }
    return new EventFilter(Map.copyOf(byKey));
  }

  @Override
  public boolean test(Event e) {
    if (e.type().equals(Event.WARNING)) {
      return true;
    }
    for (Map.Entry<String, Set<String>> t : terms.entrySet()) {
      boolean any = false;
      for (String v : t.getValue()) {
        if (matches(t.getKey(), v, e)) {
          any = true;
          break;
        }
      }
      if (!any) {
        return false;
      }
    }
    return true;
  }

  private static boolean matches(String key, String v, Event e) {
    return switch (key) {
      case "type" -> e.type().equals(v);
      case "event" -> e.action().equals(v) || e.action().startsWith(v + ": ");
      case "container" -> e.type().equals(Event.CONTAINER)
          && (e.actorId().equals(v) || e.actorName().equals(v) || e.actorName().equals("/" + v)
              || (v.length() >= 4 && e.actorId().startsWith(v)));
      case "image" -> e.type().equals(Event.IMAGE) ? e.actorId().equals(v) || sameImage(e.actorName(), v)
          : sameImage(e.attributes().get("image"), v);
      case "node" -> e.node().equals(v);
      case "job" -> e.type().equals(Event.JOB) ? e.actorName().equals(v) : v.equals(e.attributes().get("job"));
      default -> false;
    };
  }

  /** busybox is busybox:latest, as docker names it. */
  private static boolean sameImage(String ref, String v) {
    return ref != null && (ref.equals(v) || ref.equals(v + ":latest") || v.equals(ref + ":latest"));
  }
}
