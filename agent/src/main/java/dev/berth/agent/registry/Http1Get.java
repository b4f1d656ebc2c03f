package dev.berth.agent.registry;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.channels.SocketChannel;
import java.nio.channels.UnresolvedAddressException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import javax.net.ssl.SSLSession;

/**
 * One {@code GET} over plain HTTP/1.1 on a connection of its own ({@code Connection: close}),
 * for blob bodies: the bytes go from the socket straight into the caller's buffer.
 *
 * <p>Why it exists: the JDK's {@link HttpClient} hands a body over in 16 KiB buffers through
 * its selector thread, a flow of subscribers and a queue; on a fast link that costs about
 * three times the CPU of the socket reads themselves (measured in {@code bench/pull-findings.md}:
 * ~150 against ~45 ms per 100 MB on loopback). A blob download is the one place where that
 * matters, so {@link RegistryClient} uses this there, for plain-HTTP registries; everything
 * else (manifests, tokens, pushes, HTTPS) keeps the JDK client. The answer is an {@link
 * HttpResponse}, so that the client's status, auth and redirect handling applies unchanged.
 *
 * <p>The body is framed as HTTP/1.1 says: chunked, {@code Content-Length}, or up to the end of
 * the connection; a body cut short (the connection closed early, a malformed chunk) is an
 * {@link IOException} from its stream, never a silent end. Interim 1xx answers are skipped.
 * Closing the body closes the connection. Timeouts: {@code connectTimeout} for the connection
 * ({@link HttpConnectTimeoutException}), {@code requestTimeout} until the answer's headers
 * ({@link HttpTimeoutException}), {@code readTimeout} for any read of the body (an
 * {@link IOException}). Failures to connect are {@link ConnectException}s (an unknown host
 * with an {@link UnresolvedAddressException} cause), as the JDK client has them. An interrupt
 * of the calling thread ends a blocked connect or read with a {@link
 * java.nio.channels.ClosedByInterruptException} (the connection is then closed).
 *
 * <p>Stateless; each call is its own connection, used by one thread.
 */
final class Http1Get {
  /** Bounds what is held in memory for the headers of one answer. */
  static final int MAX_HEADER_BYTES = 64 << 10;
  private static final int MAX_HEADER_LINES = 200;
  /**
   * The connection's read buffer: headers and small reads of the body go through it; a read
   * of the body at least this large goes to the socket directly.
   */
  private static final int BUFFER = 64 << 10;

  private Http1Get() {}

  /**
   * Sends {@code GET uri} with {@code headers} (besides Host and Connection) and returns the
   * answer; the caller reads and closes its body.
   *
   * @param request what {@link HttpResponse#request} returns (its URI must be {@code uri})
   * @throws IllegalArgumentException for a URI that is not {@code http://} or a header name or
   *     value with a control character
   */
  static HttpResponse<InputStream> send(HttpRequest request, URI uri, Map<String, String> headers,
      Duration connectTimeout, Duration requestTimeout, Duration readTimeout) throws IOException {
    if (!"http".equals(uri.getScheme()) || uri.getHost() == null) {
      throw new IllegalArgumentException("not a plain HTTP URI: " + uri);
    }
    StringBuilder head = new StringBuilder(256);
    String target = (uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath())
        + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery());
    head.append("GET ").append(target).append(" HTTP/1.1\r\n");
    header(head, "Host", uri.getHost() + (uri.getPort() == -1 ? "" : ":" + uri.getPort()));
    header(head, "Connection", "close");
    headers.forEach((k, v) -> header(head, k, v));
    head.append("\r\n");

    Socket socket = connect(uri, connectTimeout);
    try {
      socket.setSoTimeout(timeoutMillis(requestTimeout));
      socket.getOutputStream().write(head.toString().getBytes(StandardCharsets.ISO_8859_1));
      socket.getOutputStream().flush();
      Wire wire = new Wire(socket);
      int status;
      Map<String, List<String>> answerHeaders;
      try {
        do {
          status = statusOf(wire.line());
          answerHeaders = headersOf(wire);
        } while (status >= 100 && status < 200);
      } catch (SocketTimeoutException e) {
        throw new HttpTimeoutException("no answer from " + uri.getHost() + " in " + requestTimeout.toSeconds() + " s");
      }
      socket.setSoTimeout(timeoutMillis(readTimeout));
      InputStream body = bodyOf(status, answerHeaders, wire);
      return new Answer(request, uri, status, HttpHeaders.of(answerHeaders, (k, v) -> true), body);
    } catch (IOException | RuntimeException e) {
      socket.close();
      throw e;
    }
  }

  private static void header(StringBuilder head, String name, String value) {
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (c <= ' ' || c >= 0x7f || c == ':') {
        throw new IllegalArgumentException("invalid header name \"" + name + "\"");
      }
    }
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if ((c < ' ' && c != '\t') || c == 0x7f || c > 0xff) {
        throw new IllegalArgumentException("invalid value of the header " + name);
      }
    }
    head.append(name).append(": ").append(value).append("\r\n");
  }

  private static int timeoutMillis(Duration d) {
    return (int) Math.max(1, Math.min(d.toMillis(), Integer.MAX_VALUE));
  }

  private static Socket connect(URI uri, Duration timeout) throws IOException {
    int port = uri.getPort() == -1 ? 80 : uri.getPort();
    String host = uri.getHost();
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    InetSocketAddress address = new InetSocketAddress(host, port);
    if (address.isUnresolved()) {
      ConnectException e = new ConnectException("cannot resolve " + host);
      e.initCause(new UnresolvedAddressException());
      throw e;
    }
    // A channel's socket, not a plain Socket: an interrupt of the thread closes it and ends a
    // blocked connect or read (ClosedByInterruptException), as it ends the JDK client's wait.
    Socket socket = SocketChannel.open().socket();
    try {
      socket.setTcpNoDelay(true);
      socket.connect(address, timeoutMillis(timeout));
      return socket;
    } catch (SocketTimeoutException e) {
      socket.close();
      throw new HttpConnectTimeoutException("connecting to " + address + " timed out");
    } catch (UnknownHostException e) {
      socket.close();
      ConnectException c = new ConnectException("cannot resolve " + host);
      c.initCause(new UnresolvedAddressException());
      throw c;
    } catch (IOException | RuntimeException e) {
      socket.close();
      throw e;
    }
  }

  private static int statusOf(String line) throws IOException {
    // HTTP/1.x NNN reason
    if (!line.startsWith("HTTP/1.") || line.length() < 12 || line.charAt(8) != ' '
        || (line.length() > 12 && line.charAt(12) != ' ')) {
      throw new IOException("not an HTTP/1.1 answer: \"" + printable(line) + "\"");
    }
    try {
      int status = Integer.parseInt(line.substring(9, 12));
      if (status < 100 || status > 999) {
        throw new NumberFormatException();
      }
      return status;
    } catch (NumberFormatException e) {
      throw new IOException("not an HTTP status: \"" + printable(line) + "\"");
    }
  }

  /** The header fields up to the empty line, names as sent (HttpHeaders looks them up ignoring case). */
  private static Map<String, List<String>> headersOf(Wire wire) throws IOException {
    Map<String, List<String>> headers = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
    for (int lines = 0; ; lines++) {
      String line = wire.line();
      if (line.isEmpty()) {
        return headers;
      }
      if (lines >= MAX_HEADER_LINES) {
        throw new IOException("the answer has more than " + MAX_HEADER_LINES + " header lines");
      }
      if (line.charAt(0) == ' ' || line.charAt(0) == '\t') {
        throw new IOException("the answer folds a header line, which HTTP/1.1 forbids");
      }
      int colon = line.indexOf(':');
      if (colon <= 0) {
        throw new IOException("malformed header line \"" + printable(line) + "\"");
      }
      headers.computeIfAbsent(line.substring(0, colon).strip(), k -> new ArrayList<>())
          .add(line.substring(colon + 1).strip());
    }
  }

  private static InputStream bodyOf(int status, Map<String, List<String>> headers, Wire wire) throws IOException {
    if (status == 204 || status == 304) {
      wire.close();
      return InputStream.nullInputStream();
    }
    List<String> encodings = headers.getOrDefault("Transfer-Encoding", List.of());
    if (!encodings.isEmpty()) {
      String last = encodings.get(encodings.size() - 1);
      String[] codings = last.split(",");
      if (!codings[codings.length - 1].strip().equalsIgnoreCase("chunked")) {
        throw new IOException("unsupported transfer encoding \"" + printable(last) + "\"");
      }
      if (encodings.size() > 1 || codings.length > 1) {
        throw new IOException("unsupported transfer encodings " + encodings);
      }
      return new Chunked(wire);
    }
    List<String> lengths = headers.getOrDefault("Content-Length", List.of());
    if (!lengths.isEmpty()) {
      long length = -1;
      for (String v : lengths) {
        for (String part : v.split(",")) {
          long l;
          try {
            l = Long.parseLong(part.strip());
          } catch (NumberFormatException e) {
            throw new IOException("invalid Content-Length \"" + printable(v) + "\"");
          }
          if (l < 0 || (length >= 0 && l != length)) {
            throw new IOException("invalid Content-Length " + lengths);
          }
          length = l;
        }
      }
      return new Sized(wire, length);
    }
    return wire; // up to the end of the connection
  }

  private static String printable(String s) {
    String t = s.length() > 100 ? s.substring(0, 100) + "…" : s;
    return t.replaceAll("\\p{Cntrl}", "?");
  }

  /** The connection's bytes: a buffer for headers and chunk lines, direct socket reads for bulk. */
  private static final class Wire extends InputStream {
    private final Socket socket;
    private final InputStream in;
    private final byte[] buf = new byte[BUFFER];
    private int pos;
    private int limit;

    Wire(Socket socket) throws IOException {
      this.socket = socket;
      this.in = socket.getInputStream();
    }

    /** A line without its CRLF (or bare LF); the end of the connection first is an {@link EOFException}. */
    String line() throws IOException {
      StringBuilder line = new StringBuilder();
      while (true) {
        if (pos == limit && !fill()) {
          throw new EOFException("the connection closed in the middle of the answer");
        }
        byte b = buf[pos++];
        if (b == '\n') {
          int n = line.length();
          return n > 0 && line.charAt(n - 1) == '\r' ? line.substring(0, n - 1) : line.toString();
        }
        if (line.length() >= MAX_HEADER_BYTES) {
          throw new IOException("a header line of the answer is longer than " + MAX_HEADER_BYTES + " bytes");
        }
        line.append((char) (b & 0xff));
      }
    }

    private boolean fill() throws IOException {
      int n = in.read(buf, 0, buf.length);
      if (n < 0) {
        return false;
      }
      pos = 0;
      limit = n;
      return true;
    }

    @Override
    public int read() throws IOException {
      if (pos == limit && !fill()) {
        return -1;
      }
      return buf[pos++] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      java.util.Objects.checkFromIndexSize(off, len, b.length);
      if (len == 0) {
        return 0;
      }
      if (pos < limit) {
        int n = Math.min(len, limit - pos);
        System.arraycopy(buf, pos, b, off, n);
        pos += n;
        return n;
      }
      if (len >= buf.length) {
        return in.read(b, off, len);
      }
      if (!fill()) {
        return -1;
      }
      return read(b, off, len);
    }

    @Override
    public int available() throws IOException {
      return limit - pos;
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }

  /** A body of a known length: an early end of the connection is an IOException. */
  private static final class Sized extends InputStream {
    private final Wire wire;
    private final long length;
    private long remaining;

    Sized(Wire wire, long length) {
      this.wire = wire;
      this.length = length;
      this.remaining = length;
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      java.util.Objects.checkFromIndexSize(off, len, b.length);
      if (remaining == 0) {
        return -1;
      }
      if (len == 0) {
        return 0;
      }
      int n = wire.read(b, off, (int) Math.min(len, remaining));
      if (n < 0) {
        throw new EOFException("the connection closed after " + (length - remaining) + " of " + length
            + " bytes of the body");
      }
      remaining -= n;
      return n;
    }

    @Override
    public void close() throws IOException {
      wire.close();
    }
  }

  /** A chunked body; the trailer is read and dropped. */
  private static final class Chunked extends InputStream {
    private final Wire wire;
    private long chunkLeft; // of the current chunk
    private boolean done;

    Chunked(Wire wire) {
      this.wire = wire;
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      java.util.Objects.checkFromIndexSize(off, len, b.length);
      if (len == 0) {
        return done ? -1 : 0;
      }
      if (chunkLeft == 0 && !nextChunk()) {
        return -1;
      }
      int n = wire.read(b, off, (int) Math.min(len, chunkLeft));
      if (n < 0) {
        throw new EOFException("the connection closed in the middle of a chunk of the body");
      }
      chunkLeft -= n;
      if (chunkLeft == 0) {
        crlf();
      }
      return n;
    }

    /** Reads the next chunk's size line; false at the last chunk (its trailer read). */
    private boolean nextChunk() throws IOException {
      if (done) {
        return false;
      }
      String line = wire.line();
      int ext = line.indexOf(';');
      String hex = (ext >= 0 ? line.substring(0, ext) : line).strip();
      long size;
      try {
        size = hex.isEmpty() || hex.length() > 15 ? -1 : Long.parseLong(hex, 16);
      } catch (NumberFormatException e) {
        size = -1;
      }
      if (size < 0) {
        throw new IOException("malformed chunk size \"" + printable(line) + "\"");
      }
      if (size == 0) {
        for (int lines = 0; !wire.line().isEmpty(); lines++) { // the trailer
          if (lines >= MAX_HEADER_LINES) {
            throw new IOException("the body's trailer has more than " + MAX_HEADER_LINES + " lines");
          }
        }
        done = true;
        return false;
      }
      chunkLeft = size;
      return true;
    }

    private void crlf() throws IOException {
      if (!wire.line().isEmpty()) {
        throw new IOException("a chunk of the body does not end where its size says");
      }
    }

    @Override
    public void close() throws IOException {
      wire.close();
    }
  }

  /** The answer, as the JDK client's: status, headers, body. */
  private record Answer(HttpRequest request, URI uri, int statusCode, HttpHeaders headers, InputStream body)
      implements HttpResponse<InputStream> {
    @Override
    public Optional<HttpResponse<InputStream>> previousResponse() {
      return Optional.empty();
    }

    @Override
    public Optional<SSLSession> sslSession() {
      return Optional.empty();
    }

    @Override
    public HttpClient.Version version() {
      return HttpClient.Version.HTTP_1_1;
    }

    @Override
    public String toString() {
      return "(GET " + uri + ") " + statusCode;
    }
  }
}
