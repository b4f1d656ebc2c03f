package dev.berth.agent.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The fake passes the contract, plus what only the fake offers: recording and injected failures. */
class RecordingSyscallsTest extends SyscallsContract {
  private RecordingSyscalls fake;

  @Override
  protected Syscalls create() {
    fake = new RecordingSyscalls();
    return fake;
  }

  @Override
  protected Owner owner(Path path) {
    RecordingSyscalls.Owner o = fake.owner(path);
    return new Owner(o.uid(), o.gid());
  }

  @Override
  protected boolean isMounted(Path path) {
    return fake.isMounted(path);
  }

  @Test
  void recordsEveryCallWithItsArguments() throws IOException {
    Path target = Files.createDirectory(dir.resolve("mnt"));
    fake.mount("proc", target, "proc", Syscalls.MS_NOSUID, null);
    fake.kill(fake.getpid(), 0);
    assertEquals(List.of("mount", "getpid", "kill"), fake.calls().stream().map(RecordingSyscalls.Call::name).toList());
    RecordingSyscalls.Call mount = fake.calls("mount").get(0);
    assertEquals(java.util.Arrays.asList("proc", target, "proc", Syscalls.MS_NOSUID, null), mount.args());
    fake.clearCalls();
    assertTrue(fake.calls().isEmpty());
    assertTrue(fake.isMounted(target), "clearing the calls keeps the state");
  }

  @Test
  void failNextFailsOnlyTheNextCallOfThatName() throws IOException {
    Path target = Files.createDirectory(dir.resolve("mnt"));
    fake.failNext("mount", 16).failNext("mount", 1);
    assertEquals(16, assertThrows(SyscallException.class, () -> fake.mount("tmpfs", target, "tmpfs", 0, null)).errno());
    assertEquals(1, assertThrows(SyscallException.class, () -> fake.mount("tmpfs", target, "tmpfs", 0, null)).errno());
    fake.mount("tmpfs", target, "tmpfs", 0, null);
    assertTrue(fake.isMounted(target));
    assertEquals(3, fake.calls("mount").size(), "failed calls are recorded too");
  }

  @Test
  void mknodRemembersTheDevice() {
    Path node = dir.resolve("tty");
    fake.mknod(node, 'c', 0620, 5, 0);
    assertEquals(Optional.of(new RecordingSyscalls.Device('c', 0620, 5, 0)), fake.device(node));
    assertTrue(Files.isRegularFile(node), "a placeholder file");
    assertEquals(Optional.empty(), fake.device(dir.resolve("other")));
  }

  @Test
  void stackedMountsNeedOneUmountEach() throws IOException {
    Path target = Files.createDirectory(dir.resolve("mnt"));
    fake.mount("a", target, "tmpfs", 0, null);
    fake.mount("b", target, "tmpfs", 0, null);
    fake.umount(target, 0);
    assertTrue(fake.isMounted(target));
    fake.umount(target, 0);
    assertEquals(java.util.Set.of(), fake.mounted());
  }
}
