package dev.berth.agent.runtime.net;

import dev.berth.agent.BerthException;
import dev.berth.agent.runtime.SyscallException;
import dev.berth.agent.runtime.Syscalls;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.function.Function;

/**
 * Network namespaces pinned by files, as {@code ip netns add} makes them but without starting a
 * process: a namespace lives as long as its nsfs file is bind-mounted on its pin, whether or
 * not a process is in it, and the pin is what the launcher later hands to setns for a container.
 *
 * <p>Everything that has to be inside a namespace happens on one dedicated daemon thread
 * ({@value NamespaceThread#NAME}), which always returns to the agent's namespace before it does
 * anything else, and is replaced when it cannot; no other thread of the agent ever moves.
 * Work in a namespace is done through objects made while visiting it, which stay bound to it:
 * a {@link Netlink} socket ({@link #netlink}, {@link #inside}), or whatever {@link #call} makes.
 *
 * <p>Thread-safe; visits are one at a time. {@link #close} when the agent stops: it ends the
 * thread, not the namespaces.
 */
public final class NetNamespaces implements AutoCloseable {
  /** The calling thread's network namespace. */
  static final Path THREAD_NETNS = Path.of("/proc/thread-self/ns/net");
  private static final int ENOENT = 2;
  private static final int EINVAL = 22;

  private final Syscalls syscalls;
  /** Package-private so that tests can ask where the thread is between visits. */
  final NamespaceThread thread;

  public NetNamespaces(Syscalls syscalls) {
    this.syscalls = syscalls;
    this.thread = new NamespaceThread(syscalls);
  }

  /**
   * Creates a network namespace pinned at {@code pin}, an empty file this creates (its directory
   * must exist), with {@code lo} up and nothing else in it.
   *
   * <p>On failure nothing is left: the bind mount is undone and the file removed.
   *
   * @throws BerthException ALREADY_EXISTS when {@code pin} exists
   */
  public void create(Path pin) {
    try {
      Files.createFile(pin);
    } catch (FileAlreadyExistsException e) {
      throw BerthException.alreadyExists("cannot create network namespace " + pin + ": the file exists");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create network namespace pin " + pin, e);
    }
    try {
      thread.run(() -> thread.unshared(() -> {
        syscalls.mount(THREAD_NETNS.toString(), pin, null, Syscalls.MS_BIND, null);
        try (Netlink netlink = Netlink.open(syscalls)) {
          netlink.setUp("lo", true);
        } catch (RuntimeException e) {
          unmount(pin, e);
          throw e;
        }
        return null;
      }));
    } catch (RuntimeException | Error e) {
      // A mount made before a failure to return home is still there: undo it too.
      unmount(pin, e);
      try {
        Files.deleteIfExists(pin);
      } catch (IOException io) {
        e.addSuppressed(io);
      }
      throw e;
    }
  }

  /**
   * Removes the namespace pinned at {@code pin}: unmounts it (lazily, MNT_DETACH) and deletes
   * the file. The namespace itself goes once nothing else holds it (a process in it, an open
   * socket or descriptor of it), and the links in it with it. Nothing to do for what is gone
   * already, so this may be called any number of times.
   */
  public void delete(Path pin) {
    try {
      syscalls.umount(pin, Syscalls.MNT_DETACH);
    } catch (SyscallException e) {
      if (e.errno() == ENOENT) {
        return;
      }
      if (e.errno() != EINVAL) { // EINVAL: not mounted, as left by a crash halfway through create
        throw e;
      }
    }
    try {
      Files.deleteIfExists(pin);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot remove network namespace pin " + pin, e);
    }
  }

  /**
   * An rtnetlink socket inside the namespace pinned at {@code pin}, usable from any thread; the
   * caller closes it.
   *
   * @throws BerthException NOT_FOUND when {@code pin} does not exist, FAILED_PRECONDITION when it
   *     pins no network namespace
   */
  public Netlink netlink(Path pin) {
    return call(pin, () -> Netlink.open(syscalls), Netlink::close);
  }

  /**
   * Runs {@code work} on the calling thread with an rtnetlink socket inside the namespace pinned
   * at {@code pin}, closed afterwards; returns what it returns.
   */
  public <T> T inside(Path pin, Function<Netlink, T> work) {
    try (Netlink netlink = netlink(pin)) {
      return work.apply(netlink);
    }
  }

  /**
   * Runs {@code work} on the namespace thread while it is inside the namespace pinned at
   * {@code pin}, and returns what it returns: sockets it makes belong to that namespace for
   * their life (a listener, a client connection), as does a process it starts. It must be
   * short and must not start threads, which would be born in that namespace and stay there.
   *
   * @throws BerthException NOT_FOUND when {@code pin} does not exist, FAILED_PRECONDITION when it
   *     pins no network namespace
   */
  public <T> T call(Path pin, Callable<T> work) {
    return call(pin, work, made -> { });
  }

  /** Ends the namespace thread; the namespaces stay. */
  @Override
  public void close() {
    thread.close();
  }

  /**
   * A read-only descriptor of the namespace file {@code pin}, for setns or IFLA_NET_NS_FD; the
   * caller closes it.
   */
  static int openPin(Syscalls syscalls, Path pin) {
    try {
      return syscalls.open(pin, Syscalls.O_RDONLY);
    } catch (SyscallException e) {
      if (e.errno() == ENOENT) {
        throw BerthException.notFound("no network namespace " + pin + ": the file does not exist");
      }
      throw e;
    }
  }

  /** Visits the namespace of {@code pin} for {@code work}; what it made is discarded if the thread cannot return. */
  private <T> T call(Path pin, Callable<T> work, java.util.function.Consumer<T> discard) {
    int fd = openPin(syscalls, pin);
    try {
      Object[] made = {null};
      try {
        return thread.run(() -> thread.enter(fd, () -> {
          T result = work.call();
          made[0] = result;
          return result;
        }));
      } catch (RuntimeException | Error e) {
        if (made[0] != null) {
          @SuppressWarnings("unchecked")
          T result = (T) made[0];
          discard.accept(result);
        }
        if (e instanceof SyscallException s && s.call().equals("setns") && s.errno() == EINVAL
            && made[0] == null) {
          throw BerthException.failedPrecondition(pin + " pins no network namespace: " + s.getMessage());
        }
        throw e;
      }
    } finally {
      syscalls.close(fd);
    }
  }

  private void unmount(Path pin, Throwable failure) {
    try {
      syscalls.umount(pin, Syscalls.MNT_DETACH);
    } catch (RuntimeException e) {
      if (!(e instanceof SyscallException s && (s.errno() == EINVAL || s.errno() == ENOENT))) {
        failure.addSuppressed(e);
      }
    }
  }
}
