package dev.berth.ctl;

import dev.berth.proto.v1.ContainerServiceGrpc;
import dev.berth.proto.v1.ImageServiceGrpc;
import dev.berth.proto.v1.SystemServiceGrpc;
import dev.berth.proto.v1.VolumeServiceGrpc;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.io.BufferedOutputStream;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.ZoneId;
import java.util.Map;
import java.util.function.Function;

/**
 * One invocation's world: its streams, environment, clock, terminal and the channel to the
 * daemon (opened on first use). Tests build one around buffers and an in-process channel.
 */
final class Cli implements AutoCloseable {
  /** The global options that name a TLS file (each takes a value); both parsers know them. */
  static final java.util.List<String> TLS_FILE_OPTIONS = java.util.List.of("--tlscacert", "--tlscert", "--tlskey");

  final PrintStream out;
  final PrintStream err;
  final InputStream in;
  final Map<String, String> env;
  final Clock clock;
  private final ZoneId zone;
  final Terminal terminal;
  private final Function<DaemonAddress, ManagedChannel> connector;
  private String host;
  private java.nio.file.Path tlsCa;
  private java.nio.file.Path tlsCert;
  private java.nio.file.Path tlsKey;
  private boolean tlsVerify;
  private ManagedChannel channel;

  /**
   * @param zone where dates are printed; null: the system's, looked up when first needed (the
   *     time-zone database costs ~15 ms to load, and `ps` never needs it)
   * @param connector opens the channel for an address; null: {@link DaemonAddress#connect}
   */
  Cli(PrintStream out, PrintStream err, InputStream in, Map<String, String> env, Clock clock,
      ZoneId zone, Terminal terminal, Function<DaemonAddress, ManagedChannel> connector) {
    this.out = out;
    this.err = err;
    this.in = in;
    this.env = env;
    this.clock = clock;
    this.zone = zone;
    this.terminal = terminal;
    this.connector = connector;
  }

  /** The real process: fd 0/1/2 (stdout buffered, flushed by the commands), the system clock. */
  static Cli forProcess() {
    PrintStream out = new PrintStream(new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 1 << 16), false, StandardCharsets.UTF_8);
    PrintStream err = new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8);
    return new Cli(out, err, new FileInputStream(FileDescriptor.in), System.getenv(),
        Clock.systemUTC(), null, Terminal.system(), null);
  }

  ZoneId zone() {
    return zone != null ? zone : ZoneId.systemDefault();
  }

  /** -H; null falls back to BERTH_HOST, then the default socket. */
  void host(String host) {
    this.host = host;
  }

  /** --tlscacert, --tlscert, --tlskey, --tlsverify; each null/false falls back as {@link ClientTls#resolve} says. */
  void tls(java.nio.file.Path ca, java.nio.file.Path cert, java.nio.file.Path key, boolean verify) {
    if (ca != null) {
      tlsCa = ca;
    }
    if (cert != null) {
      tlsCert = cert;
    }
    if (key != null) {
      tlsKey = key;
    }
    tlsVerify |= verify;
  }

  /**
   * The daemon's address with the TLS settings of this invocation. TLS set only by the
   * environment is left out for a unix socket (one shell may talk to a remote agent and the
   * local one); set by a flag it is an error there.
   */
  DaemonAddress address() {
    DaemonAddress a = DaemonAddress.parse(host != null ? host : env.get("BERTH_HOST"));
    boolean flagged = tlsCa != null || tlsCert != null || tlsKey != null || tlsVerify;
    if (a.socket() != null && !flagged) {
      return a;
    }
    return a.withTls(ClientTls.resolve(tlsCa, tlsCert, tlsKey, tlsVerify, env));
  }

  ManagedChannel channel() {
    if (channel == null) {
      DaemonAddress a = address();
      if (connector != null) {
        channel = connector.apply(a);
      } else {
        if (a.tls() == null) {
          // Only here, in the real process, and only for plaintext: it disables TLS process-wide.
          PlaintextOnly.install();
        }
        channel = a.connect();
      }
    }
    return channel;
  }

  ContainerServiceGrpc.ContainerServiceBlockingStub containers() {
    return ContainerServiceGrpc.newBlockingStub(channel());
  }

  ContainerServiceGrpc.ContainerServiceStub containersAsync() {
    return ContainerServiceGrpc.newStub(channel());
  }

  ImageServiceGrpc.ImageServiceBlockingStub images() {
    return ImageServiceGrpc.newBlockingStub(channel());
  }

  ImageServiceGrpc.ImageServiceStub imagesAsync() {
    return ImageServiceGrpc.newStub(channel());
  }

  VolumeServiceGrpc.VolumeServiceBlockingStub volumes() {
    return VolumeServiceGrpc.newBlockingStub(channel());
  }

  SystemServiceGrpc.SystemServiceBlockingStub systemService() {
    return SystemServiceGrpc.newBlockingStub(channel());
  }

  /** Prints a failed call the way docker does and tells whether the daemon was reachable at all. */
  boolean report(StatusRuntimeException e) {
    out.flush();
    if (DaemonAddress.permissionDenied(e)) {
      err.println("permission denied while trying to connect to the Berth daemon socket at "
          + address().display());
      return false;
    }
    String tlsFailure = DaemonAddress.tlsFailure(e);
    if (tlsFailure != null && address().tls() != null && refusedClientCertificate(tlsFailure)) {
      // The server's alert arrived during the handshake (timing decides whether it does, or the
      // connection just closes, below): it refused our certificate.
      err.println("The Berth daemon at " + address().display() + " closed the TLS connection: it accepts only client "
          + "certificates of its cluster CA (check --tlscert, --tlskey or BERTH_CERT_PATH): " + tlsFailure);
      return false;
    }
    if (tlsFailure != null) {
      err.println("TLS handshake with the Berth daemon at " + address().display() + " failed: " + tlsFailure);
      return false;
    }
    if (DaemonAddress.unreachable(e)) {
      err.println("Cannot connect to the Berth daemon at " + address().display() + ". Is berthd running?");
      return false;
    }
    if (e.getStatus().getCode() == io.grpc.Status.Code.UNAVAILABLE && e.getStatus().getDescription() == null
        && address().tls() != null) {
      // TLS 1.3: the client's handshake ends before the server has judged its certificate, so a
      // refused certificate shows only as the connection closing.
      err.println("The Berth daemon at " + address().display() + " closed the TLS connection: it accepts only client "
          + "certificates of its cluster CA (check --tlscert, --tlskey or BERTH_CERT_PATH)");
      return false;
    }
    String d = e.getStatus().getDescription();
    err.println("Error response from daemon: " + (d != null && !d.isEmpty() ? d : e.getStatus().getCode().toString()));
    return true;
  }

  /** The alerts a TLS server sends when it does not accept the client's certificate. */
  private static boolean refusedClientCertificate(String failure) {
    return failure.contains("handshake_failure") || failure.contains("bad_certificate")
        || failure.contains("certificate_required") || failure.contains("unknown_ca");
  }

  /** Flushes and drops the channel without waiting for it: the process is about to exit. */
  @Override
  public void close() {
    out.flush();
    err.flush();
    if (channel != null) {
      channel.shutdownNow();
      channel = null;
    }
  }
}
