package dev.berth.agent;

import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Thread factories for the agent's own pools: daemon threads (a pool never keeps the JVM
 * alive once berthd is told to stop) with names that say whose they are in a thread dump.
 */
public final class DaemonThreads {
  private DaemonThreads() {}

  /** Every thread named {@code name}: for single-thread executors. */
  public static ThreadFactory named(String name) {
    return r -> {
      Thread t = new Thread(r, name);
      t.setDaemon(true);
      return t;
    };
  }

  /** Threads named {@code prefix1}, {@code prefix2}, …: for pools. */
  public static ThreadFactory numbered(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }
}
