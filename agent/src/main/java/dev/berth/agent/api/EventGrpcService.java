package dev.berth.agent.api;

import dev.berth.agent.BerthException;
import dev.berth.agent.events.Event;
import dev.berth.agent.events.EventLog;
import dev.berth.agent.events.EventStream;
import dev.berth.proto.v1.EventServiceGrpc;
import dev.berth.proto.v1.EventsRequest;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;

/**
 * The event API: validates the request, then streams this agent's events and, unless another
 * agent forwarded the call, every other registered node's ({@link EventPeers}), merged in time
 * order. The stream runs on the calling thread until it ends ({@code until} passed) or the
 * client cancels; the client's pace holds it (flow control), and with it the sources.
 */
public final class EventGrpcService extends EventServiceGrpc.EventServiceImplBase {
  private final EventLog log;
  private final EventPeers peers;
  private final EventStream streams;

  /** @param peers the other nodes; null: this agent's events only */
  public EventGrpcService(EventLog log, EventPeers peers, EventStream streams) {
    this.log = log;
    this.peers = peers;
    this.streams = streams;
  }

  @Override
  public void stream(EventsRequest req, StreamObserver<dev.berth.proto.v1.Event> out) {
    EventStream.Window w = window(req);
    ServerCallStreamObserver<dev.berth.proto.v1.Event> call = (ServerCallStreamObserver<dev.berth.proto.v1.Event>) out;
    Object ready = new Object();
    Runnable wake = () -> {
      synchronized (ready) {
        ready.notifyAll();
      }
    };
    call.setOnReadyHandler(wake);
    call.setOnCancelHandler(wake);
    List<EventStream.Source> sources = new ArrayList<>(List.of(EventStream.local(log, w)));
    List<Event> warnings = new ArrayList<>();
    if (peers != null && !ContainerForwarder.servingForwarded()) {
      EventPeers.Plan plan = peers.plan(req, streams);
      sources.addAll(plan.sources());
      warnings.addAll(plan.warnings());
    }
    boolean[] broken = {false};
    EventStream.Output output = new EventStream.Output() {
      @Override
      public void send(Event e) {
        put(EventMapper.toProto(e));
      }

      @Override
      public void progress(long watermark) {
        if (req.getProgress()) {
          put(EventMapper.progress(log.source(), watermark));
        }
      }

      @Override
      public boolean cancelled() {
        return broken[0] || call.isCancelled();
      }

      private void put(dev.berth.proto.v1.Event e) {
        synchronized (ready) {
          // The client's pace: wait for room rather than buffer without bound.
          while (!call.isReady() && !call.isCancelled()) {
            try {
              ready.wait(100);
            } catch (InterruptedException ex) {
              Thread.currentThread().interrupt();
              broken[0] = true;
              return;
            }
          }
        }
        try {
          if (!call.isCancelled()) {
            call.onNext(e);
          }
        } catch (StatusRuntimeException ex) {
          broken[0] = true;  // the client went away
        }
      }
    };
    try {
      streams.run(sources, warnings, output);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    }
    if (!call.isCancelled() && !broken[0]) {
      call.onCompleted();
    }
  }

  /** @throws BerthException INVALID_ARGUMENT for a bad filter or time */
  static EventStream.Window window(EventsRequest req) {
    long since = req.getSinceUnixNanos();
    long until = req.getUntilUnixNanos();
    if (since < 0 || until < 0) {
      throw BerthException.invalid("since and until cannot be before 1970");
    }
    if (until > 0 && until < since) {
      throw BerthException.invalid("until (" + until + ") is before since (" + since + ")");
    }
    // As docker: no since but an until reads from the oldest event kept.
    return new EventStream.Window(since == 0 && until == 0, since, until, EventMapper.filter(req));
  }
}
