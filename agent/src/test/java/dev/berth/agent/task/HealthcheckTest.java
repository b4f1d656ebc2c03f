package dev.berth.agent.task;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import dev.berth.agent.image.Healthcheck;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The health check record the task layer runs: merging over the image's, the command, the checks. */
class HealthcheckTest {
  static final Healthcheck IMAGE = new Healthcheck(List.of("CMD", "/bin/check"), Duration.ofSeconds(5),
      Duration.ofSeconds(2), Duration.ofSeconds(30), 4);

  @Test
  void theContainersFieldsWinFieldByField() {
    Healthcheck user = new Healthcheck(List.of(), Duration.ofSeconds(1), null, null, 0);
    assertEquals(new Healthcheck(List.of("CMD", "/bin/check"), Duration.ofSeconds(1), Duration.ofSeconds(2),
        Duration.ofSeconds(30), 4), user.over(IMAGE));
    Healthcheck cmd = new Healthcheck(List.of("CMD-SHELL", "curl -f localhost"), null, null, null, 1);
    assertEquals(List.of("/bin/sh", "-c", "curl -f localhost"), cmd.over(IMAGE).command());
    assertEquals(1, cmd.over(IMAGE).retries());
    assertEquals(user, user.over(null));
  }

  @Test
  void noneDisablesTheImagesCheck() {
    Healthcheck off = Healthcheck.NONE.over(IMAGE);
    assertTrue(off.disabled());
    assertFalse(off.enabled());
    assertEquals(List.of(), off.command());
    assertEquals(List.of("/bin/check"), IMAGE.command());
  }

  @Test
  void refusesWhatDockerRefuses() {
    assertThrows(BerthException.class, () -> new Healthcheck(List.of("SHELL", "x"), null, null, null, 0).validate());
    assertThrows(BerthException.class, () -> new Healthcheck(List.of("CMD"), null, null, null, 0).validate());
    assertThrows(BerthException.class, () -> new Healthcheck(List.of("CMD", "x"), Duration.ofNanos(10), null, null, 0).validate());
    assertThrows(BerthException.class, () -> new Healthcheck(List.of("CMD", "x"), null, Duration.ofSeconds(-1), null, 0).validate());
    assertThrows(BerthException.class, () -> new Healthcheck(List.of("CMD", "x"), null, null, null, -1).validate());
    Healthcheck.NONE.validate();
    IMAGE.validate();
  }
}
