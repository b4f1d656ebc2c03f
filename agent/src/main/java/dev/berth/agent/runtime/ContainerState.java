package dev.berth.agent.runtime;

import java.time.Instant;

/**
 * Where a container is in its life; replaced as a whole on every change.
 *
 * @param restartCount restarts by its restart policy since the user last started it (Docker's
 *     RestartCount); 0 in state files older than restart policies
 * @param stoppedByUser the user stopped or killed it and has not started it since (Docker's
 *     HasBeenManuallyStopped): an {@code unless-stopped} container stays down, also after a reboot
 */
public record ContainerState(
    Status status,
    int pid,
    int shimPid,
    int exitCode,
    boolean oomKilled,
    boolean exitUnknown,
    String error,
    Instant startedAt,
    Instant finishedAt,
    int restartCount,
    boolean stoppedByUser) {

  public enum Status { CREATED, RUNNING, EXITED, REMOVING }

  public static final ContainerState CREATED =
      new ContainerState(Status.CREATED, 0, 0, 0, false, false, "", null, null, 0, false);

  public boolean running() {
    return status == Status.RUNNING;
  }

  /** A new run; its restart count and whether the user stopped it carry over (see {@link #userStart}). */
  public ContainerState running(int pid, int shimPid, Instant at) {
    return new ContainerState(Status.RUNNING, pid, shimPid, 0, false, false, "", at, null, restartCount, false);
  }

  public ContainerState exited(int code, boolean oom, boolean unknown, String err, Instant at) {
    return new ContainerState(Status.EXITED, 0, 0, code, oom, unknown, err == null ? "" : err, startedAt, at,
        restartCount, stoppedByUser);
  }

  public ContainerState removing() {
    return new ContainerState(Status.REMOVING, pid, shimPid, exitCode, oomKilled, exitUnknown, error, startedAt, finishedAt,
        restartCount, stoppedByUser);
  }

  /** As before a start by the user: no restarts counted, not stopped (Docker resets both on docker start). */
  public ContainerState userStart() {
    return new ContainerState(status, pid, shimPid, exitCode, oomKilled, exitUnknown, error, startedAt, finishedAt, 0, false);
  }

  /** As before a restart by the restart policy: one more counted. */
  public ContainerState policyRestart() {
    return new ContainerState(status, pid, shimPid, exitCode, oomKilled, exitUnknown, error, startedAt, finishedAt,
        restartCount + 1, stoppedByUser);
  }

  public ContainerState stoppedByUser(boolean stopped) {
    return new ContainerState(status, pid, shimPid, exitCode, oomKilled, exitUnknown, error, startedAt, finishedAt,
        restartCount, stopped);
  }
}
