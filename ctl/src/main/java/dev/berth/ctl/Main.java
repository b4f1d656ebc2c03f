package dev.berth.ctl;

/**
 * {@code berth}: runs one command line and exits at once, without waiting for the channel to
 * wind down. Plain listing commands take {@link FastPath}; everything else is parsed by picocli
 * in {@link Commands}. This class does not touch picocli, so the fast path never loads it.
 */
public final class Main {
  private Main() {
  }

  public static void main(String[] args) {
    int code;
    try (Cli cli = Cli.forProcess()) {
      code = execute(args, cli);
    }
    System.exit(code);
  }

  /** Runs one command line against {@code cli} and returns the exit code; flushes but does not exit. */
  static int execute(String[] args, Cli cli) {
    return execute(args, cli, cli.env.get("BERTH_CTL_NO_FASTPATH") == null);
  }

  /** {@code fast}: try {@link FastPath} first (tests turn it off to compare both parsers). */
  static int execute(String[] args, Cli cli, boolean fast) {
    Integer code = fast ? FastPath.tryRun(args, cli) : null;
    if (code == null) {
      code = Commands.execute(args, cli);
    }
    cli.out.flush();
    cli.err.flush();
    return code;
  }
}
