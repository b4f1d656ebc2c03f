package dev.berth.agent.runtime;

import java.io.EOFException;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/**
 * One connection to a container's shim ({@code shim.sock}), speaking its framed protocol:
 * a type byte, a 4-byte big-endian length, the payload (see the launcher's README).
 *
 * <p>Threading: one thread may read while another writes; writes are serialised.
 */
public final class ShimConnection implements AutoCloseable {
  /** A frame from the shim. */
  public record Frame(byte type, byte[] payload) {
    public int int32(int offset) {
      return ByteBuffer.wrap(payload).getInt(offset);
    }

    public String text() {
      return new String(payload, StandardCharsets.UTF_8);
    }
  }

  public static final byte WATCH = 'W';
  public static final byte ATTACH = 'A';
  public static final byte START = 'S';
  public static final byte STDIN = 'I';
  public static final byte CLOSE_STDIN = 'C';
  public static final byte RESIZE = 'R';
  public static final byte KILL = 'K';
  public static final byte EXEC = 'X';

  public static final byte STDOUT = 'O';
  public static final byte STDERR = 'E';
  public static final byte PID = 'P';
  public static final byte FAILURE = 'F';
  public static final byte EXIT = 'x';

  private final SocketChannel channel;
  private final Object writeLock = new Object();

  private ShimConnection(SocketChannel channel) {
    this.channel = channel;
  }

  /** Connects to the shim listening on {@code socket}. */
  public static ShimConnection open(Path socket) throws IOException {
    SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(socket));
    return new ShimConnection(ch);
  }

  public void send(byte type, byte[] payload) throws IOException {
    ByteBuffer buf = ByteBuffer.allocate(5 + payload.length);
    buf.put(type).putInt(payload.length).put(payload).flip();
    synchronized (writeLock) {
      while (buf.hasRemaining()) {
        channel.write(buf);
      }
    }
  }

  public void send(byte type) throws IOException {
    send(type, new byte[0]);
  }

  public void kill(int signal) throws IOException {
    send(KILL, ByteBuffer.allocate(4).putInt(signal).array());
  }

  public void resize(int rows, int cols) throws IOException {
    send(RESIZE, ByteBuffer.allocate(4).putShort((short) rows).putShort((short) cols).array());
  }

  public void attach(boolean stdin) throws IOException {
    send(ATTACH, new byte[] {(byte) (stdin ? 1 : 0)});
  }

  /** Asks the shim to run a process in the container; {@code fields} are the X frame's key=value strings. */
  public void exec(List<String> fields) throws IOException {
    StringBuilder b = new StringBuilder();
    for (String f : fields) {
      if (f.indexOf('\0') >= 0) {
        throw new IllegalArgumentException("a NUL byte in an exec argument: " + f.replace('\0', '?'));
      }
      b.append(f).append('\0');
    }
    send(EXEC, b.toString().getBytes(StandardCharsets.UTF_8));
  }

  /** Blocks for the next frame; throws EOFException when the shim closed the connection. */
  public Frame read() throws IOException {
    ByteBuffer head = ByteBuffer.allocate(5);
    readFully(head);
    head.flip();
    byte type = head.get();
    int len = head.getInt();
    if (len < 0 || len > (16 << 20)) {
      throw new IOException("bad frame from shim: length " + len);
    }
    ByteBuffer body = ByteBuffer.allocate(len);
    readFully(body);
    return new Frame(type, body.array());
  }

  private void readFully(ByteBuffer buf) throws IOException {
    while (buf.hasRemaining()) {
      if (channel.read(buf) < 0) {
        throw new EOFException("shim closed the connection");
      }
    }
  }

  /** Closes our sending side only: the shim sees EOF from this client but can still answer. */
  public void shutdownOutput() throws IOException {
    channel.shutdownOutput();
  }

  @Override
  public void close() {
    try {
      channel.close();
    } catch (IOException ignored) {
      // nothing to release beyond the descriptor
    }
  }
}
