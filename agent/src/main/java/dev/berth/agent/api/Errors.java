package dev.berth.agent.api;

import dev.berth.agent.BerthException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.logging.Level;
import java.util.logging.Logger;

/** The one place where domain errors become gRPC statuses. */
public final class Errors {
  private static final Logger LOG = Logger.getLogger(Errors.class.getName());

  private Errors() {}

  public static Status status(Throwable t) {
    if (t instanceof StatusRuntimeException s) {
      return s.getStatus();
    }
    if (t instanceof BerthException e) {
      Status.Code code = switch (e.kind()) {
        case NOT_FOUND -> Status.Code.NOT_FOUND;
        case ALREADY_EXISTS -> Status.Code.ALREADY_EXISTS;
        case INVALID_ARGUMENT -> Status.Code.INVALID_ARGUMENT;
        case FAILED_PRECONDITION -> Status.Code.FAILED_PRECONDITION;
        case PERMISSION_DENIED -> Status.Code.PERMISSION_DENIED;
        case RESOURCE_EXHAUSTED -> Status.Code.RESOURCE_EXHAUSTED;
        case UNAVAILABLE -> Status.Code.UNAVAILABLE;
        case INTERNAL -> Status.Code.INTERNAL;
      };
      if (code == Status.Code.INTERNAL) {
        LOG.log(Level.WARNING, e.getMessage(), e);
      }
      return Status.fromCode(code).withDescription(e.getMessage());
    }
    if (t instanceof java.util.concurrent.CancellationException) {
      return Status.CANCELLED.withDescription(t.getMessage());
    }
    LOG.log(Level.SEVERE, "unexpected error", t);
    return Status.INTERNAL.withDescription(t.getClass().getSimpleName() + ": " + t.getMessage());
  }

  public static StatusRuntimeException toGrpc(Throwable t) {
    return status(t).asRuntimeException();
  }
}
