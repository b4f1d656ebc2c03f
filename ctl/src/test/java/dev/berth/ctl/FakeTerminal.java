package dev.berth.ctl;

import dev.berth.proto.v1.TerminalSize;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

/** A terminal for tests: a fixed size, and counters for raw mode. */
final class FakeTerminal implements Terminal {
  volatile boolean terminal;
  volatile TerminalSize size = TerminalSize.newBuilder().setRows(24).setCols(80).build();
  final AtomicInteger raw = new AtomicInteger();
  final AtomicInteger restored = new AtomicInteger();
  final CountDownLatch resizeRegistered = new CountDownLatch(1);
  volatile Runnable resizeListener;

  @Override
  public boolean isTerminal() {
    return terminal;
  }

  @Override
  public TerminalSize size() {
    return size;
  }

  @Override
  public Runnable makeRaw() {
    raw.incrementAndGet();
    return restored::incrementAndGet;
  }

  @Override
  public void onResize(Runnable listener) {
    resizeListener = listener;
    resizeRegistered.countDown();
  }

  /** The sig-proxy listener the CLI registered, if any; a test raises a signal through it. */
  volatile java.util.function.Consumer<String> signalListener;

  @Override
  public void onSignals(java.util.function.Consumer<String> listener) {
    signalListener = listener;
  }
}
