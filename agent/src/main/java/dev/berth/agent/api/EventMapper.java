package dev.berth.agent.api;

import dev.berth.agent.events.Event;
import dev.berth.agent.events.EventFilter;
import dev.berth.proto.v1.EventActor;
import dev.berth.proto.v1.EventsRequest;
import java.util.List;

/** Events between the domain and the API. Stateless. */
final class EventMapper {
  private EventMapper() {}

  static dev.berth.proto.v1.Event toProto(Event e) {
    return dev.berth.proto.v1.Event.newBuilder().setTimeUnixNanos(e.timeNanos()).setType(e.type()).setAction(e.action())
        .setActor(EventActor.newBuilder().setId(e.actorId()).setName(e.actorName()))
        .putAllAttributes(e.attributes()).setNode(e.node()).setSource(e.source()).setSequence(e.sequence()).build();
  }

  static Event fromProto(dev.berth.proto.v1.Event e) {
    return new Event(e.getTimeUnixNanos(), e.getType(), e.getAction(), e.getActor().getId(), e.getActor().getName(),
        e.getNode(), e.getAttributesMap(), e.getSource(), e.getSequence());
  }

  /** A progress mark of {@code source}: everything up to {@code watermark} was sent. */
  static dev.berth.proto.v1.Event progress(String source, long watermark) {
    return dev.berth.proto.v1.Event.newBuilder().setProgress(true).setTimeUnixNanos(watermark).setSource(source).build();
  }

  /** @throws dev.berth.agent.BerthException INVALID_ARGUMENT as {@link EventFilter#of} */
  static EventFilter filter(EventsRequest req) {
    List<EventFilter.Term> terms = req.getFiltersList().stream()
        .map(f -> new EventFilter.Term(f.getKey(), f.getValue())).toList();
    return EventFilter.of(terms);
  }
}
