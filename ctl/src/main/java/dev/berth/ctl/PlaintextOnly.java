package dev.berth.ctl;

import java.security.KeyManagementException;
import java.security.Provider;
import java.security.SecureRandom;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLContextSpi;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLServerSocketFactory;
import javax.net.ssl.SSLSessionContext;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManager;

/**
 * Saves a third of a short command's run time: grpc-okhttp's {@code Platform} probes for TLS
 * and ALPN support in a static initializer that {@code OkHttpChannelBuilder} triggers, building
 * the JDK's default SSLContext (providers, the cacerts trust store, a TLS engine: 100-150 ms
 * on JDK 17). When an invocation speaks plaintext (unix socket, or host:port without TLS),
 * {@link Cli#channel()} installs, before the first OkHttp class loads, a default SSLContext
 * that offers nothing; the probe then falls back to a plain platform at once. That platform has
 * no ALPN, so TLS is then impossible in this process: an invocation that uses TLS
 * ({@link ClientTls}) never installs this, and pays for the probe.
 */
final class PlaintextOnly {
  private static volatile boolean installed;

  private PlaintextOnly() {
  }

  static void install() {
    if (!installed) {
      synchronized (PlaintextOnly.class) {
        if (!installed) {
          SSLContext.setDefault(new SSLContext(new NoTls(), new NoTlsProvider(), "none") { });
          installed = true;
        }
      }
    }
  }

  private static final class NoTlsProvider extends Provider {
    private static final long serialVersionUID = 1L;

    NoTlsProvider() {
      super("berth-plaintext", "1", "The berth CLI speaks plaintext gRPC only");
    }
  }

  private static final class NoTls extends SSLContextSpi {
    private static UnsupportedOperationException unsupported() {
      return new UnsupportedOperationException("TLS is not supported by the berth CLI");
    }

    @Override
    protected void engineInit(KeyManager[] km, TrustManager[] tm, SecureRandom sr) throws KeyManagementException {
      throw new KeyManagementException("TLS is not supported by the berth CLI");
    }

    @Override
    protected SSLSocketFactory engineGetSocketFactory() {
      throw unsupported();
    }

    @Override
    protected SSLServerSocketFactory engineGetServerSocketFactory() {
      throw unsupported();
    }

    @Override
    protected SSLEngine engineCreateSSLEngine() {
      throw unsupported();
    }

    @Override
    protected SSLEngine engineCreateSSLEngine(String host, int port) {
      throw unsupported();
    }

    @Override
    protected SSLSessionContext engineGetServerSessionContext() {
      throw unsupported();
    }

    @Override
    protected SSLSessionContext engineGetClientSessionContext() {
      throw unsupported();
    }
  }
}
