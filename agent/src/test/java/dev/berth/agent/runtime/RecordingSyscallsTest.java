package dev.berth.agent.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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

  @Override
  protected String netns() {
    return fake.netns();
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

  @Test
  void aSocketRemembersTheNamespaceItWasMadeInAndAPinnedFileLeadsBack() throws Exception {
    Path pin = Files.createFile(dir.resolve("pin"));
    int[] socket = {-1};
    String[] made = {null};
    onFreshThread(() -> {
      fake.unshare(Syscalls.CLONE_NEWNET);
      made[0] = fake.netns();
      fake.mount(THREAD_NETNS.toString(), pin, null, Syscalls.MS_BIND, null);
      socket[0] = fake.socket(Syscalls.AF_NETLINK, Syscalls.SOCK_RAW, Syscalls.NETLINK_ROUTE);
    });
    assertEquals(RecordingSyscalls.HOST_NETNS, fake.netns());
    assertEquals(Optional.of(made[0]), fake.socketNetns(socket[0]));
    int pinFd = fake.open(pin, Syscalls.O_RDONLY);
    onFreshThread(() -> {
      fake.setns(pinFd, Syscalls.CLONE_NEWNET);
      assertEquals(made[0], fake.netns());
    });
    fake.close(pinFd);
    fake.close(socket[0]);
    fake.umount(pin, Syscalls.MNT_DETACH);
    assertTrue(fake.openFds().isEmpty());
  }

  @Test
  void aScriptedKernelAnswersAndRecvRefusesToBlock() {
    fake.kernel((netns, request) -> List.of(new byte[] {1, 2, 3}, new byte[] {4}));
    int fd = fake.socket(Syscalls.AF_NETLINK, Syscalls.SOCK_RAW, Syscalls.NETLINK_ROUTE);
    fake.send(fd, new byte[] {9, 9}, 1);
    assertArrayEquals(new byte[] {9}, (byte[]) fake.calls("send").get(0).arg(1));
    byte[] buf = new byte[2];
    assertEquals(2, fake.recv(fd, buf), "truncated to the buffer");
    assertArrayEquals(new byte[] {1, 2}, buf);
    assertEquals(1, fake.recv(fd, buf));
    assertEquals(RecordingSyscalls.EAGAIN, assertThrows(SyscallException.class, () -> fake.recv(fd, buf)).errno());
    fake.close(fd);
  }

  @Test
  void unshareOfAnotherNamespaceTypeIsRefused() {
    assertThrows(UnsupportedOperationException.class, () -> fake.unshare(0x00020000)); // CLONE_NEWNS
  }
}
