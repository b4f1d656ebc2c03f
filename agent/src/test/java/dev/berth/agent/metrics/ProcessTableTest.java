package dev.berth.agent.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** berth top's process table from a /proc fixture. */
class ProcessTableTest {
  @TempDir Path proc;
  @TempDir Path etc;

  void process(int pid, String stat, int euid, byte[] cmdline) throws IOException {
    Path d = Files.createDirectories(proc.resolve(Integer.toString(pid)));
    Files.writeString(d.resolve("stat"), stat);
    Files.writeString(d.resolve("status"), "Name:\tx\nUid:\t0\t" + euid + "\t" + euid + "\t" + euid + "\n");
    Files.write(d.resolve("cmdline"), cmdline);
  }

  @Test
  void readsPsColumnsAndSkipsProcessesThatAreGone() throws IOException {
    Files.writeString(proc.resolve("stat"), "cpu  1 2 3\nbtime 1714560000\nprocesses 9\n");
    Files.writeString(etc.resolve("passwd"), "root:x:0:0:root:/root:/bin/sh\nwww:x:33:33::/var/www:/bin/false\n");
    // A command with spaces and parentheses in its name: fields count from the last ')'.
    process(4242, "4242 (my (odd) cmd) S 4240 4242 4242 0 -1 4194560 100 0 0 0 250 120 0 0 20 0 1 0 3000 1000 10\n", 33,
        "httpd\0-f\0-p\080\0".getBytes());
    process(4250, "4250 (sh) Z 4242 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 5000 0 0\n", 1234, new byte[0]);
    List<ProcessTable.Process> ps = new ProcessTable(proc, etc.resolve("passwd")).read(List.of(4242, 4250, 999));
    assertEquals(List.of(
        new ProcessTable.Process(4242, 4240, 33, "www", 3700, 1714560000 + 30, "S", "httpd -f -p 80"),
        new ProcessTable.Process(4250, 4242, 1234, "1234", 30, 1714560000 + 50, "Z", "[sh]")), ps);
  }
}
