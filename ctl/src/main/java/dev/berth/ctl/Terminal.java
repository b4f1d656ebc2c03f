package dev.berth.ctl;

import dev.berth.proto.v1.TerminalSize;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.Console;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;

/** The local terminal, as far as `run -t` and `exec -t` need it. */
interface Terminal {
  /** True when stdin and stdout are a terminal, so raw mode and sizes make sense. */
  boolean isTerminal();

  /** The terminal's size, or null when it cannot be read. */
  TerminalSize size();

  /** Puts the terminal in raw mode; the returned action (idempotent) restores it. */
  Runnable makeRaw();

  /** Calls {@code listener} whenever the terminal is resized (SIGWINCH). */
  void onResize(Runnable listener);

  /**
   * Calls {@code listener} with the signal's name (INT, TERM, HUP, QUIT, USR1, USR2) instead of
   * letting it end the CLI, so `berth run` can pass it on to the container as docker's
   * sig-proxy does.
   */
  void onSignals(java.util.function.Consumer<String> listener);

  static Terminal system() {
    return new Stty();
  }

  /** Drives the controlling terminal with stty(1) on /dev/tty. */
  final class Stty implements Terminal {
    private static final File TTY = new File("/dev/tty");

    @Override
    public boolean isTerminal() {
      Console c = System.console();
      if (c == null) {
        return false;
      }
      try {  // JDK 22+ returns a console even when redirected; isTerminal() tells
        Method m = Console.class.getMethod("isTerminal");
        return (Boolean) m.invoke(c);
      } catch (NoSuchMethodException e) {
        return true;  // JDK < 22: a console exists only for a terminal
      } catch (ReflectiveOperationException e) {
        return false;
      }
    }

    @Override
    public TerminalSize size() {
      try {
        String[] rc = stty("size").trim().split("\\s+");
        if (rc.length == 2) {
          return TerminalSize.newBuilder().setRows(Integer.parseInt(rc[0])).setCols(Integer.parseInt(rc[1])).build();
        }
      } catch (IOException | NumberFormatException e) {
        // unknown size
      }
      return null;
    }

    @Override
    public Runnable makeRaw() {
      String saved;
      try {
        saved = stty("-g").trim();
        stty("raw", "-echo");
      } catch (IOException e) {
        return () -> { };
      }
      Runnable restore = new Runnable() {
        private boolean done;

        @Override
        public synchronized void run() {
          if (!done) {
            done = true;
            try {
              stty(saved);
            } catch (IOException e) {
              // nothing more we can do
            }
          }
        }
      };
      Thread hook = new Thread(restore, "berth-restore-tty");
      Runtime.getRuntime().addShutdownHook(hook);  // Ctrl-C (when not raw), SIGTERM, System.exit
      return () -> {
        restore.run();
        try {
          Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
          // already shutting down: the hook runs the (idempotent) restore anyway
        }
      };
    }

    /** sun.misc.Signal (jdk.unsupported) is the only way to see SIGWINCH; javac warns about it. */
    @Override
    public void onResize(Runnable listener) {
      try {
        sun.misc.Signal.handle(new sun.misc.Signal("WINCH"), s -> listener.run());
      } catch (IllegalArgumentException e) {
        // no SIGWINCH on this platform
      }
    }

    @Override
    public void onSignals(java.util.function.Consumer<String> listener) {
      for (String name : java.util.List.of("INT", "TERM", "HUP", "QUIT", "USR1", "USR2")) {
        try {
          sun.misc.Signal.handle(new sun.misc.Signal(name), s -> listener.accept(name));
        } catch (IllegalArgumentException e) {
          // the JVM keeps this one (QUIT prints thread dumps on some JDKs): leave it alone
        }
      }
    }

    private static String stty(String... args) throws IOException {
      String[] cmd = new String[args.length + 1];
      cmd[0] = "stty";
      System.arraycopy(args, 0, cmd, 1, args.length);
      Process p = new ProcessBuilder(cmd).redirectInput(TTY)
          .redirectError(ProcessBuilder.Redirect.INHERIT).start();
      ByteArrayOutputStream buf = new ByteArrayOutputStream();
      try (InputStream in = p.getInputStream()) {
        in.transferTo(buf);
      }
      try {
        if (p.waitFor() != 0) {
          throw new IOException("stty exited with " + p.exitValue());
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted");
      }
      return buf.toString(StandardCharsets.UTF_8);
    }
  }
}
