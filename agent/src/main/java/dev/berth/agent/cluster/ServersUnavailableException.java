package dev.berth.agent.cluster;

import dev.berth.agent.BerthException;

/**
 * The cluster's servers did not answer: no quorum within the store's timeout, a Raft leader's
 * death until the session finds the next one, every server unreachable. {@code UNAVAILABLE}, and
 * unlike a refusal it says nothing about the request itself: the same request may succeed once
 * the servers answer again, so a caller that can wait (a node starting an allocation) waits
 * rather than failing what it was doing.
 */
public final class ServersUnavailableException extends BerthException {
  private static final long serialVersionUID = 1L;

  public ServersUnavailableException(String message, Throwable cause) {
    super(Kind.UNAVAILABLE, message, cause);
  }
}
