package dev.berth.agent.runtime;

/** A failed system call, with its errno. */
public final class SyscallException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final String call;
  private final int errno;

  public SyscallException(String call, int errno, String detail) {
    super(call + ": " + detail + " (errno " + errno + ")");
    this.call = call;
    this.errno = errno;
  }

  public String call() {
    return call;
  }

  public int errno() {
    return errno;
  }
}
