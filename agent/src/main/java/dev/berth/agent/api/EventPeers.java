package dev.berth.agent.api;

import dev.berth.agent.BerthException;
import dev.berth.agent.cluster.MemberState;
import dev.berth.agent.cluster.Membership;
import dev.berth.agent.cluster.NodeRecord;
import dev.berth.agent.cluster.NodeRegistry;
import dev.berth.agent.events.Event;
import dev.berth.agent.events.EventStream;
import dev.berth.proto.v1.EventServiceGrpc;
import dev.berth.proto.v1.EventsRequest;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * The other nodes' events, for a merged stream: each registered node's agent is asked over the
 * agent-to-agent channel ({@link AgentChannels}: mutual TLS, as {@link ContainerForwarder}) with
 * the call marked forwarded, so that it answers with its own events only, with progress marks.
 * A node that serves no API over TCP, or that the servers judge down, is left out with a warning
 * from the start; one that cannot be reached, or whose stream breaks, with a warning then.
 *
 * <p>Each stream opens a channel of its own per node and closes it when done. Thread-safe.
 */
public final class EventPeers {
  private final String self;
  private final NodeRegistry registry;
  private final Membership membership;
  private final ContainerForwarder.Channels channels;

  public EventPeers(String self, NodeRegistry registry, Membership membership, ContainerForwarder.Channels channels) {
    this.self = self;
    this.registry = registry;
    this.membership = membership;
    this.channels = channels;
  }

  /** The nodes to read, and warnings about those left out. */
  public record Plan(List<EventStream.Source> sources, List<Event> warnings) {}

  /** Who to ask for {@code req}: every registered node but this one. */
  public Plan plan(EventsRequest req, EventStream stream) {
    List<EventStream.Source> sources = new ArrayList<>();
    List<Event> warnings = new ArrayList<>();
    List<NodeRecord> nodes;
    try {
      nodes = registry.list();
    } catch (BerthException e) {
      warnings.add(stream.warning("", "cannot list the other nodes (" + e.getMessage() + "): showing this node's events only"));
      return new Plan(sources, warnings);
    }
    EventsRequest forwarded = req.toBuilder().setProgress(true).build();
    for (NodeRecord n : nodes) {
      if (n.name().equals(self)) {
        continue;
      }
      if (n.apiAddress().isEmpty()) {
        warnings.add(stream.warning(n.name(), "node " + n.name() + " serves no API over TCP that other agents reach "
            + "(start its berthd with --tcp HOST:PORT): its events are left out"));
      } else if (membership.member(n.name()).map(m -> m.state() == MemberState.DOWN).orElse(false)) {
        warnings.add(stream.warning(n.name(), "node " + n.name() + " is down: its events are left out"));
      } else {
        sources.add(new Remote(n.name(), n.apiAddress(), forwarded));
      }
    }
    return new Plan(sources, warnings);
  }

  /** One node's stream, read on the merging stream's thread for it. */
  private final class Remote implements EventStream.Source {
    private final String node;
    private final String address;
    private final EventsRequest request;
    private final Context.CancellableContext context = Context.ROOT.withCancellation();

    Remote(String node, String address, EventsRequest request) {
      this.node = node;
      this.address = address;
      this.request = request;
    }

    @Override
    public String name() {
      return node;
    }

    @Override
    public void run(EventStream.Feed feed) throws Exception {
      ManagedChannel channel;
      try {
        channel = channels.open(node, address);
      } catch (BerthException e) {
        throw new BerthException(e.kind(), "node " + node + ": " + e.getMessage(), e);
      }
      try {
        Metadata headers = new Metadata();
        headers.put(ContainerForwarder.FORWARDED_BY, self);
        headers.put(ContainerForwarder.FORWARDED_TO, node);
        EventServiceGrpc.EventServiceBlockingStub stub = EventServiceGrpc.newBlockingStub(channel)
            .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
        context.call(() -> {
          Iterator<dev.berth.proto.v1.Event> it = stub.stream(request);
          while (it.hasNext()) {
            dev.berth.proto.v1.Event e = it.next();
            if (e.getProgress()) {
              feed.progress(e.getTimeUnixNanos());
            } else {
              feed.event(EventMapper.fromProto(e));
            }
          }
          return null;
        });
      } catch (StatusRuntimeException e) {
        if (context.isCancelled()) {
          return;
        }
        Status s = e.getStatus();
        boolean answered = e.getTrailers() != null && e.getTrailers().get(ContainerForwarder.ANSWERED_BY) != null;
        throw new BerthException(BerthException.Kind.UNAVAILABLE, answered
            ? "node " + node + " answered " + s.getCode() + ": " + s.getDescription()
            : "node " + node + " at " + address + " cannot be reached (" + s.getCode()
                + (s.getDescription() != null ? ": " + s.getDescription() : "") + ")");
      } finally {
        channel.shutdownNow();
      }
    }

    @Override
    public void cancel() {
      context.cancel(null);
    }
  }
}
