package dev.berth.agent.events;

import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * One thing that happened, as {@code docker events} shows it: a container died, an image was
 * pulled, a node went down, an allocation was placed.
 *
 * <p>What a part of the agent reports through {@link EventSink} has only the first six fields;
 * the {@link EventLog} that records it stamps the rest: the time, itself as the source, and the
 * next number of its sequence.
 *
 * @param timeNanos when the source recorded it (unix nanos); strictly growing per source
 * @param type one of the {@code *} constants: container, image, node, job, allocation; or warning
 * @param action what happened to the actor: create, start, die, ...
 * @param actorId the container id, image id, node name, job name or allocation id
 * @param actorName the container name, image reference, node name, job name, or job.group[index]
 * @param node the node it happened on (for a node event, that node)
 * @param attributes more about it: image, exitCode, job, reason...; kept sorted by key, null values left out
 * @param source the agent that recorded it; empty until recorded
 * @param sequence the source's number for it, from 1; 0 until recorded
 */
public record Event(long timeNanos, String type, String action, String actorId, String actorName, String node,
    Map<String, String> attributes, String source, long sequence) {
  public static final String CONTAINER = "container";
  public static final String IMAGE = "image";
  public static final String NODE = "node";
  public static final String JOB = "job";
  public static final String ALLOCATION = "allocation";
  /** Not recorded by anyone: what a merging agent says about a node it could not ask. */
  public static final String WARNING = "warning";

  public Event {
    TreeMap<String, String> sorted = new TreeMap<>();
    attributes.forEach((k, v) -> {
      if (v != null) {
        sorted.put(k, v);
      }
    });
    attributes = Collections.unmodifiableMap(sorted);
  }

  /** What a part of the agent reports: not recorded yet. */
  public static Event of(String type, String action, String actorId, String actorName, String node,
      Map<String, String> attributes) {
    return new Event(0, type, action, actorId, actorName, node, attributes, "", 0);
  }

  /** This event as {@code source} recorded it. */
  public Event recorded(long time, String source, long sequence) {
    return new Event(time, type, action, actorId, actorName, node, attributes, source, sequence);
  }
}
