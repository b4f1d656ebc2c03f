package dev.berth.ctl;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.berth.proto.v1.Image;
import dev.berth.proto.v1.ImageRef;
import dev.berth.proto.v1.ImportChunk;
import dev.berth.proto.v1.ImportHeader;
import dev.berth.proto.v1.ListImagesRequest;
import dev.berth.proto.v1.RemoveImageRequest;
import dev.berth.proto.v1.RemoveImageResponse;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** images / image ls, image import, image rm / rmi, image inspect. */
final class ImageCommands {
  private ImageCommands() {
  }

  /** `image`: the group; {@link Main} registers import, ls, rm and inspect under it. */
  @Command(name = "image", description = "Manage images", synopsisSubcommandLabel = "COMMAND")
  static final class Group extends GroupCommand {
    Group(Cli cli) {
      super(cli);
    }
  }

  /** `images`, `image ls`: one row per tag, "<none>" for an untagged image. */
  @Command(name = "images", description = "List images")
  static final class Ls extends BaseCommand {
    @Option(names = {"-q", "--quiet"}, description = "Only show image IDs")
    boolean quiet;

    @Option(names = "--no-trunc", description = "Don't truncate output")
    boolean noTrunc;

    @Option(names = "--digests", description = "Show digests")
    boolean digests;

    @Option(names = "--format", paramLabel = "FORMAT", description = "Output format: table (default) or json")
    String format = "table";

    Ls(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      if (!format.equals("table") && !format.equals("json")) {
        throw new CliException("unsupported format \"" + format + "\": use table or json", 1);
      }
      List<Image> images = cli.images().list(ListImagesRequest.getDefaultInstance()).getImagesList();
      if (quiet) {
        Set<String> ids = new LinkedHashSet<>();
        images.forEach(i -> ids.add(id(i)));
        ids.forEach(cli.out::println);
        return 0;
      }
      Table table = digests ? new Table("REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE")
          : new Table("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE");
      for (Image i : images) {
        List<String> tags = i.getRepoTagsCount() == 0 ? List.of("<none>:<none>") : i.getRepoTagsList();
        for (String tag : tags) {
          String[] rt = splitTag(tag);
          String digest = digestOf(i, rt[0]);
          if (format.equals("json")) {
            Map<String, String> m = new TreeMap<>();
            m.put("CreatedAt", Format.goTime(i.getCreatedUnixNanos(), cli.zone()));
            m.put("CreatedSince", Format.ago(i.getCreatedUnixNanos(), cli.clock));
            m.put("Digest", digest);
            m.put("ID", id(i));
            m.put("Repository", rt[0]);
            m.put("Size", Format.humanSize(i.getSizeBytes()));
            m.put("Tag", rt[1]);
            cli.out.println(Json.compact(m));
          } else if (digests) {
            table.add(rt[0], rt[1], digest, id(i), Format.ago(i.getCreatedUnixNanos(), cli.clock),
                Format.humanSize(i.getSizeBytes()));
          } else {
            table.add(rt[0], rt[1], id(i), Format.ago(i.getCreatedUnixNanos(), cli.clock),
                Format.humanSize(i.getSizeBytes()));
          }
        }
      }
      if (format.equals("table")) {
        table.print(cli.out);
      }
      return 0;
    }

    /** The registry digest the image has in {@code repository}, as docker images --digests shows it. */
    private static String digestOf(Image i, String repository) {
      for (String rd : i.getRepoDigestsList()) {
        int at = rd.indexOf('@');
        if (at > 0 && rd.substring(0, at).equals(repository)) {
          return rd.substring(at + 1);
        }
      }
      return "<none>";
    }

    private String id(Image i) {
      return noTrunc ? i.getId() : Format.shortId(i.getId());
    }

    /** name:tag → {name, tag}; the tag's colon is the last one after the last slash. */
    static String[] splitTag(String ref) {
      int colon = ref.lastIndexOf(':');
      if (colon <= ref.lastIndexOf('/')) {
        return new String[] {ref, "<none>"};
      }
      return new String[] {ref.substring(0, colon), ref.substring(colon + 1)};
    }
  }

  /** `image import FILE|- NAME[:TAG]`: streams the tarball in 64 KiB chunks. */
  @Command(name = "import", description = "Import the contents from a tarball to create a filesystem image")
  static final class Import extends BaseCommand {
    @Option(names = {"-c", "--change"}, paramLabel = "INSTRUCTION", description = "Apply a Dockerfile instruction: CMD, ENTRYPOINT, ENV, EXPOSE, WORKDIR, USER")
    List<String> changes = new ArrayList<>();

    @Parameters(index = "0", paramLabel = "FILE|-")
    String file;

    @Parameters(index = "1", paramLabel = "REPOSITORY[:TAG]")
    String reference;

    Import(Cli cli) {
      super(cli);
    }

    @Override
    int run() throws IOException, InterruptedException {
      ImportHeader.Builder header = ImportHeader.newBuilder().setReference(reference);
      for (String change : changes) {
        applyChange(header, change);
      }
      InputStream in;
      try {
        in = file.equals("-") ? cli.in : Files.newInputStream(Path.of(file));
      } catch (NoSuchFileException e) {
        throw new CliException("open " + file + ": no such file or directory", 1);
      }
      try (in) {
        cli.out.println(upload(header.build(), in).getId());
      }
      return 0;
    }

    private Image upload(ImportHeader header, InputStream in) throws IOException, InterruptedException {
      return ChunkUpload.send(cli.imagesAsync()::import_, ImportChunk.newBuilder().setHeader(header).build(),
          data -> ImportChunk.newBuilder().setData(data).build(), in);
    }

    /** A Dockerfile instruction of --change; JSON or shell form for CMD and ENTRYPOINT. */
    static void applyChange(ImportHeader.Builder h, String change) {
      String[] kv = change.strip().split("\\s+", 2);
      String arg = kv.length > 1 ? kv[1].strip() : "";
      switch (kv[0].toUpperCase(java.util.Locale.ROOT)) {
        case "CMD" -> h.clearCmd().addAllCmd(command(arg));
        case "ENTRYPOINT" -> h.clearEntrypoint().addAllEntrypoint(command(arg));
        case "WORKDIR" -> h.setWorkingDir(arg);
        case "USER" -> h.setUser(arg);
        case "EXPOSE" -> {
          for (String port : arg.split("\\s+")) {
            if (!port.matches("[0-9]{1,5}(/(tcp|udp))?")) {
              throw new CliException("invalid port \"" + port + "\" in --change EXPOSE: use PORT or PORT/tcp or PORT/udp", 1);
            }
            h.addExposedPorts(port.contains("/") ? port : port + "/tcp");
          }
        }
        case "ENV" -> {
          if (arg.contains("=")) {
            for (String pair : arg.split("\\s+")) {
              h.addEnv(pair);
            }
          } else {
            String[] nv = arg.split("\\s+", 2);
            h.addEnv(nv[0] + "=" + (nv.length > 1 ? nv[1] : ""));
          }
        }
        default -> throw new CliException("unsupported --change instruction \"" + kv[0] + "\": use CMD, ENTRYPOINT, ENV, EXPOSE, WORKDIR or USER", 1);
      }
    }

    private static List<String> command(String arg) {
      if (arg.startsWith("[")) {
        try {
          return List.of(new ObjectMapper().readValue(arg, String[].class));
        } catch (IOException e) {
          throw new CliException("invalid JSON array in --change: " + arg, 1);
        }
      }
      return List.of("/bin/sh", "-c", arg);
    }
  }

  /** `image rm`, `rmi`: prints what was untagged and deleted. */
  @Command(name = "rmi", description = "Remove one or more images")
  static final class Rm extends BaseCommand {
    @Option(names = {"-f", "--force"}, description = "Force removal of the image")
    boolean force;

    @Parameters(arity = "1..*", paramLabel = "IMAGE")
    List<String> refs = new ArrayList<>();

    Rm(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      return each(refs, ref -> {
        RemoveImageResponse r = cli.images().remove(RemoveImageRequest.newBuilder().setReference(ref).setForce(force).build());
        r.getUntaggedList().forEach(t -> cli.out.println("Untagged: " + t));
        r.getDeletedList().forEach(d -> cli.out.println("Deleted: " + d));
      });
    }
  }

  /** `image inspect`: a pretty JSON array. */
  @Command(name = "inspect", description = "Display detailed information on one or more images")
  static final class Inspect extends BaseCommand {
    @Parameters(arity = "1..*", paramLabel = "IMAGE")
    List<String> refs = new ArrayList<>();

    Inspect(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      return Json.inspectAll(this, refs, ref -> Json.image(cli.images().inspect(ImageRef.newBuilder().setReference(ref).build())));
    }
  }
}
