package dev.berth.ctl;

import dev.berth.ctl.cert.CertificateAuthority;
import dev.berth.ctl.cert.Issued;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * `cert ca`, `cert node`, `cert client`: the cluster CA and the certificates it signs, as PEM
 * files, for {@code berthd --tls-*} and the CLI's {@code --tls*} flags. Local only: no daemon
 * is involved, and no key ever leaves the directory it is written to.
 */
final class CertCommands {
  private CertCommands() {
  }

  /** `cert`: the group; {@link Commands} registers its subcommands. */
  @Command(name = "cert", description = "Make the cluster's CA and certificates (mutual TLS)", synopsisSubcommandLabel = "COMMAND")
  static final class Group extends GroupCommand {
    Group(Cli cli) {
      super(cli);
    }
  }

  /** `cert ca`: a new cluster CA. */
  @Command(name = "ca", description = "Make a new cluster CA: ca.pem and ca-key.pem (keep the key secret)")
  static final class Ca extends BaseCommand {
    @Option(names = "--out", paramLabel = "DIR", description = "Where to write ca.pem and ca-key.pem (default: ${DEFAULT-VALUE})")
    Path out = Path.of(".");

    @Option(names = "--name", description = "The CA's common name (default: ${DEFAULT-VALUE})")
    String name = "berth-ca";

    @Option(names = "--days", description = "Days the CA certificate is valid (default: ${DEFAULT-VALUE})")
    long days = CertificateAuthority.DEFAULT_CA_VALIDITY.toDays();

    Ca(Cli cli) {
      super(cli);
    }

    @Override
    int run() throws IOException {
      CertificateAuthority ca = make(() -> CertificateAuthority.create(name, Duration.ofDays(days), cli.clock));
      return written(cli, ca.writeTo(out));
    }
  }

  /** `cert node NAME`: a node's certificate for berthd, server and client in one. */
  @Command(name = "node", description = "Make a node's key and certificate for berthd (TLS server and client); it names "
      + "NAME, and berthd starts with it only as --node NAME (or one of its --dns names)")
  static final class Node extends Issue {
    @Option(names = "--ip", paramLabel = "ADDR", description = "An IP address the node is reached at; repeatable")
    List<String> ips = new ArrayList<>();

    @Option(names = "--dns", paramLabel = "NAME", description = "A DNS name the node is reached at, besides NODE; repeatable")
    List<String> dns = new ArrayList<>();

    Node(Cli cli) {
      super(cli);
    }

    @Override
    Issued issue(CertificateAuthority ca) {
      List<InetAddress> addrs = new ArrayList<>();
      for (String ip : ips) {
        addrs.add(ipAddress(ip));
      }
      return ca.issueNode(name, dns, addrs, Duration.ofDays(days));
    }
  }

  /** `cert client NAME`: a user's certificate for the CLI. */
  @Command(name = "client", description = "Make a user's key and certificate for the berth CLI (TLS client; never "
      + "accepted as a node's)")
  static final class Client extends Issue {
    Client(Cli cli) {
      super(cli);
    }

    @Override
    Issued issue(CertificateAuthority ca) {
      return ca.issueClient(name, Duration.ofDays(days));
    }
  }

  /** What `cert node` and `cert client` share: the CA to sign with and where the files go. */
  abstract static class Issue extends BaseCommand {
    @Parameters(index = "0", paramLabel = "NAME", description = "The node's name (as in berthd --node) or the user's")
    String name;

    @Option(names = "--ca", paramLabel = "DIR", description = "Directory of ca.pem and ca-key.pem (default: ${DEFAULT-VALUE})")
    Path caDir = Path.of(".");

    @Option(names = "--out", paramLabel = "DIR", description = "Where to write ca.pem, cert.pem and key.pem (default: ./NAME)")
    Path out;

    @Option(names = "--days", description = "Days the certificate is valid (default: ${DEFAULT-VALUE})")
    long days = CertificateAuthority.DEFAULT_VALIDITY.toDays();

    Issue(Cli cli) {
      super(cli);
    }

    abstract Issued issue(CertificateAuthority ca);

    @Override
    final int run() throws IOException {
      CertificateAuthority ca = CertificateAuthority.load(caDir, cli.clock);
      Issued issued = make(() -> issue(ca));
      return written(cli, issued.writeTo(out != null ? out : Path.of(name)));
    }
  }

  private static <T> T make(java.util.function.Supplier<T> what) {
    try {
      return what.get();
    } catch (IllegalArgumentException e) {
      throw new CliException("Error: " + e.getMessage(), 1);
    }
  }

  private static InetAddress ipAddress(String text) {
    // Only literal addresses: a host name here would be resolved, silently, to whatever DNS says today.
    if (!text.matches("[0-9.]+|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*")) {
      throw new IllegalArgumentException("invalid --ip \"" + text + "\": give an IPv4 or IPv6 address (names go in --dns)");
    }
    try {
      return InetAddress.getByName(text);
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("invalid --ip \"" + text + "\": " + e.getMessage());
    }
  }

  /** Prints the files written, one a line. */
  private static int written(Cli cli, List<Path> files) {
    files.forEach(f -> cli.out.println(f));
    return 0;
  }
}
