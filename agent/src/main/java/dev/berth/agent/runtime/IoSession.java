package dev.berth.agent.runtime;

import java.io.EOFException;
import java.io.IOException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * A live attachment to a container's stdio, or an exec'd process: output flows to the
 * {@link Sink} from a reader thread of its own, input goes through the methods here.
 * Closing it detaches; it never stops the container.
 */
public final class IoSession implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(IoSession.class.getName());

  /** Where the output of a session goes. Called from the session's reader thread only. */
  public interface Sink {
    void stdout(byte[] data);

    void stderr(byte[] data);

    /** The last call: the process ended (or the session broke). */
    void exit(ExitStatus status);
  }

  /** How a process ended, as reported to a client. */
  public record ExitStatus(int exitCode, boolean oomKilled, boolean exitUnknown, String error) {}

  private final ShimConnection conn;
  private final Thread reader;

  /**
   * Starts reading from {@code conn}. {@code onExit} turns the shim's exit frame (exit code,
   * failure message or null) into the status reported to the sink; it may block until the
   * runtime has recorded the exit.
   */
  IoSession(ShimConnection conn, Sink sink, String name, ExitMapper onExit) {
    this.conn = conn;
    this.reader = new Thread(() -> pump(sink, onExit), name);
    reader.setDaemon(true);
  }

  /** Maps the shim's final frames to what the client sees. */
  interface ExitMapper {
    ExitStatus map(Integer exitCode, String failure);
  }

  void start() {
    reader.start();
  }

  /**
   * A session whose process never ran: the sink gets the exit with {@code message} as its
   * error, as the shim reports a failed start. Input is ignored.
   */
  static IoSession failed(Sink sink, int exitCode, String message) {
    IoSession s = new IoSession(null, sink, "berth-failed-start", null);
    Thread t = new Thread(() -> sink.exit(new ExitStatus(exitCode, false, false, message)), "berth-failed-start");
    t.setDaemon(true);
    t.start();
    return s;
  }

  private void pump(Sink sink, ExitMapper onExit) {
    String failure = null;
    Integer code = null;
    try {
      while (true) {
        ShimConnection.Frame f = conn.read();
        switch (f.type()) {
          case ShimConnection.STDOUT -> sink.stdout(f.payload());
          case ShimConnection.STDERR -> sink.stderr(f.payload());
          case ShimConnection.FAILURE -> failure = f.text();
          case ShimConnection.EXIT -> code = f.int32(0);
          default -> { } // P and future frame types carry nothing a client needs
        }
        if (code != null) {
          break;
        }
      }
    } catch (EOFException e) {
      // the shim went away without an exit frame: the mapper decides what that means
    } catch (IOException e) {
      LOG.log(Level.FINE, "session read failed", e);
    }
    conn.close();
    ExitStatus status;
    try {
      status = onExit.map(code, failure);
    } catch (RuntimeException e) {
      status = new ExitStatus(-1, false, true, e.getMessage());
    }
    sink.exit(status);
  }

  public void stdin(byte[] data) throws IOException {
    if (conn == null) {
      return;
    }
    conn.send(ShimConnection.STDIN, data);
  }

  public void closeStdin() throws IOException {
    if (conn == null) {
      return;
    }
    conn.send(ShimConnection.CLOSE_STDIN);
  }

  public void resize(int rows, int cols) throws IOException {
    if (conn == null) {
      return;
    }
    conn.resize(rows, cols);
  }

  void send(byte type) throws IOException {
    conn.send(type);
  }

  @Override
  public void close() {
    if (conn != null) {
      conn.close();
    }
  }

}
