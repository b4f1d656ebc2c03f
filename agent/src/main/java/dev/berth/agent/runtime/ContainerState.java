package dev.berth.agent.runtime;

import java.time.Instant;

/** Where a container is in its life; replaced as a whole on every change. */
public record ContainerState(
    Status status,
    int pid,
    int shimPid,
    int exitCode,
    boolean oomKilled,
    boolean exitUnknown,
    String error,
    Instant startedAt,
    Instant finishedAt) {

  public enum Status { CREATED, RUNNING, EXITED, REMOVING }

  public static final ContainerState CREATED = new ContainerState(Status.CREATED, 0, 0, 0, false, false, "", null, null);

  public boolean running() {
    return status == Status.RUNNING;
  }

  public ContainerState running(int pid, int shimPid, Instant at) {
    return new ContainerState(Status.RUNNING, pid, shimPid, 0, false, false, "", at, null);
  }

  public ContainerState exited(int code, boolean oom, boolean unknown, String err, Instant at) {
    return new ContainerState(Status.EXITED, 0, 0, code, oom, unknown, err == null ? "" : err, startedAt, at);
  }

  public ContainerState removing() {
    return new ContainerState(Status.REMOVING, pid, shimPid, exitCode, oomKilled, exitUnknown, error, startedAt, finishedAt);
  }
}
