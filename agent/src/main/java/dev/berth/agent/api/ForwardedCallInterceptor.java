package dev.berth.agent.api;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;

/**
 * The receiving side of {@link ContainerForwarder}: a call another agent forwarded is served with
 * {@link ContainerForwarder#FORWARDED} set (so it is never forwarded again) and answered with
 * {@link ContainerForwarder#ANSWERED_BY} in its trailers (so the forwarder can tell this agent's
 * own errors from a node it could not reach). A call forwarded to another node's name is refused:
 * that node registered an address that reaches this agent, and acting on a container of the same
 * name here would act on the wrong one.
 *
 * <p>Install it on every service that {@link ContainerForwarder} sends to, outside the {@link
 * ErrorInterceptor}: {@code ServerInterceptors.intercept(service, new ErrorInterceptor(), this)}.
 * Without it a forwarded call would look like a client's and could be forwarded on. Stateless.
 */
public final class ForwardedCallInterceptor implements ServerInterceptor {
  private final String node;

  /** @param node this agent's node name */
  public ForwardedCallInterceptor(String node) {
    this.node = node;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    String by = headers.get(ContainerForwarder.FORWARDED_BY);
    if (by == null) {
      return next.startCall(call, headers);
    }
    ServerCall<Q, R> answered = new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
      @Override
      public void close(Status status, Metadata trailers) {
        trailers.put(ContainerForwarder.ANSWERED_BY, node);
        super.close(status, trailers);
      }
    };
    String to = headers.get(ContainerForwarder.FORWARDED_TO);
    if (to != null && !to.equals(node)) {
      answered.close(Status.FAILED_PRECONDITION.withDescription("node " + by + " forwarded this request to node " + to
          + ", but this agent is node " + node + ": the API address node " + to + " registered reaches another agent; "
          + "give " + to + "'s berthd a --tcp address that is its own"), new Metadata());
      return new ServerCall.Listener<>() {};
    }
    return Contexts.interceptCall(Context.current().withValue(ContainerForwarder.FORWARDED, by), answered, headers, next);
  }
}
