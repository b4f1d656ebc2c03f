package dev.berth.agent.runtime.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import dev.berth.agent.runtime.RecordingSyscalls;
import dev.berth.agent.runtime.SyscallException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link NetNamespaces} over the recording fake: which thread goes where, what is pinned, and
 * what is undone on failure.
 */
class NetNamespacesTest {
  static final int EPERM = 1;

  @TempDir Path dir;
  final RecordingSyscalls sys = new RecordingSyscalls();
  /** The namespaces the fake kernel was asked things in, in order. */
  final List<String> askedIn = Collections.synchronizedList(new ArrayList<>());
  final NetNamespaces netns = new NetNamespaces(sys.kernel((ns, request) -> {
    askedIn.add(ns);
    return RecordingSyscalls.acceptEverything(ns, request);
  }));

  @AfterEach
  void close() {
    netns.close();
    assertTrue(sys.openFds().isEmpty(), "no descriptor leaks: " + sys.openFds());
  }

  @Test
  void createPinsANewNamespaceWithLoUpAndComesBack() {
    Path pin = dir.resolve("ns1");
    netns.create(pin);
    assertTrue(sys.isMounted(pin));
    assertEquals(List.of(RecordingSyscalls.THREAD_NETNS.toString()), sys.calls("mount").stream()
        .map(c -> (String) c.arg(0)).toList());
    assertEquals(1, askedIn.size(), "one request: lo up");
    String pinned = askedIn.get(0);
    assertNotEquals(RecordingSyscalls.HOST_NETNS, pinned);
    assertEquals(RecordingSyscalls.HOST_NETNS, sys.netns(), "the caller never moved");

    java.util.Set<Integer> before = sys.openFds();
    try (Netlink inside = netns.netlink(pin)) {
      int fd = sys.openFds().stream().filter(f -> !before.contains(f)).findFirst().orElseThrow(); // its socket
      assertEquals(pinned, sys.socketNetns(fd).orElseThrow(), "the socket belongs to the pinned namespace");
      assertEquals(List.of(), inside.links(), "and answers from there");
      assertEquals(pinned, askedIn.get(askedIn.size() - 1));
    }
    assertEquals(pinned, netns.call(pin, sys::netns), "call runs inside");
    assertEquals(RecordingSyscalls.HOST_NETNS, netns.thread.run(sys::netns), "and the thread came back home");

    netns.delete(pin);
    assertFalse(sys.isMounted(pin));
    assertFalse(Files.exists(pin));
    netns.delete(pin); // idempotent
  }

  @Test
  void aPinThatExistsIsRefused() throws IOException {
    Path pin = Files.createFile(dir.resolve("taken"));
    BerthException e = assertThrows(BerthException.class, () -> netns.create(pin));
    assertEquals(BerthException.Kind.ALREADY_EXISTS, e.kind());
    assertTrue(sys.calls("unshare").isEmpty());
  }

  @Test
  void aFailedMountLeavesNothing() {
    Path pin = dir.resolve("ns1");
    sys.failNext("mount", EPERM);
    assertEquals(EPERM, assertThrows(SyscallException.class, () -> netns.create(pin)).errno());
    assertFalse(Files.exists(pin));
    assertTrue(sys.mounted().isEmpty());
    assertEquals(RecordingSyscalls.HOST_NETNS, netns.thread.run(sys::netns));
  }

  @Test
  void aFailureToBringLoUpUnmountsAndRemovesThePin() {
    Path pin = dir.resolve("ns1");
    sys.kernel((ns, request) -> List.of(NetlinkTest.error(request, EPERM)));
    NetlinkException e = assertThrows(NetlinkException.class, () -> netns.create(pin));
    assertEquals("cannot set \"lo\" up: Operation not permitted", e.getMessage());
    assertFalse(Files.exists(pin));
    assertTrue(sys.mounted().isEmpty());
  }

  @Test
  void aThreadThatCannotReturnIsReplacedAndItsWorkUndone() throws InterruptedException {
    Path pin = dir.resolve("ns1");
    Thread first = netns.call(RecordingSyscalls.THREAD_NETNS, Thread::currentThread);
    sys.failNext("setns", EPERM); // create's only setns is the one that goes home
    BerthException e = assertThrows(BerthException.class, () -> netns.create(pin));
    assertTrue(e.getMessage().contains("cannot return"), e.getMessage());
    assertFalse(Files.exists(pin));
    assertTrue(sys.mounted().isEmpty());
    first.join(10_000);
    assertFalse(first.isAlive(), "the stranded thread ended");
    Thread second = netns.call(RecordingSyscalls.THREAD_NETNS, Thread::currentThread);
    assertNotSame(first, second);
    assertEquals(NamespaceThread.NAME, second.getName());
    assertEquals(RecordingSyscalls.HOST_NETNS, netns.thread.run(sys::netns), "the new thread is at home");
  }

  @Test
  void enteringAFileThatPinsNothingIsAFailedPrecondition() throws IOException {
    Path plain = Files.createFile(dir.resolve("plain"));
    BerthException e = assertThrows(BerthException.class, () -> netns.netlink(plain));
    assertEquals(BerthException.Kind.FAILED_PRECONDITION, e.kind());
    assertEquals(BerthException.Kind.NOT_FOUND,
        assertThrows(BerthException.class, () -> netns.netlink(dir.resolve("missing"))).kind());
  }

  @Test
  void switchesAreRefusedOffTheNamespaceThread() {
    NamespaceThread t = new NamespaceThread(sys);
    assertThrows(IllegalStateException.class, () -> t.unshared(() -> null));
    assertTrue(sys.calls("unshare").isEmpty());
    t.close();
  }
}
