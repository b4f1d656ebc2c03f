package dev.berth.ctl;

import dev.berth.proto.v1.Image;
import dev.berth.proto.v1.LayerProgress;
import dev.berth.proto.v1.LayerState;
import dev.berth.proto.v1.PullProgress;
import dev.berth.proto.v1.PullRequest;
import dev.berth.proto.v1.RegistryAuth;
import java.io.IOException;
import java.io.PrintStream;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** `pull [-q] IMAGE`: pulls through the daemon, showing each layer's progress as docker does. */
@Command(name = "pull", description = "Download an image from a registry")
final class PullCommand extends BaseCommand {
  @Option(names = {"-q", "--quiet"}, description = "Suppress verbose output")
  boolean quiet;

  @Parameters(index = "0", paramLabel = "NAME[:TAG|@DIGEST]")
  String reference;

  PullCommand(Cli cli) {
    super(cli);
  }

  @Override
  int run() {
    Image image = pull(cli, reference, quiet ? null : cli.out);
    cli.out.println(image.getRepoTagsCount() > 0 ? image.getRepoTags(0) : image.getId());
    return 0;
  }

  /**
   * Pulls {@code reference}; progress goes to {@code progress} (null: none): redrawn in place
   * on a terminal, one line per layer state change otherwise. Returns the pulled image.
   */
  static Image pull(Cli cli, String reference, PrintStream progress) {
    RegistryAuth auth;
    try {
      auth = new Credentials(cli.env).get(Credentials.registryOf(reference));
    } catch (IOException e) {
      throw new CliException(e.getMessage(), 1);
    }
    View view = progress == null ? null : new View(progress, cli.terminal.isTerminal(), cli.clock.millis());
    Iterator<PullProgress> events = cli.images().pull(PullRequest.newBuilder().setReference(reference).setAuth(auth).build());
    Image image = null;
    while (events.hasNext()) {
      PullProgress p = events.next();
      switch (p.getEventCase()) {
        case LAYER -> {
          if (view != null) {
            view.layer(p.getLayer(), cli.clock.millis());
          }
        }
        case STATUS -> {
          if (view != null) {
            view.status(p.getStatus());
          }
        }
        case IMAGE -> image = p.getImage();
        default -> { }
      }
    }
    if (image == null) {
      throw new CliException("the daemon ended the pull of " + reference + " without an image", 1);
    }
    return image;
  }

  /** The per-layer lines of a pull. */
  static final class View {
    private final PrintStream out;
    private final boolean redraw;
    private final Map<String, String> lines = new LinkedHashMap<>();
    private final Map<String, LayerState> states = new LinkedHashMap<>();
    private final long started;
    private int drawn;

    View(PrintStream out, boolean redraw, long nowMillis) {
      this.out = out;
      this.redraw = redraw;
      this.started = nowMillis;
    }

    void layer(LayerProgress l, long nowMillis) {
      String id = shortDigest(l.getDigest());
      String line = id + ": " + describe(l, nowMillis - started);
      LayerState before = states.put(id, l.getState());
      lines.put(id, line);
      if (redraw) {
        draw();
      } else if (before != l.getState() && l.getState() != LayerState.DOWNLOADING) {
        out.println(line);  // plain output: one line per change of state, no byte counters
      } else if (before != l.getState()) {
        out.println(id + ": Downloading");
      }
    }

    void status(String text) {
      if (redraw) {
        draw();
        drawn = 0;  // the status line scrolls the layer block away: start a new block below it
        lines.clear();
      }
      out.println(text);
    }

    private void draw() {
      StringBuilder b = new StringBuilder();
      if (drawn > 0) {
        b.append("\u001b[").append(drawn).append('A');  // back to the first layer line
      }
      for (String line : lines.values()) {
        b.append("\r\u001b[2K").append(line).append('\n');
      }
      drawn = lines.size();
      out.print(b);
      out.flush();
    }

    static String describe(LayerProgress l, long elapsedMillis) {
      return switch (l.getState()) {
        case WAITING -> "Waiting";
        case DOWNLOADING -> "Downloading  " + Format.humanSize(l.getDoneBytes()) + "/" + Format.humanSize(l.getTotalBytes())
            + (elapsedMillis > 0 ? "  " + Format.humanSize(l.getDoneBytes() * 1000 / elapsedMillis) + "/s" : "");
        case VERIFYING -> "Verifying Checksum";
        case EXTRACTING -> "Extracting";
        case ALREADY_EXISTS -> "Already exists";
        case DONE -> "Pull complete";
        default -> "";
      };
    }

    static String shortDigest(String digest) {
      String hex = digest.startsWith("sha256:") ? digest.substring(7) : digest;
      return hex.length() > 12 ? hex.substring(0, 12) : hex;
    }
  }
}
