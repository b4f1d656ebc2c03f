package dev.berth.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A userland TCP relay in the manner of Docker's docker-proxy: it accepts on one address and,
 * for each connection, dials the target and copies bytes both ways, one blocking copy loop per
 * direction, through a buffer in user space. A half-close is passed on (EOF from one side
 * becomes a shutdown of output towards the other), so request/response protocols that end with
 * a half-close work through it.
 *
 * <p>The copy loops run on a cached pool of daemon threads, reused between connections as Go
 * reuses goroutine stacks; docker-proxy's {@code io.Copy} between two TCP connections uses
 * splice(2) on Linux, which this Java relay cannot: every byte is read into and written out of
 * user memory, so it is the classic proxy, not docker-proxy's exact cost.
 *
 * <p>CPU: {@link #cpuNanos()} is the CPU time of the relay's threads (the accept thread and
 * every copy loop that has ended), from {@link ThreadMXBean}; call it when {@link #awaitIdle}
 * returned true so that no copy loop is still running. Thread-safe. {@link #close()} stops
 * accepting and closes the connections still open.
 */
final class TcpRelay implements AutoCloseable {
  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

  private final ServerSocketChannel server;
  private final InetSocketAddress target;
  private final int bufferBytes;
  private final ExecutorService pool = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "relay-copy");
    t.setDaemon(true);
    return t;
  });
  private final Thread acceptor;
  private final AtomicInteger open = new AtomicInteger();
  private final AtomicLong finishedCpu = new AtomicLong();

  /** Listens on {@code listen} (port 0: a free one) and relays every connection to {@code target}. */
  TcpRelay(InetSocketAddress listen, InetSocketAddress target, int bufferBytes) throws IOException {
    this.server = ServerSocketChannel.open().bind(listen, 64);
    this.target = target;
    this.bufferBytes = bufferBytes;
    this.acceptor = new Thread(this::acceptLoop, "relay-accept");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  InetSocketAddress address() throws IOException {
    return (InetSocketAddress) server.getLocalAddress();
  }

  /** CPU time of the relay's threads so far (see the class comment), in nanoseconds. */
  long cpuNanos() {
    long a = THREADS.getThreadCpuTime(acceptor.getId());
    return finishedCpu.get() + Math.max(0, a);
  }

  /** Waits until no relayed connection is open; false after {@code timeoutMillis}. */
  boolean awaitIdle(long timeoutMillis) throws InterruptedException {
    long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
    while (open.get() > 0) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      Thread.sleep(1);
    }
    return true;
  }

  private void acceptLoop() {
    while (server.isOpen()) {
      SocketChannel client;
      try {
        client = server.accept();
      } catch (IOException e) {
        return; // closed
      }
      open.incrementAndGet();
      pool.execute(() -> relay(client));
    }
  }

  /** Dials the target, then copies upstream here and downstream on a second pool thread. */
  private void relay(SocketChannel client) {
    long cpu0 = THREADS.getCurrentThreadCpuTime();
    SocketChannel upstream = null;
    try {
      upstream = SocketChannel.open();
      // Go, and so docker-proxy, sets TCP_NODELAY on every TCP connection.
      upstream.setOption(StandardSocketOptions.TCP_NODELAY, true);
      client.setOption(StandardSocketOptions.TCP_NODELAY, true);
      upstream.connect(target);
      SocketChannel up = upstream;
      AtomicInteger directions = new AtomicInteger(2);
      pool.execute(() -> {
        long c0 = THREADS.getCurrentThreadCpuTime();
        copy(up, client);
        finishedCpu.addAndGet(THREADS.getCurrentThreadCpuTime() - c0);
        finish(directions, client, up);
      });
      copy(client, upstream);
      finishedCpu.addAndGet(THREADS.getCurrentThreadCpuTime() - cpu0);
      finish(directions, client, upstream);
    } catch (IOException e) {
      closeQuietly(client);
      closeQuietly(upstream);
      finishedCpu.addAndGet(THREADS.getCurrentThreadCpuTime() - cpu0);
      open.decrementAndGet();
    }
  }

  /** The second direction to end closes both connections and counts the connection as done. */
  private void finish(AtomicInteger directions, SocketChannel a, SocketChannel b) {
    if (directions.decrementAndGet() == 0) {
      closeQuietly(a);
      closeQuietly(b);
      open.decrementAndGet();
    }
  }

  /** Copies until EOF, then shuts down {@code to}'s output; on an error closes both. */
  private void copy(SocketChannel from, SocketChannel to) {
    ByteBuffer buf = ByteBuffer.allocateDirect(bufferBytes);
    try {
      while (from.read(buf) >= 0) {
        buf.flip();
        while (buf.hasRemaining()) {
          to.write(buf);
        }
        buf.clear();
      }
      to.shutdownOutput();
    } catch (ClosedChannelException e) {
      // the other direction failed and closed both
    } catch (IOException e) {
      closeQuietly(from);
      closeQuietly(to);
    }
  }

  private static void closeQuietly(SocketChannel c) {
    if (c != null) {
      try {
        c.close();
      } catch (IOException e) {
        // nothing left to do
      }
    }
  }

  @Override
  public void close() throws IOException {
    server.close();
    pool.shutdownNow();
  }
}
