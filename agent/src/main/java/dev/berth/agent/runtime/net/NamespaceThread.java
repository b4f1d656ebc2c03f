package dev.berth.agent.runtime.net;

import dev.berth.agent.BerthException;
import dev.berth.agent.runtime.Syscalls;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The one thread that visits other network namespaces ("berth-netns"), so that no other thread
 * of the agent ever leaves its own: setns and unshare move only the calling thread.
 *
 * <p>Its home is the namespace it was started in (that of the first caller). Work runs on it
 * one task at a time; {@link #enter} and {@link #unshared} always take it back home, and when
 * that fails the thread is stranded: it finishes the task it is on, is never given another, and
 * the next task starts a fresh thread. Thread-safe.
 */
final class NamespaceThread implements AutoCloseable {
  static final String NAME = "berth-netns";

  private final Syscalls syscalls;
  private ExecutorService executor;
  /** A descriptor of the current thread's home namespace, opened on it by its first task; -1 before. */
  private int homeFd = -1;
  /** Set on the thread when it could not return home; read by {@link #run} once the task is over. */
  private volatile boolean stranded;
  private boolean closed;

  NamespaceThread(Syscalls syscalls) {
    this.syscalls = syscalls;
  }

  /**
   * Runs {@code task} on the namespace thread and returns what it returns; what it throws
   * leaves as is (a checked exception wrapped in a BerthException INTERNAL). Waits for it
   * without giving up on interrupts, as namespace work is short, and leaves the interrupt set.
   */
  synchronized <T> T run(Callable<T> task) {
    if (closed) {
      throw new IllegalStateException(NAME + " is closed");
    }
    if (executor == null) {
      executor = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, NAME);
        t.setDaemon(true); // never what keeps the JVM alive
        return t;
      });
    }
    Future<T> future = executor.submit(() -> {
      if (homeFd < 0) {
        homeFd = syscalls.open(NetNamespaces.THREAD_NETNS, Syscalls.O_RDONLY);
      }
      return task.call();
    });
    try {
      return await(future);
    } finally {
      if (stranded) {
        retire();
      }
    }
  }

  /**
   * On the namespace thread: runs {@code work} inside the namespace {@code nsFd} refers to,
   * then goes home, whether it failed or not.
   */
  <T> T enter(int nsFd, Callable<T> work) throws Exception {
    checkOnThread();
    syscalls.setns(nsFd, Syscalls.CLONE_NEWNET); // when this fails the thread has not moved
    return thenHome(work);
  }

  /**
   * On the namespace thread: runs {@code work} inside a new network namespace, then goes home.
   * The namespace vanishes with the last thing holding it, unless {@code work} pins it.
   */
  <T> T unshared(Callable<T> work) throws Exception {
    checkOnThread();
    syscalls.unshare(Syscalls.CLONE_NEWNET);
    return thenHome(work);
  }

  @Override
  public synchronized void close() {
    closed = true;
    if (executor != null) {
      retire();
    }
  }

  private <T> T thenHome(Callable<T> work) throws Exception {
    T result;
    try {
      result = work.call();
    } catch (Exception | Error e) {
      try {
        goHome();
      } catch (RuntimeException home) {
        e.addSuppressed(home);
      }
      throw e;
    }
    goHome();
    return result;
  }

  private void goHome() {
    try {
      syscalls.setns(homeFd, Syscalls.CLONE_NEWNET);
    } catch (RuntimeException e) {
      stranded = true;
      throw BerthException.internal(NAME + " cannot return to its network namespace; it is replaced", e);
    }
  }

  /** Lets the current thread end after its task and forgets it; the next task starts another. */
  private void retire() {
    executor.shutdown();
    executor = null;
    stranded = false;
    if (homeFd >= 0) {
      int fd = homeFd;
      homeFd = -1;
      syscalls.close(fd);
    }
  }

  private static void checkOnThread() {
    if (!Thread.currentThread().getName().equals(NAME)) {
      throw new IllegalStateException("namespace switches belong on " + NAME + ", not on "
          + Thread.currentThread().getName());
    }
  }

  private static <T> T await(Future<T> future) {
    boolean interrupted = false;
    try {
      while (true) {
        try {
          return future.get();
        } catch (InterruptedException e) {
          interrupted = true;
        } catch (ExecutionException e) {
          Throwable cause = e.getCause();
          if (cause instanceof RuntimeException r) {
            throw r;
          }
          if (cause instanceof Error err) {
            throw err;
          }
          throw BerthException.internal(NAME + ": " + cause.getMessage(), cause);
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
