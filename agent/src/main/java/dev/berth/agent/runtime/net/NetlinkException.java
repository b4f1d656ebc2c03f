package dev.berth.agent.runtime.net;

import dev.berth.agent.BerthException;

/**
 * A request the kernel refused over netlink, with its errno. The message names what was
 * asked and why it failed, as a user reads it: {@code cannot create bridge "berth0": File
 * exists}. The kind follows the errno: EEXIST is ALREADY_EXISTS, ENODEV (no such link) is
 * NOT_FOUND, and so on; an errno without a closer kind is INTERNAL.
 */
public final class NetlinkException extends BerthException {
  private static final long serialVersionUID = 1L;

  static final int EPERM = 1;
  static final int ENOENT = 2;
  static final int ESRCH = 3;
  static final int EBADF = 9;
  static final int ENOMEM = 12;
  static final int EACCES = 13;
  static final int EBUSY = 16;
  static final int EEXIST = 17;
  static final int ENODEV = 19;
  static final int EINVAL = 22;
  static final int ERANGE = 34;
  static final int EMSGSIZE = 90;
  static final int EOPNOTSUPP = 95;
  static final int EAFNOSUPPORT = 97;
  static final int EADDRINUSE = 98;
  static final int EADDRNOTAVAIL = 99;
  static final int ENETUNREACH = 101;
  static final int ENOBUFS = 105;

  private final int errno;

  NetlinkException(String action, int errno) {
    super(kind(errno), action + ": " + describe(errno));
    this.errno = errno;
  }

  /** The errno the kernel answered, positive. */
  public int errno() {
    return errno;
  }

  /** Whether the kernel said that the link named does not exist. */
  public boolean isNoSuchLink() {
    return errno == ENODEV;
  }

  private static Kind kind(int errno) {
    return switch (errno) {
      case EEXIST, EADDRINUSE -> Kind.ALREADY_EXISTS;
      case ENODEV, ENOENT, ESRCH -> Kind.NOT_FOUND;
      case EINVAL, ERANGE, EOPNOTSUPP, EAFNOSUPPORT, EADDRNOTAVAIL -> Kind.INVALID_ARGUMENT;
      case EPERM, EACCES, EBUSY, ENETUNREACH -> Kind.FAILED_PRECONDITION;
      case ENOMEM, ENOBUFS -> Kind.RESOURCE_EXHAUSTED;
      default -> Kind.INTERNAL;
    };
  }

  /**
   * The C library's text for the errnos rtnetlink answers with, so that messages read the same
   * with the real kernel and with a fake one; others are shown by number.
   */
  static String describe(int errno) {
    return switch (errno) {
      case EPERM -> "Operation not permitted";
      case ENOENT -> "No such file or directory";
      case ESRCH -> "No such process";
      case EBADF -> "Bad file descriptor";
      case ENOMEM -> "Cannot allocate memory";
      case EACCES -> "Permission denied";
      case EBUSY -> "Device or resource busy";
      case EEXIST -> "File exists";
      case ENODEV -> "No such device";
      case EINVAL -> "Invalid argument";
      case ERANGE -> "Numerical result out of range";
      case EMSGSIZE -> "Message too long";
      case EOPNOTSUPP -> "Operation not supported";
      case EAFNOSUPPORT -> "Address family not supported by protocol";
      case EADDRINUSE -> "Address already in use";
      case EADDRNOTAVAIL -> "Cannot assign requested address";
      case ENETUNREACH -> "Network is unreachable";
      case ENOBUFS -> "No buffer space available";
      default -> "errno " + errno;
    };
  }
}
