package dev.berth.agent.registry;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.channels.ClosedByInterruptException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The lean HTTP/1.1 GET of blob bodies, against a raw socket that answers what each case says. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class Http1GetTest {
  private static final Duration SHORT = Duration.ofSeconds(2);
  private ServerSocket server;
  private final AtomicReference<String> request = new AtomicReference<>();

  @AfterEach
  void stop() throws IOException {
    if (server != null) {
      server.close();
    }
  }

  /** A server that reads one request (its head) and writes {@code answer}, then closes (unless {@code hold}). */
  private URI serve(String answer, boolean hold) throws IOException {
    server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
    Thread t = new Thread(() -> {
      try (Socket s = server.accept()) {
        InputStream in = s.getInputStream();
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
          int b = in.read();
          if (b < 0) {
            return;
          }
          head.write(b);
        }
        request.set(head.toString(StandardCharsets.ISO_8859_1));
        OutputStream out = s.getOutputStream();
        out.write(answer.getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
        if (hold) {
          Thread.sleep(20_000);
        }
      } catch (IOException | InterruptedException e) {
        // the test ended
      }
    }, "http1-test-server");
    t.setDaemon(true);
    t.start();
    return URI.create("http://127.0.0.1:" + server.getLocalPort() + "/v2/r/blobs/sha256:ab?x=1");
  }

  private static HttpResponse<InputStream> get(URI uri) throws IOException {
    return Http1Get.send(HttpRequest.newBuilder(uri).build(), uri, Map.of("Range", "bytes=5-"), SHORT, SHORT, SHORT);
  }

  static Stream<Arguments> framings() {
    return Stream.of(
        Arguments.of("Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "hello"),
        Arguments.of("Content-Length, then more bytes (ignored)",
            "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello world", "hello"),
        Arguments.of("chunked, with an extension and a trailer",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nT: 1\r\n\r\n",
            "hello world"),
        Arguments.of("until the connection ends", "HTTP/1.1 200 OK\r\n\r\nhello world", "hello world"),
        Arguments.of("an interim 100 first", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 206 Partial\r\nContent-Length: 2\r\n\r\nhi",
            "hi"),
        Arguments.of("bare LF line ends", "HTTP/1.1 200 OK\nContent-Length: 2\n\nhi", "hi"),
        Arguments.of("no body for 204", "HTTP/1.1 204 No Content\r\n\r\n", ""));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("framings")
  void readsTheBodyAsFramed(String name, String answer, String body) throws Exception {
    HttpResponse<InputStream> r = get(serve(answer, false));
    try (InputStream in = r.body()) {
      assertEquals(body, new String(in.readAllBytes(), StandardCharsets.ISO_8859_1));
    }
  }

  static Stream<Arguments> truncations() {
    return Stream.of(
        Arguments.of("fewer bytes than Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello"),
        Arguments.of("a chunk cut short", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\nhello"),
        Arguments.of("no last chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"),
        Arguments.of("a chunk longer than its size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n"),
        Arguments.of("a malformed chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("truncations")
  void aBodyCutShortIsAnErrorNotAnEnd(String name, String answer) throws Exception {
    HttpResponse<InputStream> r = get(serve(answer, false));
    try (InputStream in = r.body()) {
      assertThrows(IOException.class, in::readAllBytes);
    }
  }

  static Stream<Arguments> malformed() {
    return Stream.of(
        Arguments.of("not HTTP", "SSH-2.0-OpenSSH\r\n\r\n"),
        Arguments.of("two different lengths", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello"),
        Arguments.of("a negative length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"),
        Arguments.of("an unknown transfer encoding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"),
        Arguments.of("a folded header", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n"),
        Arguments.of("the end in the headers", "HTTP/1.1 200 OK\r\nContent-"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("malformed")
  void refusesAMalformedAnswer(String name, String answer) throws Exception {
    URI uri = serve(answer, false);
    assertThrows(IOException.class, () -> get(uri).body().close());
  }

  @Test
  void sendsTheRequestAndGivesTheHeaders() throws Exception {
    URI uri = serve("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 5-6/7\r\nX-Two: a\r\nx-two: b\r\n"
        + "Content-Length: 2\r\n\r\nfg", false);
    HttpResponse<InputStream> r = get(uri);
    try (InputStream in = r.body()) {
      assertEquals(206, r.statusCode());
      assertEquals("bytes 5-6/7", r.headers().firstValue("content-range").orElse(""));
      assertEquals(java.util.List.of("a", "b"), r.headers().allValues("X-TWO"));
      assertArrayEquals("fg".getBytes(StandardCharsets.US_ASCII), in.readAllBytes());
    }
    String head = request.get();
    assertTrue(head.startsWith("GET /v2/r/blobs/sha256:ab?x=1 HTTP/1.1\r\n"), head);
    assertTrue(head.contains("\r\nHost: 127.0.0.1:" + uri.getPort() + "\r\n"), head);
    assertTrue(head.contains("\r\nRange: bytes=5-\r\n") && head.contains("\r\nConnection: close\r\n"), head);
  }

  @Test
  void refusesHeaderInjection() {
    URI uri = URI.create("http://127.0.0.1:9/x");
    assertThrows(IllegalArgumentException.class, () -> Http1Get.send(HttpRequest.newBuilder(uri).build(), uri,
        Map.of("Authorization", "Bearer x\r\nX-Evil: 1"), SHORT, SHORT, SHORT));
  }

  @Test
  void timesOutWithoutAnAnswerAndWithoutBodyBytes() throws Exception {
    URI silent = serve("", true);
    assertThrows(HttpTimeoutException.class, () -> get(silent));
    server.close();
    URI stalled = serve("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", true);
    HttpResponse<InputStream> r = get(stalled);
    try (InputStream in = r.body()) {
      assertThrows(java.net.SocketTimeoutException.class, in::readAllBytes);
    }
  }

  @Test
  void aClosedPortIsAConnectException() throws Exception {
    ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
    URI uri = URI.create("http://127.0.0.1:" + s.getLocalPort() + "/");
    s.close();
    assertThrows(ConnectException.class, () -> get(uri));
  }

  @Test
  void anInterruptEndsABlockedRead() throws Exception {
    URI stalled = serve("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", true);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread t = new Thread(() -> {
      try (InputStream in = Http1Get.send(HttpRequest.newBuilder(stalled).build(), stalled, Map.of(), SHORT, SHORT,
          Duration.ofSeconds(20)).body()) {
        in.readAllBytes();
      } catch (Throwable e) {
        failure.set(e);
      }
    });
    t.start();
    Thread.sleep(300);
    t.interrupt();
    t.join(5_000);
    assertInstanceOf(ClosedByInterruptException.class, failure.get());
  }
}
