package dev.berth.agent.it;

import dev.berth.proto.v1.AttachInput;
import dev.berth.proto.v1.AttachOpen;
import dev.berth.proto.v1.AttachOutput;
import dev.berth.proto.v1.ContainerServiceGrpc;
import dev.berth.proto.v1.ExecInput;
import dev.berth.proto.v1.ExecSpec;
import dev.berth.proto.v1.ExitStatus;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** The output and exit of an attached run or an exec, collected for assertions. */
public final class Attached implements StreamObserver<AttachOutput> {
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();
  private final CompletableFuture<ExitStatus> exit = new CompletableFuture<>();

  /** Starts a created container attached, as `berth run` without -d does. */
  public static Attached start(ContainerServiceGrpc.ContainerServiceStub stub, String id) {
    Attached a = new Attached();
    StreamObserver<AttachInput> in = stub.attach(a);
    in.onNext(AttachInput.newBuilder().setOpen(AttachOpen.newBuilder().setId(id).setStart(true)).build());
    a.input = in;
    return a;
  }

  public static Attached exec(ContainerServiceGrpc.ContainerServiceStub stub, ExecSpec spec) {
    Attached a = new Attached();
    StreamObserver<ExecInput> in = stub.exec(a);
    in.onNext(ExecInput.newBuilder().setExec(spec).build());
    a.execInput = in;
    return a;
  }

  StreamObserver<AttachInput> input;
  StreamObserver<ExecInput> execInput;

  @Override
  public synchronized void onNext(AttachOutput o) {
    switch (o.getOutputCase()) {
      case STDOUT -> out.writeBytes(o.getStdout().toByteArray());
      case STDERR -> err.writeBytes(o.getStderr().toByteArray());
      case EXIT -> exit.complete(o.getExit());
      default -> { }
    }
  }

  @Override
  public void onError(Throwable t) {
    exit.completeExceptionally(t);
  }

  @Override
  public void onCompleted() {
    if (input != null) {
      input.onCompleted();
    }
    if (execInput != null) {
      execInput.onCompleted();
    }
  }

  public ExitStatus await() throws Exception {
    return exit.get(60, TimeUnit.SECONDS);
  }

  public int exitCode() throws Exception {
    return await().getExitCode();
  }

  public synchronized String stdout() {
    return out.toString(StandardCharsets.UTF_8);
  }

  public synchronized String stderr() {
    return err.toString(StandardCharsets.UTF_8);
  }
}
