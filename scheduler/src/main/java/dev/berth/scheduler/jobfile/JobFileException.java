package dev.berth.scheduler.jobfile;

/**
 * A job file that cannot be accepted: where ({@code job.yaml:7:5}) and why. Unchecked: the
 * caller maps it to its invalid-argument error in one place; nothing is stored for a job that
 * throws it.
 */
public final class JobFileException extends IllegalArgumentException {

  private static final long serialVersionUID = 1L;

  private final String source;
  private final int line;
  private final int column;
  private final String reason;

  /**
   * @param source the file's name as the user gave it
   * @param line   1-based, or 0 when unknown
   * @param column 1-based, or 0 when unknown
   * @param reason what is wrong, in words the user can act on
   */
  public JobFileException(String source, int line, int column, String reason) {
    super(source + (line > 0 ? ":" + line + (column > 0 ? ":" + column : "") : "") + ": "
        + reason);
    this.source = source;
    this.line = line;
    this.column = column;
    this.reason = reason;
  }

  public String source() {
    return source;
  }

  public int line() {
    return line;
  }

  public int column() {
    return column;
  }

  public String reason() {
    return reason;
  }
}
