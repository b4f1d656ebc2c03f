package dev.berth.agent.runtime;

import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Learns when containers exit: one watch connection per running container's shim, all on
 * one selector thread, so a thousand running containers cost one thread. The callback runs
 * on the watcher thread once the shim reported the exit or went away; it must not block for
 * long (hand heavy work to an executor).
 */
public final class ShimWatcher implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(ShimWatcher.class.getName());

  private final Selector selector;
  private final Thread thread;
  private final Queue<Runnable> pending = new ConcurrentLinkedQueue<>();
  private volatile boolean closed;

  private record Watch(Runnable onExit, ByteBuffer buf) {}

  public ShimWatcher() throws IOException {
    selector = Selector.open();
    thread = new Thread(this::loop, "berth-shim-watcher");
    thread.setDaemon(true);
    thread.start();
  }

  /**
   * Watches the shim at {@code socket}; {@code onExit} runs once, when the container exited
   * or the shim vanished. Throws IOException when the shim cannot be reached at all (it has
   * already gone): the caller decides what that means.
   */
  public void watch(Path socket, Runnable onExit) throws IOException {
    SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(socket));
    ByteBuffer frame = ByteBuffer.allocate(5).put(ShimConnection.WATCH).putInt(0).flip();
    while (frame.hasRemaining()) {
      ch.write(frame);
    }
    ch.configureBlocking(false);
    pending.add(() -> {
      try {
        ch.register(selector, SelectionKey.OP_READ, new Watch(onExit, ByteBuffer.allocate(4096)));
      } catch (IOException e) {
        finish(ch, onExit);
      }
    });
    selector.wakeup();
  }

  private void loop() {
    try {
      while (!closed) {
        selector.select();
        Runnable r;
        while ((r = pending.poll()) != null) {
          r.run();
        }
        for (SelectionKey key : selector.selectedKeys()) {
          onReadable(key);
        }
        selector.selectedKeys().clear();
      }
    } catch (IOException | ClosedSelectorException e) {
      if (!closed) {
        LOG.log(Level.SEVERE, "shim watcher stopped", e);
      }
    }
  }

  private void onReadable(SelectionKey key) {
    SocketChannel ch = (SocketChannel) key.channel();
    Watch w = (Watch) key.attachment();
    try {
      w.buf().clear();
      int n = ch.read(w.buf());
      // Any frame on a watch connection is the exit ('x'); the shim closes right after it.
      if (n != 0) {
        key.cancel();
        finish(ch, w.onExit());
      }
    } catch (IOException e) {
      key.cancel();
      finish(ch, w.onExit());
    }
  }

  private static void finish(SocketChannel ch, Runnable onExit) {
    try {
      ch.close();
    } catch (IOException ignored) {
      // already gone
    }
    try {
      onExit.run();
    } catch (RuntimeException e) {
      LOG.log(Level.SEVERE, "exit handler failed", e);
    }
  }

  @Override
  public void close() throws IOException {
    closed = true;
    selector.close();
  }
}
