package dev.berth.ctl;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.okhttp.OkHttpChannelBuilder;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Where berthd listens: a unix socket ({@code /path}, {@code unix:///path}) or a TCP endpoint
 * ({@code host:port}, {@code tcp://host:port}), plaintext or, with {@link #tls}, mutual TLS.
 *
 * @param tls the client's TLS material on TCP; null for plaintext (and always for a socket)
 */
record DaemonAddress(Path socket, String host, int port, ClientTls tls) {
  static final String DEFAULT = "/run/berth/berthd.sock";

  DaemonAddress(Path socket, String host, int port) {
    this(socket, host, port, null);
  }

  /**
   * This address with TLS; null keeps it plaintext. TLS on a unix socket is refused: the
   * socket is root's alone, and a TLS flag there is a mistake worth saying.
   */
  DaemonAddress withTls(ClientTls t) {
    if (t == null) {
      return this;
    }
    if (socket != null) {
      throw new CliException("TLS applies to tcp:// hosts only, not to the unix socket " + display(), 1);
    }
    return new DaemonAddress(null, host, port, t);
  }

  /** Parses -H / BERTH_HOST; null or blank means the default socket. */
  static DaemonAddress parse(String spec) {
    String s = spec == null || spec.isBlank() ? DEFAULT : spec.trim();
    if (s.startsWith("unix://")) {
      return unix(s.substring("unix://".length()), spec);
    }
    if (s.startsWith("/") || s.startsWith("./") || s.startsWith("../")) {
      return unix(s, spec);
    }
    String hp = s.startsWith("tcp://") ? s.substring("tcp://".length()) : s;
    if (hp.endsWith("/")) {
      hp = hp.substring(0, hp.length() - 1);
    }
    int colon = hp.lastIndexOf(':');
    if (colon <= 0 || colon == hp.length() - 1 || hp.contains("://")) {
      throw new CliException("invalid host \"" + spec + "\": want /path/to.sock, unix:///path or host:port", 1);
    }
    String host = hp.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    try {
      int port = Integer.parseInt(hp.substring(colon + 1));
      if (port <= 0 || port > 65535) {
        throw new NumberFormatException();
      }
      return new DaemonAddress(null, host, port);
    } catch (NumberFormatException e) {
      throw new CliException("invalid host \"" + spec + "\": bad port", 1);
    }
  }

  private static DaemonAddress unix(String path, String spec) {
    if (path.isEmpty()) {
      throw new CliException("invalid host \"" + spec + "\": empty socket path", 1);
    }
    return new DaemonAddress(Path.of(path), null, 0);
  }

  /** The address as the error messages show it: unix:///path or tcp://host:port. */
  String display() {
    if (socket != null) {
      return "unix://" + socket;
    }
    return "tcp://" + (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
  }

  /**
   * An OkHttp channel, plaintext or (with {@link #tls}) mutual TLS that verifies the agent's
   * certificate against the CA and the host name or address dialled against its names;
   * connecting happens on the first call. Throws a CliException when the TLS files are unusable.
   */
  ManagedChannel connect() {
    OkHttpChannelBuilder b;
    if (socket != null) {
      // The authority is nominal; the socket factory ignores the address it is given.
      b = OkHttpChannelBuilder.forAddress("localhost", 80).socketFactory(new UnixSocketFactory(socket)).usePlaintext();
    } else if (tls != null) {
      b = OkHttpChannelBuilder.forAddress(host, port).sslSocketFactory(tls.socketFactory());
    } else {
      b = OkHttpChannelBuilder.forAddress(host, port).usePlaintext();
    }
    return b.maxInboundMessageSize(64 << 20).build();
  }

  /** True when the call failed because nothing answered at the address, not because the daemon said no. */
  static boolean unreachable(StatusRuntimeException e) {
    if (e.getStatus().getCode() != io.grpc.Status.Code.UNAVAILABLE) {
      return false;
    }
    for (Throwable t = e.getCause(); t != null; t = t.getCause()) {
      if (t instanceof ConnectException || t instanceof NoRouteToHostException
          || t instanceof UnknownHostException) {
        return true;
      }
    }
    return false;
  }

  /** Why the TLS handshake failed, when that is why the call failed; else null. */
  static String tlsFailure(StatusRuntimeException e) {
    for (Throwable t = e.getCause(); t != null; t = t.getCause()) {
      if (t instanceof javax.net.ssl.SSLException) {
        return t.getMessage();
      }
    }
    return null;
  }

  /** True when the socket exists but this user may not open it. */
  static boolean permissionDenied(StatusRuntimeException e) {
    for (Throwable t = e.getCause(); t != null; t = t.getCause()) {
      String m = t.getMessage();
      if (m != null && m.toLowerCase(Locale.ROOT).contains("permission denied")) {
        return true;
      }
    }
    return false;
  }
}
