package dev.berth.ctl;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.net.SocketException;
import java.net.SocketImpl;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;

/**
 * A {@link Socket} for OkHttp whose bytes travel over a unix-domain {@link SocketChannel}.
 *
 * <p>The streams call {@link SocketChannel#read} and {@link SocketChannel#write} directly: a
 * blocking channel has separate read and write locks, so OkHttp's reader thread, parked in
 * {@code read}, never holds up a writer. ({@code Channels.newInputStream} would: its streams
 * synchronize on the channel's {@code blockingLock}, and HTTP/2 over it deadlocks.)
 *
 * <p>The base class gets no {@link SocketImpl}, so no TCP descriptor is ever created; every
 * method OkHttp or gRPC's channelz touches (options, addresses, shutdown, close) is overridden
 * with a harmless answer. TCP-only options are accepted and ignored.
 */
final class UnixSocket extends Socket {
  private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

  private final Path path;
  private volatile SocketChannel channel;
  private volatile boolean closed;
  private volatile boolean inputShutdown;
  private volatile boolean outputShutdown;
  private int soTimeout;

  UnixSocket(Path path) throws SocketException {
    super((SocketImpl) null);
    this.path = path;
  }

  Path path() {
    return path;
  }

  /** Connects to the socket file; the endpoint (OkHttp's nominal TCP address) is ignored. */
  @Override
  public void connect(SocketAddress endpoint) throws IOException {
    connect(endpoint, 0);
  }

  @Override
  public void connect(SocketAddress endpoint, int timeout) throws IOException {
    if (closed) {
      throw new SocketException("Socket is closed");
    }
    if (channel != null) {
      throw new SocketException("already connected");
    }
    SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
    try {
      ch.connect(UnixDomainSocketAddress.of(path));
    } catch (IOException e) {
      ch.close();
      // ConnectException marks "nobody listens there" for the CLI's error message.
      ConnectException ce = new ConnectException(path + ": " + e.getMessage());
      ce.initCause(e);
      throw ce;
    }
    channel = ch;
  }

  private SocketChannel open() throws SocketException {
    SocketChannel ch = channel;
    if (closed) {
      throw new SocketException("Socket is closed");
    }
    if (ch == null) {
      throw new SocketException("Socket is not connected");
    }
    return ch;
  }

  @Override
  public InputStream getInputStream() throws IOException {
    SocketChannel ch = open();
    return new InputStream() {
      @Override
      public int read() throws IOException {
        byte[] one = new byte[1];
        int n = read(one, 0, 1);
        return n < 0 ? -1 : one[0] & 0xff;
      }

      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) {
          return 0;
        }
        if (inputShutdown) {
          return -1;
        }
        return ch.read(ByteBuffer.wrap(b, off, len));  // blocking: > 0 or -1
      }

      @Override
      public void close() throws IOException {
        UnixSocket.this.close();
      }
    };
  }

  @Override
  public OutputStream getOutputStream() throws IOException {
    SocketChannel ch = open();
    return new OutputStream() {
      @Override
      public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
      }

      @Override
      public void write(byte[] b, int off, int len) throws IOException {
        ByteBuffer buf = ByteBuffer.wrap(b, off, len);
        while (buf.hasRemaining()) {
          ch.write(buf);
        }
      }

      @Override
      public void close() throws IOException {
        UnixSocket.this.close();
      }
    };
  }

  @Override
  public void close() throws IOException {
    closed = true;
    SocketChannel ch = channel;
    if (ch != null) {
      ch.close();  // wakes a thread blocked in read with AsynchronousCloseException
    }
  }

  @Override
  public boolean isClosed() {
    return closed;
  }

  @Override
  public boolean isConnected() {
    return channel != null;
  }

  @Override
  public boolean isBound() {
    return channel != null;
  }

  @Override
  public void bind(SocketAddress bindpoint) {
    // a client unix socket needs no local name
  }

  @Override
  public void shutdownInput() throws IOException {
    inputShutdown = true;
    open().shutdownInput();
  }

  @Override
  public void shutdownOutput() throws IOException {
    outputShutdown = true;
    open().shutdownOutput();
  }

  @Override
  public boolean isInputShutdown() {
    return inputShutdown;
  }

  @Override
  public boolean isOutputShutdown() {
    return outputShutdown;
  }

  @Override
  public java.nio.channels.SocketChannel getChannel() {
    return null;  // like a plain Socket: the channel is an implementation detail here
  }

  // Addresses: OkHttp and channelz only log them. A unix peer has no InetAddress.

  @Override
  public InetAddress getInetAddress() {
    return LOOPBACK;
  }

  @Override
  public InetAddress getLocalAddress() {
    return LOOPBACK;
  }

  @Override
  public int getPort() {
    return 0;
  }

  @Override
  public int getLocalPort() {
    return -1;
  }

  @Override
  public SocketAddress getRemoteSocketAddress() {
    return UnixDomainSocketAddress.of(path);
  }

  @Override
  public SocketAddress getLocalSocketAddress() {
    return null;
  }

  // Options: TCP ones make no sense on a unix socket; accept and report defaults.

  @Override
  public void setTcpNoDelay(boolean on) {
  }

  @Override
  public boolean getTcpNoDelay() {
    return true;
  }

  @Override
  public synchronized void setSoTimeout(int timeout) {
    soTimeout = timeout;  // reads block until data or close; OkHttp sets 0 after connecting
  }

  @Override
  public synchronized int getSoTimeout() {
    return soTimeout;
  }

  @Override
  public void setSoLinger(boolean on, int linger) {
  }

  @Override
  public int getSoLinger() {
    return -1;
  }

  @Override
  public void setKeepAlive(boolean on) {
  }

  @Override
  public boolean getKeepAlive() {
    return false;
  }

  @Override
  public void setReuseAddress(boolean on) {
  }

  @Override
  public boolean getReuseAddress() {
    return false;
  }

  @Override
  public void setOOBInline(boolean on) {
  }

  @Override
  public boolean getOOBInline() {
    return false;
  }

  @Override
  public void sendUrgentData(int data) throws IOException {
    throw new SocketException("urgent data is not supported on a unix socket");
  }

  @Override
  public void setTrafficClass(int tc) {
  }

  @Override
  public int getTrafficClass() {
    return 0;
  }

  @Override
  public synchronized void setSendBufferSize(int size) {
  }

  @Override
  public synchronized int getSendBufferSize() {
    return 65536;
  }

  @Override
  public synchronized void setReceiveBufferSize(int size) {
  }

  @Override
  public synchronized int getReceiveBufferSize() {
    return 65536;
  }

  @Override
  public void setPerformancePreferences(int connectionTime, int latency, int bandwidth) {
  }

  @Override
  public java.util.Set<java.net.SocketOption<?>> supportedOptions() {
    return java.util.Set.of();
  }

  @Override
  public <T> Socket setOption(java.net.SocketOption<T> name, T value) {
    throw new UnsupportedOperationException("'" + name + "' not supported on a unix socket");
  }

  @Override
  public <T> T getOption(java.net.SocketOption<T> name) {
    throw new UnsupportedOperationException("'" + name + "' not supported on a unix socket");
  }

  @Override
  public String toString() {
    return "UnixSocket[" + path + (closed ? ", closed" : "") + "]";
  }
}
