package dev.berth.agent;

/**
 * The one domain error of the agent. Its {@link Kind} is mapped to a gRPC status in exactly
 * one place ({@code dev.berth.agent.api.Errors}); the message is shown to the user as is, so
 * it names the thing and the reason.
 */
public class BerthException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** The small vocabulary of what went wrong, independent of transport. */
  public enum Kind {
    NOT_FOUND,
    ALREADY_EXISTS,
    INVALID_ARGUMENT,
    FAILED_PRECONDITION,
    /** The caller is known but may not have this (e.g. another node's credential). */
    PERMISSION_DENIED,
    RESOURCE_EXHAUSTED,
    UNAVAILABLE,
    INTERNAL
  }

  private final Kind kind;

  public BerthException(Kind kind, String message) {
    super(message);
    this.kind = kind;
  }

  public BerthException(Kind kind, String message, Throwable cause) {
    super(message, cause);
    this.kind = kind;
  }

  public Kind kind() {
    return kind;
  }

  public static BerthException notFound(String message) {
    return new BerthException(Kind.NOT_FOUND, message);
  }

  public static BerthException alreadyExists(String message) {
    return new BerthException(Kind.ALREADY_EXISTS, message);
  }

  public static BerthException invalid(String message) {
    return new BerthException(Kind.INVALID_ARGUMENT, message);
  }

  public static BerthException failedPrecondition(String message) {
    return new BerthException(Kind.FAILED_PRECONDITION, message);
  }

  public static BerthException permissionDenied(String message) {
    return new BerthException(Kind.PERMISSION_DENIED, message);
  }

  public static BerthException internal(String message, Throwable cause) {
    return new BerthException(Kind.INTERNAL, message, cause);
  }
}
