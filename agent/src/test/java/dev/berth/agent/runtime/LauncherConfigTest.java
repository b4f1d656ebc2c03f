package dev.berth.agent.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class LauncherConfigTest {
  @Test
  void escapesTabsNewlinesAndBackslashes() {
    List<List<String>> table = List.of(
        List.of("plain", "plain"),
        List.of("a\tb", "a\\tb"),
        List.of("line1\nline2", "line1\\nline2"),
        List.of("back\\slash", "back\\\\slash"));
    for (List<String> row : table) {
      assertEquals(row.get(1), LauncherConfig.escape(row.get(0)), row.get(0));
    }
  }

  @Test
  void writesOneDirectivePerLineWithTabSeparatedFields() {
    String text = new LauncherConfig().add("arg", "echo\thi").mount("proc", Path.of("/proc"), "proc", "", "").text();
    assertEquals("version\t1\narg\techo\\thi\nmount\tproc\t/proc\tproc\t-\t-\n", text);
  }

  @Test
  void defaultMountsGiveAMinimalDev() {
    LauncherConfig c = new LauncherConfig();
    ContainerDefaults.mounts(c);
    String text = c.text();
    for (String dev : List.of("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty")) {
      assertTrue(text.contains("device\t" + dev + "\tc\t"), dev);
    }
    assertTrue(text.contains("mount\tsysfs\t/sys\tsysfs\tro,"), "sysfs must be read-only");
    assertTrue(text.contains("newinstance"), "devpts must be a private instance");
  }

  @Test
  void seccompProfileFollowsTheCapabilities() {
    var without = SeccompProfile.rules(ContainerDefaults.CAPABILITIES);
    assertFalse(without.stream().anyMatch(r -> r.syscall().equals("unshare")), "unshare needs CAP_SYS_ADMIN");
    assertFalse(without.stream().anyMatch(r -> r.syscall().equals("mount")));
    assertTrue(without.stream().anyMatch(r -> r.syscall().equals("clone") && !r.conditions().isEmpty()),
        "clone is allowed only without namespace flags");
    assertTrue(without.stream().anyMatch(r -> r.syscall().equals("clone3") && r.action().equals("errno:38")));
    assertTrue(without.stream().anyMatch(r -> r.syscall().equals("chroot")), "CAP_SYS_CHROOT is a default capability");

    var admin = SeccompProfile.rules(Set.of("CAP_SYS_ADMIN"));
    assertTrue(admin.stream().anyMatch(r -> r.syscall().equals("unshare")));
    assertTrue(admin.stream().anyMatch(r -> r.syscall().equals("clone") && r.conditions().isEmpty()));
  }
}
