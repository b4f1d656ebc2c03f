package dev.berth.ctl;

import dev.berth.proto.v1.ArchiveFormat;
import dev.berth.proto.v1.CommitRequest;
import dev.berth.proto.v1.Image;
import dev.berth.proto.v1.LoadChunk;
import dev.berth.proto.v1.LoadResponse;
import dev.berth.proto.v1.PruneRequest;
import dev.berth.proto.v1.PruneResponse;
import dev.berth.proto.v1.PushLayerProgress;
import dev.berth.proto.v1.PushProgress;
import dev.berth.proto.v1.PushRequest;
import dev.berth.proto.v1.PushState;
import dev.berth.proto.v1.RegistryAuth;
import dev.berth.proto.v1.SaveChunk;
import dev.berth.proto.v1.SaveRequest;
import dev.berth.proto.v1.TagRequest;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Images in and out of the daemon: push, tag, save, load, prune. */
final class ImageTransferCommands {
  private ImageTransferCommands() {
  }

  /** `push IMAGE`: uploads through the daemon, one line per layer state, then the digest. */
  @Command(name = "push", description = "Upload an image to a registry")
  static final class Push extends BaseCommand {
    @Option(names = {"-q", "--quiet"}, description = "Suppress verbose output")
    boolean quiet;

    @Parameters(index = "0", paramLabel = "NAME[:TAG]")
    String reference;

    Push(Cli cli) {
      super(cli);
    }

    @Override
    int run() throws IOException {
      RegistryAuth auth = new Credentials(cli.env).get(Credentials.registryOf(reference));
      Iterator<PushProgress> events = cli.images().push(PushRequest.newBuilder().setReference(reference).setAuth(auth).build());
      Map<String, PushState> states = new LinkedHashMap<>();
      String digest = null;
      while (events.hasNext()) {
        PushProgress p = events.next();
        switch (p.getEventCase()) {
          case LAYER -> {
            // One line per change of a layer's state, as docker prints without a terminal.
            PushLayerProgress l = p.getLayer();
            if (!quiet && l.getState() != states.put(l.getDigest(), l.getState())) {
              cli.out.println(PullCommand.View.shortDigest(l.getDigest()) + ": " + describe(l));
            }
          }
          case STATUS -> {
            if (!quiet) {
              cli.out.println(p.getStatus());
            }
          }
          case DIGEST -> digest = p.getDigest();
          default -> { }
        }
      }
      if (digest == null) {
        throw new CliException("the daemon ended the push of " + reference + " without a digest", 1);
      }
      cli.out.println(quiet ? reference : "digest: " + digest);
      return 0;
    }

    static String describe(PushLayerProgress l) {
      return switch (l.getState()) {
        case PREPARING -> "Preparing";
        case PUSH_WAITING -> "Waiting";
        case PUSHING -> "Pushing";
        case MOUNTED -> "Mounted from another repository";
        case PUSH_ALREADY_EXISTS -> "Layer already exists";
        case PUSHED -> "Pushed";
        default -> "";
      };
    }
  }

  /**
   * `commit [-m MSG] [-p=false] CONTAINER [REPOSITORY[:TAG]]`: prints the new image's id. As with
   * docker, the container is paused during the commit unless {@code --pause=false} says not to.
   */
  @Command(name = "commit", description = "Create a new image from a container's changes")
  static final class Commit extends BaseCommand {
    @Option(names = {"-m", "--message"}, description = "Commit message")
    String message = "";

    // docker's boolean flag: "-p" and "--pause" alone mean true, "--pause=false" turns it off.
    @Option(names = {"-p", "--pause"}, arity = "0..1", defaultValue = "true", fallbackValue = "true",
        description = "Pause container during commit (default true)")
    boolean pause = true;

    @Parameters(index = "0", paramLabel = "CONTAINER")
    String container;

    @Parameters(index = "1", arity = "0..1", paramLabel = "REPOSITORY[:TAG]")
    String reference = "";

    Commit(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      Image i = cli.images().commit(CommitRequest.newBuilder().setContainer(container).setReference(reference)
          .setComment(message).setPause(pause).build());
      cli.out.println(i.getId());
      return 0;
    }
  }

  /** `tag SOURCE TARGET`. */
  @Command(name = "tag", description = "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE")
  static final class Tag extends BaseCommand {
    @Parameters(index = "0", paramLabel = "SOURCE_IMAGE[:TAG]")
    String source;

    @Parameters(index = "1", paramLabel = "TARGET_IMAGE[:TAG]")
    String target;

    Tag(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      cli.images().tag(TagRequest.newBuilder().setSource(source).setTarget(target).build());
      return 0;
    }
  }

  /** `save [-o FILE] [--format docker|oci] IMAGE…`: to a file, or stdout when it is not a terminal. */
  @Command(name = "save", description = "Save one or more images to a tar archive (streamed to STDOUT by default)")
  static final class Save extends BaseCommand {
    @Option(names = {"-o", "--output"}, paramLabel = "FILE", description = "Write to a file instead of STDOUT")
    Path output;

    @Option(names = "--format", defaultValue = "docker", description = "docker (docker save's layout) or oci (an OCI archive)")
    String format;

    @Parameters(arity = "1..*", paramLabel = "IMAGE")
    List<String> refs = new ArrayList<>();

    Save(Cli cli) {
      super(cli);
    }

    @Override
    int run() throws IOException {
      ArchiveFormat f = switch (format) {
        case "docker", "docker-archive" -> ArchiveFormat.DOCKER_ARCHIVE;
        case "oci", "oci-archive" -> ArchiveFormat.OCI_ARCHIVE;
        default -> throw new CliException("invalid --format \"" + format + "\": expected docker or oci", 1);
      };
      if (output == null && cli.terminal.isTerminal()) {
        throw new CliException("cowardly refusing to save to a terminal. Use the -o flag or redirect", 1);
      }
      Iterator<SaveChunk> chunks = cli.images().save(SaveRequest.newBuilder().addAllReferences(refs).setFormat(f).build());
      if (output == null) {
        copy(chunks, cli.out);
        cli.out.flush();
        return 0;
      }
      // Into a temporary file next to the target, renamed when complete: a failed save leaves no half archive.
      Path dir = output.toAbsolutePath().getParent();
      Path tmp = Files.createTempFile(dir, "." + output.getFileName(), ".part");
      try {
        try (OutputStream out = Files.newOutputStream(tmp)) {
          copy(chunks, out);
        }
        Files.move(tmp, output, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      } finally {
        Files.deleteIfExists(tmp);
      }
      return 0;
    }

    private static void copy(Iterator<SaveChunk> chunks, OutputStream out) throws IOException {
      while (chunks.hasNext()) {
        chunks.next().getData().writeTo(out);
      }
    }
  }

  /** `load [-i FILE]`: from a file or stdin, streamed in 64 KiB chunks as flow control allows. */
  @Command(name = "load", description = "Load images from a tar archive or STDIN")
  static final class Load extends BaseCommand {
    @Option(names = {"-i", "--input"}, paramLabel = "FILE", description = "Read from a tar archive file instead of STDIN")
    Path input;

    @Option(names = {"-q", "--quiet"}, description = "Suppress the load output")
    boolean quiet;

    Load(Cli cli) {
      super(cli);
    }

    @Override
    int run() throws IOException, InterruptedException {
      InputStream in;
      try {
        in = input == null ? cli.in : Files.newInputStream(input);
      } catch (NoSuchFileException e) {
        throw new CliException("open " + input + ": no such file or directory", 1);
      }
      LoadResponse r;
      try (in) {
        r = ChunkUpload.send(cli.imagesAsync()::load, null, data -> LoadChunk.newBuilder().setData(data).build(), in);
      }
      if (!quiet) {
        for (Image i : r.getImagesList()) {
          if (i.getRepoTagsCount() == 0) {
            cli.out.println("Loaded image ID: " + i.getId());
          }
          i.getRepoTagsList().forEach(t -> cli.out.println("Loaded image: " + t));
        }
      }
      return 0;
    }
  }

  /** `image prune [-a] [-f]`. */
  @Command(name = "prune", description = "Remove unused images")
  static final class Prune extends BaseCommand {
    @Option(names = {"-a", "--all"}, description = "Remove all unused images, not just dangling ones")
    boolean all;

    @Option(names = {"-f", "--force"}, description = "Do not prompt for confirmation")
    boolean force;

    Prune(Cli cli) {
      super(cli);
    }

    @Override
    int run() throws IOException {
      String what = all ? "all images without at least one container associated to them" : "all dangling images";
      if (!force && !confirm("This will remove " + what + ".")) {
        return 0;
      }
      PruneResponse r = cli.images().prune(PruneRequest.newBuilder().setAll(all).build());
      printPruned("Deleted Images:", r.getDeletedList().stream().map(d -> "deleted: " + d).toList(),
          r.getReclaimedBytes());
      return 0;
    }
  }
}
