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
 * Where berthd listens: a unix socket ({@code /path}, {@code unix:///path}) or a plaintext TCP
 * endpoint ({@code host:port}, {@code tcp://host:port}).
 */
record DaemonAddress(Path socket, String host, int port) {
  static final String DEFAULT = "/run/berth/berthd.sock";

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

  /** A plaintext OkHttp channel; connecting happens on the first call. */
  ManagedChannel connect() {
    PlaintextOnly.install();
    OkHttpChannelBuilder b;
    if (socket != null) {
      // The authority is nominal; the socket factory ignores the address it is given.
      b = OkHttpChannelBuilder.forAddress("localhost", 80).socketFactory(new UnixSocketFactory(socket));
    } else {
      b = OkHttpChannelBuilder.forAddress(host, port);
    }
    return b.usePlaintext().maxInboundMessageSize(64 << 20).build();
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
