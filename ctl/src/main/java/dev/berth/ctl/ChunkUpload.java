package dev.berth.ctl;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.io.InputStream;
import java.util.concurrent.CountDownLatch;
import java.util.function.Function;

/**
 * The client side of a byte-upload stream (image import, load): optional first message,
 * then the input in 64 KiB chunks as HTTP/2 flow control allows, so a large file is never
 * buffered whole; returns the daemon's single answer.
 *
 * @param <C> the chunk message
 * @param <R> the answer
 */
final class ChunkUpload<C, R> implements ClientResponseObserver<C, R> {
  static final int CHUNK = 64 * 1024;

  private final Function<ByteString, C> chunk;
  private final CountDownLatch done = new CountDownLatch(1);
  private final Object ready = new Object();
  private ClientCallStreamObserver<C> stream;
  private volatile R answer;
  private volatile Throwable failure;

  private ChunkUpload(Function<ByteString, C> chunk) {
    this.chunk = chunk;
  }

  /** Opens the stream with {@code call} and sends {@code first} (if not null), then {@code in}. */
  static <C, R> R send(Function<StreamObserver<R>, StreamObserver<C>> call, C first, Function<ByteString, C> chunk,
      InputStream in) throws IOException, InterruptedException {
    ChunkUpload<C, R> upload = new ChunkUpload<>(chunk);
    call.apply(upload);
    return upload.send(first, in);
  }

  private R send(C first, InputStream in) throws IOException, InterruptedException {
    if (first != null) {
      stream.onNext(first);
    }
    byte[] buf = new byte[CHUNK];
    try {
      for (int n; (n = in.readNBytes(buf, 0, CHUNK)) > 0 && done.getCount() > 0; ) {
        synchronized (ready) {
          while (!stream.isReady() && done.getCount() > 0) {
            ready.wait(100);
          }
        }
        stream.onNext(chunk.apply(ByteString.copyFrom(buf, 0, n)));
      }
    } catch (IOException e) {
      stream.cancel("reading the input failed", e);
      throw e;
    }
    if (done.getCount() > 0) {
      stream.onCompleted();
    }
    done.await();
    Throwable t = failure;
    if (t != null) {
      throw t instanceof StatusRuntimeException s ? s : Status.fromThrowable(t).asRuntimeException();
    }
    return answer;
  }

  @Override
  public void beforeStart(ClientCallStreamObserver<C> s) {
    stream = s;
    s.setOnReadyHandler(this::wake);
  }

  @Override
  public void onNext(R value) {
    answer = value;
  }

  @Override
  public void onError(Throwable t) {
    failure = t;
    done.countDown();
    wake();
  }

  @Override
  public void onCompleted() {
    done.countDown();
    wake();
  }

  private void wake() {
    synchronized (ready) {
      ready.notifyAll();
    }
  }
}
