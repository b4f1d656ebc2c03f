package dev.berth.agent.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

class RestartPolicyTest {
  /** policy, exit code, exit unknown, restarts so far, stopped by the user, this run cancelled → restart after the exit, at agent start. */
  static Stream<Arguments> decisions() {
    return Stream.of(
        // policy          code unknown count stopped cancel  after  atStart
        row("no",             1, false, 0, false, false, false, false),
        row("no",             0, true,  0, false, false, false, false),
        row("always",         0, false, 0, false, false, true,  true),
        row("always",         1, false, 9, false, false, true,  true),
        row("always",       137, false, 0, true,  true,  false, true),   // stopped: not now, but after a reboot
        row("always",         0, false, 0, true,  false, true,  true),   // kill -TERM by the user: still always
        row("unless-stopped", 0, false, 0, false, false, true,  true),
        row("unless-stopped", 143, false, 0, true, true, false, false),  // stopped: never again until started
        row("unless-stopped", 0, true,  0, false, false, true,  true),   // rebooted under it
        row("on-failure",     0, false, 0, false, false, false, false),  // success is not a failure
        row("on-failure",     1, false, 0, false, false, true,  true),
        row("on-failure",     1, false, 99, false, false, true, true),   // no limit
        row("on-failure",    -1, true,  0, false, false, true,  true),   // unknown exit: a failure, as Docker's
        row("on-failure:3",   3, false, 2, false, false, true,  true),
        row("on-failure:3",   3, false, 3, false, false, false, false),  // the limit reached
        row("on-failure:3",   3, true,  3, false, false, false, false),
        row("on-failure",   137, false, 0, true,  true,  false, false),  // stopped by the user
        row("on-failure",     1, false, 0, true,  false, true,  false)); // killed with a signal it dies of
  }

  private static Arguments row(String policy, int code, boolean unknown, int count, boolean stopped, boolean cancelled,
      boolean after, boolean atStart) {
    return Arguments.of(policy, code, unknown, count, stopped, cancelled, after, atStart);
  }

  @ParameterizedTest(name = "{0} exit {1} unknown={2} count={3} stopped={4} cancelled={5}")
  @MethodSource("decisions")
  void decides(String policy, int code, boolean unknown, int count, boolean stopped, boolean cancelled, boolean after,
      boolean atStart) {
    String[] p = policy.split(":");
    RestartPolicy r = RestartPolicy.of(p[0], p.length > 1 ? Integer.parseInt(p[1]) : 0);
    RestartPolicy.Exit e = new RestartPolicy.Exit(code, unknown, count, stopped, cancelled);
    assertEquals(after, r.restartsAfter(e), "after the exit");
    assertEquals(atStart, r.restartsAtAgentStart(e), "at agent start");
  }

  @ParameterizedTest
  @CsvSource(value = {
      "'', 0, no",
      "no, 0, no",
      "always, 0, always",
      "ALWAYS, 0, always",
      "unless-stopped, 0, unless-stopped",
      "on-failure, 0, on-failure",
      "on-failure, 5, on-failure:5"})
  void parses(String name, int max, String shown) {
    assertEquals(shown, RestartPolicy.of(name, max).toString());
  }

  @ParameterizedTest
  @CsvSource(value = {
      "sometimes, 0, invalid restart policy \"sometimes\"",
      "on-failure, -1, cannot be negative",
      "always, 3, only be used with 'on-failure'",
      "no, 1, only be used with 'on-failure'"})
  void refuses(String name, int max, String message) {
    BerthException e = assertThrows(BerthException.class, () -> RestartPolicy.of(name, max));
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind());
    assertTrue(e.getMessage().contains(message), e.getMessage());
  }
}
