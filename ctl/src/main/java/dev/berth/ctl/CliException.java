package dev.berth.ctl;

/** A failure with a message for the user and the exit code it stands for. */
final class CliException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  final int exitCode;

  CliException(String message, int exitCode) {
    super(message, null, false, false);
    this.exitCode = exitCode;
  }
}
