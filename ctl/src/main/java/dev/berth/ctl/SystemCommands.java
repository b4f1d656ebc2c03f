package dev.berth.ctl;

import dev.berth.proto.v1.InfoRequest;
import dev.berth.proto.v1.InfoResponse;
import io.grpc.StatusRuntimeException;
import java.io.PrintStream;
import picocli.CommandLine.Command;

/** info and version. */
final class SystemCommands {
  private SystemCommands() {
  }

  /** The client's version: the jar's Implementation-Version, "dev" when run from classes. */
  static String clientVersion() {
    String v = Main.class.getPackage().getImplementationVersion();
    return v != null ? v : "dev";
  }

  /** Binary (1024-based) sizes as docker info prints memory: "7.648GiB". */
  static String binarySize(long bytes) {
    String[] units = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double size = bytes;
    int unit = 0;
    while (size >= 1024 && unit < units.length - 1) {
      size /= 1024;
      unit++;
    }
    return new java.math.BigDecimal(size).round(new java.math.MathContext(4)).stripTrailingZeros().toPlainString() + units[unit];
  }

  @Command(name = "info", description = "Display system-wide information")
  static final class Info extends BaseCommand {
    Info(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      InfoResponse i = cli.systemService().info(InfoRequest.getDefaultInstance());
      PrintStream o = cli.out;
      o.println("Client:");
      o.println(" Version:    " + clientVersion());
      o.println(" Context:    " + cli.address().display());
      o.println();
      o.println("Server:");
      o.println(" Containers: " + i.getContainers());
      o.println("  Running: " + i.getContainersRunning());
      o.println("  Stopped: " + (i.getContainers() - i.getContainersRunning()));
      o.println(" Images: " + i.getImages());
      o.println(" Server Version: " + i.getVersion());
      o.println(" Cgroup Version: " + i.getCgroupVersion().replace("v", ""));
      o.println(" Kernel Version: " + i.getKernelVersion());
      o.println(" CPUs: " + i.getCpus());
      o.println(" Total Memory: " + binarySize(i.getMemoryBytes()));
      o.println(" Name: " + i.getNodeName());
      o.println(" Berth Root Dir: " + i.getDataDir());
      o.println(" Kernel Object Prefix: " + i.getPrefix());
      return 0;
    }
  }

  @Command(name = "version", description = "Show the Berth version information")
  static final class Version extends BaseCommand {
    Version(Cli cli) {
      super(cli);
    }

    @Override
    int run() {
      PrintStream o = cli.out;
      o.println("Client:");
      o.println(" Version:           " + clientVersion());
      o.println(" Java version:      " + System.getProperty("java.version"));
      o.println(" OS/Arch:           " + System.getProperty("os.name").toLowerCase(java.util.Locale.ROOT)
          + "/" + arch(System.getProperty("os.arch")));
      o.println();
      try {
        InfoResponse i = cli.systemService().info(InfoRequest.getDefaultInstance());
        o.println("Server:");
        o.println(" Berth Engine:");
        o.println("  Version:          " + i.getVersion());
        o.println("  Kernel Version:   " + i.getKernelVersion());
        o.println("  Name:             " + i.getNodeName());
        return 0;
      } catch (StatusRuntimeException e) {
        cli.report(e);
        return 1;
      }
    }

    private static String arch(String a) {
      return switch (a) {
        case "x86_64", "amd64" -> "amd64";
        case "aarch64" -> "arm64";
        default -> a;
      };
    }
  }
}
