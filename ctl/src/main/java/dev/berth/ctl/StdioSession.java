package dev.berth.ctl;

import com.google.protobuf.ByteString;
import dev.berth.proto.v1.AttachInput;
import dev.berth.proto.v1.AttachOpen;
import dev.berth.proto.v1.AttachOutput;
import dev.berth.proto.v1.ExecInput;
import dev.berth.proto.v1.ExecSpec;
import dev.berth.proto.v1.ExitStatus;
import dev.berth.proto.v1.KillContainerRequest;
import dev.berth.proto.v1.TerminalSize;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.util.concurrent.CountDownLatch;

/**
 * One Attach or Exec stream: copies the process's stdout and stderr frames to ours as raw bytes,
 * forwards our stdin (respecting HTTP/2 flow control) and terminal resizes, and returns the
 * final {@link ExitStatus}. With a tty on a real terminal, the local terminal is raw meanwhile.
 *
 * @param <I> the request message type, {@link AttachInput} or {@link ExecInput}
 */
abstract class StdioSession<I> implements ClientResponseObserver<I, AttachOutput> {
  private static final int CHUNK = 32 * 1024;

  private final Cli cli;
  private final CountDownLatch done = new CountDownLatch(1);
  private final Object sendLock = new Object();
  private ClientCallStreamObserver<I> requests;
  private volatile ExitStatus exit;
  private volatile Throwable error;

  StdioSession(Cli cli) {
    this.cli = cli;
  }

  abstract I open(TerminalSize size);

  abstract I stdin(ByteString data);

  abstract I closeStdin();

  abstract I resize(TerminalSize size);

  abstract StreamObserver<I> call(StreamObserver<AttachOutput> responses);

  /** `run`, `start -a`: attaches to {@code id}, starting it once attached when {@code start}. */
  static ExitStatus attach(Cli cli, String id, boolean stdin, boolean tty, boolean start)
      throws InterruptedException {
    return new StdioSession<AttachInput>(cli) {
      @Override
      AttachInput open(TerminalSize size) {
        AttachOpen.Builder o = AttachOpen.newBuilder().setId(id).setStdin(stdin).setStart(start);
        if (size != null) {
          o.setSize(size);
        }
        return AttachInput.newBuilder().setOpen(o).build();
      }

      @Override
      AttachInput stdin(ByteString data) {
        return AttachInput.newBuilder().setStdin(data).build();
      }

      @Override
      AttachInput closeStdin() {
        return AttachInput.newBuilder().setCloseStdin(true).build();
      }

      @Override
      AttachInput resize(TerminalSize size) {
        return AttachInput.newBuilder().setResize(size).build();
      }

      @Override
      StreamObserver<AttachInput> call(StreamObserver<AttachOutput> responses) {
        if (!tty) {
          // Without a tty, Ctrl-C reaches us, not the container: pass it on (docker's sig-proxy).
          // With a tty the terminal is raw and the container's pty turns the keys into signals.
          cli.terminal.onSignals(name -> proxySignal(cli, id, name));
        }
        return cli.containersAsync().attach(responses);
      }
    }.run(stdin, tty);
  }

  private static void proxySignal(Cli cli, String id, String name) {
    Thread t = new Thread(() -> {
      try {
        cli.containers().kill(KillContainerRequest.newBuilder().setId(id).setSignal(name).build());
      } catch (StatusRuntimeException e) {
        // the container has just exited: nothing to signal
      }
    }, "berth-sig-proxy");
    t.setDaemon(true);
    t.start();
  }

  /** `exec`: runs {@code spec} (its size is filled in here) and streams its stdio. */
  static ExitStatus exec(Cli cli, ExecSpec spec) throws InterruptedException {
    return new StdioSession<ExecInput>(cli) {
      @Override
      ExecInput open(TerminalSize size) {
        return ExecInput.newBuilder().setExec(size == null ? spec : spec.toBuilder().setSize(size).build()).build();
      }

      @Override
      ExecInput stdin(ByteString data) {
        return ExecInput.newBuilder().setStdin(data).build();
      }

      @Override
      ExecInput closeStdin() {
        return ExecInput.newBuilder().setCloseStdin(true).build();
      }

      @Override
      ExecInput resize(TerminalSize size) {
        return ExecInput.newBuilder().setResize(size).build();
      }

      @Override
      StreamObserver<ExecInput> call(StreamObserver<AttachOutput> responses) {
        return cli.containersAsync().exec(responses);
      }
    }.run(spec.getStdin(), spec.getTty());
  }

  /** Streams until the daemon ends the call; a daemon error is rethrown as it came. */
  final ExitStatus run(boolean forwardStdin, boolean tty) throws InterruptedException {
    boolean terminal = tty && cli.terminal.isTerminal();
    TerminalSize size = terminal ? cli.terminal.size() : null;
    Runnable restore = terminal ? cli.terminal.makeRaw() : null;
    try {
      call(this);
      send(open(size));
      if (terminal) {
        cli.terminal.onResize(() -> {
          TerminalSize s = cli.terminal.size();
          if (s != null) {
            send(resize(s));
          }
        });
      }
      if (forwardStdin) {
        Thread pump = new Thread(this::pumpStdin, "berth-stdin");
        pump.setDaemon(true);  // a read blocked on our stdin must not keep us alive
        pump.start();
      }
      done.await();
    } finally {
      if (restore != null) {
        restore.run();
      }
      cli.out.flush();
      cli.err.flush();
    }
    Throwable t = error;
    if (t != null) {
      throw t instanceof StatusRuntimeException s ? s : Status.fromThrowable(t).asRuntimeException();
    }
    if (exit == null) {
      throw Status.UNKNOWN.withDescription("the stream ended without an exit status").asRuntimeException();
    }
    return exit;
  }

  private void pumpStdin() {
    byte[] buf = new byte[CHUNK];
    InputStream in = cli.in;
    try {
      for (int n; (n = in.read(buf)) >= 0 && !finished(); ) {
        if (n > 0) {
          awaitReady();
          send(stdin(ByteString.copyFrom(buf, 0, n)));
        }
      }
    } catch (IOException e) {
      // our stdin broke: treat it as closed
    } catch (InterruptedException e) {
      return;
    }
    send(closeStdin());
  }

  private boolean finished() {
    return done.getCount() == 0;
  }

  /** Waits until HTTP/2 flow control lets another stdin chunk go, so input is not buffered without bound. */
  private void awaitReady() throws InterruptedException {
    synchronized (sendLock) {
      while (!requests.isReady() && !finished()) {
        sendLock.wait(100);
      }
    }
  }

  private void send(I message) {
    synchronized (sendLock) {
      if (!finished()) {
        requests.onNext(message);
      }
    }
  }

  @Override
  public void beforeStart(ClientCallStreamObserver<I> stream) {
    requests = stream;
    stream.setOnReadyHandler(() -> {
      synchronized (sendLock) {
        sendLock.notifyAll();
      }
    });
  }

  @Override
  public void onNext(AttachOutput output) {
    switch (output.getOutputCase()) {
      case STDOUT -> write(cli.out, output.getStdout());
      case STDERR -> write(cli.err, output.getStderr());
      case EXIT -> exit = output.getExit();
      default -> { }
    }
  }

  private static void write(PrintStream to, ByteString data) {
    try {
      data.writeTo(to);
    } catch (IOException e) {
      // PrintStream does not throw
    }
    to.flush();
  }

  @Override
  public void onError(Throwable t) {
    error = t;
    done.countDown();
    synchronized (sendLock) {
      sendLock.notifyAll();
    }
  }

  @Override
  public void onCompleted() {
    done.countDown();
    synchronized (sendLock) {
      sendLock.notifyAll();
    }
  }

  /** The exit code for a finished process; a start failure is reported and maps to {@code failure}. */
  static int exitCode(Cli cli, ExitStatus s, int failure) {
    if (!s.getError().isEmpty()) {
      cli.err.println("Error response from daemon: " + s.getError());
      return s.getExitCode() != 0 ? s.getExitCode() : failure;
    }
    return s.getExitCode();
  }
}
