package dev.berth.agent.runtime.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import dev.berth.agent.runtime.RecordingSyscalls;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@link Netlink}'s exchanges with a scripted kernel: acknowledgements, errors, dumps. */
class NetlinkTest {
  final RecordingSyscalls sys = new RecordingSyscalls();
  final List<byte[]> requests = new ArrayList<>();

  @AfterEach
  void noDescriptorLeaks() {
    assertTrue(sys.openFds().isEmpty(), "open: " + sys.openFds());
  }

  /** An NLMSG_ERROR answering {@code request} with {@code errno} (0: an acknowledgement). */
  static byte[] error(byte[] request, int errno) {
    ByteBuffer b = ByteBuffer.allocate(36).order(ByteOrder.nativeOrder());
    b.putInt(36).putShort((short) NetlinkMessage.NLMSG_ERROR).putShort((short) 0).putInt(seq(request)).putInt(0);
    b.putInt(-errno).put(request, 0, 16);
    return b.array();
  }

  static byte[] done(byte[] request, int flags) {
    ByteBuffer b = ByteBuffer.allocate(20).order(ByteOrder.nativeOrder());
    b.putInt(20).putShort((short) NetlinkMessage.NLMSG_DONE).putShort((short) flags).putInt(seq(request)).putInt(0)
        .putInt(0);
    return b.array();
  }

  static byte[] link(byte[] request, int index, String name, int master, int flags) {
    return new NetlinkRequest(RtnlCodec.RTM_NEWLINK, 2 | flags).ifinfomsg(0, index, 1, 0)
        .attrString(RtnlCodec.IFLA_IFNAME, name).attrInt(RtnlCodec.IFLA_MASTER, master).encode(seq(request));
  }

  static int seq(byte[] request) {
    return ByteBuffer.wrap(request).order(ByteOrder.nativeOrder()).getInt(8);
  }

  static int type(byte[] request) {
    return ByteBuffer.wrap(request).order(ByteOrder.nativeOrder()).getShort(4);
  }

  @Test
  void aRefusalNamesWhatWasAskedAndCarriesTheErrno() {
    sys.kernel((netns, request) -> List.of(error(request, 17)));
    try (Netlink netlink = Netlink.open(sys)) {
      NetlinkException e = assertThrows(NetlinkException.class, () -> netlink.createBridge("berth0", 0));
      assertEquals("cannot create bridge \"berth0\": File exists", e.getMessage());
      assertEquals(17, e.errno());
      assertEquals(BerthException.Kind.ALREADY_EXISTS, e.kind());
    }
  }

  @Test
  void deletingAMissingLinkIsFalseAndAnExistingOneTrue() {
    sys.kernel((netns, request) -> List.of(error(request, seq(request) == 1 ? 19 : 0)));
    try (Netlink netlink = Netlink.open(sys)) {
      assertFalse(netlink.deleteLink("gone0"));
      assertTrue(netlink.deleteLink("here0"));
    }
  }

  @Test
  void aMissingLinkIsNotFound() {
    sys.kernel((netns, request) -> List.of(error(request, 19)));
    try (Netlink netlink = Netlink.open(sys)) {
      assertTrue(netlink.link("eth9").isEmpty());
      NetlinkException up = assertThrows(NetlinkException.class, () -> netlink.setUp("eth9", true));
      assertEquals(BerthException.Kind.NOT_FOUND, up.kind());
      assertEquals("cannot set \"eth9\" up: No such device", up.getMessage());
      BerthException address = assertThrows(BerthException.class,
          () -> netlink.addAddress("eth9", RtnlCodecTest.ip("10.0.0.1"), 24));
      assertEquals(BerthException.Kind.NOT_FOUND, address.kind());
      assertTrue(address.getMessage().contains("10.0.0.1/24") && address.getMessage().contains("\"eth9\""),
          address.getMessage());
    }
  }

  @Test
  void aBadNameIsRefusedBeforeTheKernelSeesIt() {
    try (Netlink netlink = Netlink.open(sys)) {
      netlink.createBridge("a-name-too-long", 0); // 15 bytes are fine …
      assertThrows(BerthException.class, () -> netlink.createBridge("a-name-too-long0", 0)); // … 16 are not
      assertThrows(BerthException.class, () -> netlink.createVeth("vb0", "eth0/1", null, null));
    }
    assertEquals(1, sys.calls("send").size(), "only the 15-byte name reached the kernel");
  }

  @Test
  void aDumpSpansDatagramsAndIsReadAgainWhenInterrupted() {
    AtomicInteger dumps = new AtomicInteger();
    sys.kernel((netns, request) -> {
      int attempt = dumps.incrementAndGet();
      int intr = attempt == 1 ? NetlinkMessage.NLM_F_DUMP_INTR : 0;
      byte[] stale = link(new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 99, 0, 0, 0}, 9, "stale", 0, 0);
      return List.of(stale, link(request, 1, "lo", 0, 0), link(request, 2, "br0", 0, intr),
          concat(link(request, 3, "vb0", 2, 0), link(request, 4, "vb1", 2, 0)), done(request, 2));
    });
    try (Netlink netlink = Netlink.open(sys)) {
      assertEquals(List.of("vb0", "vb1"), netlink.ports("br0").stream().map(Link::name).toList());
      assertEquals(2, dumps.get(), "the interrupted dump was read again");
      assertEquals(List.of(), netlink.ports("br9"));
    }
  }

  @Test
  void theDefaultFakeKernelAcceptsEverything() throws Exception {
    try (Netlink netlink = Netlink.open(sys)) {
      netlink.createBridge("br0", 1500);
      netlink.addDefaultRoute(RtnlCodecTest.ip("10.0.0.1"));
      assertEquals(List.of(), netlink.links());
      assertEquals(List.of(), netlink.routes());
    }
    assertEquals(List.of(RtnlCodec.RTM_NEWLINK, RtnlCodec.RTM_SETLINK, RtnlCodec.RTM_NEWROUTE, RtnlCodec.RTM_GETLINK,
        RtnlCodec.RTM_GETROUTE, RtnlCodec.RTM_GETLINK),
        sys.calls("send").stream().map(c -> type((byte[]) c.arg(1))).toList());
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] both = new byte[a.length + b.length];
    System.arraycopy(a, 0, both, 0, a.length);
    System.arraycopy(b, 0, both, a.length, b.length);
    return both;
  }
}
