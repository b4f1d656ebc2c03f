package dev.berth.ctl;

/**
 * A picocli-free parse for the listing commands people run in loops ({@code ps}, {@code images},
 * {@code info}, {@code version}) when their arguments are plain.
 *
 * <p>picocli is compiled as Java 5 bytecode, which the JVM's class-data sharing cannot archive:
 * loading and initializing it costs ~70 ms of a ~200 ms `berth ps` even with the CDS archive.
 * This parser only recognizes the commands' documented flags; anything else (help, a typo, a
 * flag it does not know) returns null and the command line goes to picocli, which owns the
 * error messages and usage. The command objects are the same either way.
 */
final class FastPath {
  private FastPath() {
  }

  private static void tls(Cli cli, String option, String file) {
    java.nio.file.Path p = java.nio.file.Path.of(file);
    switch (option) {
      case "--tlscacert" -> cli.tls(p, null, null, false);
      case "--tlscert" -> cli.tls(null, p, null, false);
      default -> cli.tls(null, null, p, false);
    }
  }

  /** Runs the command if the arguments are simple enough; null when picocli must parse them. */
  static Integer tryRun(String[] args, Cli cli) {
    int i = 0;
    String host = null;
    while (i < args.length && args[i].startsWith("-")) {
      String a = args[i];
      if ((a.equals("-H") || a.equals("--host")) && i + 1 < args.length) {
        host = args[i + 1];
        i += 2;
      } else if (a.startsWith("--host=")) {
        host = a.substring("--host=".length());
        i++;
      } else if (Cli.TLS_FILE_OPTIONS.contains(a) && i + 1 < args.length) {
        tls(cli, a, args[i + 1]);
        i += 2;
      } else if (a.equals("--tlsverify")) {
        cli.tls(null, null, null, true);
        i++;
      } else {
        return null;
      }
    }
    if (i >= args.length) {
      return null;
    }
    String command = args[i++];
    BaseCommand parsed = switch (command) {
      case "ps" -> ps(args, i, cli);
      case "images" -> images(args, i, cli);
      case "info" -> i == args.length ? new SystemCommands.Info(cli) : null;
      case "version" -> i == args.length ? new SystemCommands.Version(cli) : null;
      default -> null;
    };
    if (parsed == null) {
      return null;
    }
    if (host != null) {
      cli.host(host);
    }
    try {
      return parsed.call();
    } catch (Exception e) {
      cli.err.println("Error: " + e);
      return parsed.failureCode();
    }
  }

  private static PsCommand ps(String[] args, int from, Cli cli) {
    PsCommand ps = new PsCommand(cli);
    for (int i = from; i < args.length; i++) {
      String a = args[i];
      switch (a) {
        case "-a", "--all" -> ps.all = true;
        case "-q", "--quiet" -> ps.quiet = true;
        case "--no-trunc" -> ps.noTrunc = true;
        case "--format" -> {
          if (++i == args.length) {
            return null;
          }
          ps.format = args[i];
        }
        default -> {
          if (a.startsWith("--format=")) {
            ps.format = a.substring("--format=".length());
          } else if (cluster(a, "aq")) {
            ps.all |= a.indexOf('a') > 0;
            ps.quiet |= a.indexOf('q') > 0;
          } else {
            return null;
          }
        }
      }
    }
    return ps;
  }

  /** "-aq": a dash and one or more of {@code letters}. */
  private static boolean cluster(String arg, String letters) {
    if (arg.length() < 2 || arg.charAt(0) != '-') {
      return false;
    }
    for (int i = 1; i < arg.length(); i++) {
      if (letters.indexOf(arg.charAt(i)) < 0) {
        return false;
      }
    }
    return true;
  }

  private static ImageCommands.Ls images(String[] args, int from, Cli cli) {
    ImageCommands.Ls ls = new ImageCommands.Ls(cli);
    for (int i = from; i < args.length; i++) {
      String a = args[i];
      switch (a) {
        case "-q", "--quiet" -> ls.quiet = true;
        case "--no-trunc" -> ls.noTrunc = true;
        case "--digests" -> ls.digests = true;
        case "--format" -> {
          if (++i == args.length) {
            return null;
          }
          ls.format = args[i];
        }
        default -> {
          if (a.startsWith("--format=")) {
            ls.format = a.substring("--format=".length());
          } else {
            return null;
          }
        }
      }
    }
    return ls;
  }
}
