package dev.berth.agent.task;

import dev.berth.agent.BerthException;
import java.util.Locale;

/**
 * A container's restart policy, as {@code run --restart} names it, and what it decides. Pure.
 *
 * @param maxRetries on-failure's limit of restarts; 0: no limit (always 0 for the other modes)
 */
public record RestartPolicy(Mode mode, int maxRetries) {
  /** Docker's four policies. */
  public enum Mode {
    NO("no"), ON_FAILURE("on-failure"), ALWAYS("always"), UNLESS_STOPPED("unless-stopped");

    private final String word;

    Mode(String word) {
      this.word = word;
    }

    public String word() {
      return word;
    }
  }

  /** The default: never restarted. */
  public static final RestartPolicy NO = new RestartPolicy(Mode.NO, 0);

  /**
   * The policy named {@code name} (empty: no), checked as Docker's daemon checks it.
   *
   * @throws BerthException INVALID_ARGUMENT for an unknown name, a negative limit, or a limit
   *     with a policy other than on-failure
   */
  public static RestartPolicy of(String name, int maxRetries) {
    Mode mode = switch (name == null ? "" : name.toLowerCase(Locale.ROOT)) {
      case "", "no" -> Mode.NO;
      case "on-failure" -> Mode.ON_FAILURE;
      case "always" -> Mode.ALWAYS;
      case "unless-stopped" -> Mode.UNLESS_STOPPED;
      default -> throw BerthException.invalid("invalid restart policy \"" + name
          + "\": use no, on-failure[:max-retries], always or unless-stopped");
    };
    if (maxRetries < 0) {
      throw BerthException.invalid("invalid restart policy: maximum retry count cannot be negative");
    }
    if (maxRetries > 0 && mode != Mode.ON_FAILURE) {
      throw BerthException.invalid("invalid restart policy: maximum retry count can only be used with 'on-failure'");
    }
    return new RestartPolicy(mode, maxRetries);
  }

  /**
   * How a run ended and what the user did about it: what the decisions read.
   *
   * @param exitUnknown the launcher died with the container (or the host restarted): counts as a failure,
   *     as Docker counts an exit its daemon never saw
   * @param restartCount restarts so far since the user last started it
   * @param stoppedByUser the user stopped it (Docker's HasBeenManuallyStopped), persisted
   * @param cancelled the user stopped, killed or removed this very run: its exit restarts nothing
   */
  public record Exit(int exitCode, boolean exitUnknown, int restartCount, boolean stoppedByUser, boolean cancelled) {
    public boolean failed() {
      return exitUnknown || exitCode != 0;
    }
  }

  /** Whether a run that just ended, while the agent ran, is started again. */
  public boolean restartsAfter(Exit e) {
    if (e.cancelled()) {
      return false;
    }
    return switch (mode) {
      case NO -> false;
      case ALWAYS -> true;
      case UNLESS_STOPPED -> !e.stoppedByUser();
      case ON_FAILURE -> e.failed() && underLimit(e);
    };
  }

  /**
   * Whether a container the agent finds not running when it starts (after a reboot, or one that
   * ended while the agent was away) is started again: {@code always} even when the user had
   * stopped it, as Docker's daemon does; the others only when the user had not.
   */
  public boolean restartsAtAgentStart(Exit e) {
    return switch (mode) {
      case NO -> false;
      case ALWAYS -> true;
      case UNLESS_STOPPED -> !e.stoppedByUser();
      case ON_FAILURE -> !e.stoppedByUser() && e.failed() && underLimit(e);
    };
  }

  private boolean underLimit(Exit e) {
    return maxRetries == 0 || e.restartCount() < maxRetries;
  }

  /** As {@code --restart} takes it: "no", "always", "on-failure:3". */
  @Override
  public String toString() {
    return mode == Mode.ON_FAILURE && maxRetries > 0 ? mode.word() + ":" + maxRetries : mode.word();
  }
}
