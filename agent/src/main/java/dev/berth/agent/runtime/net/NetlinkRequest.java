package dev.berth.agent.runtime.net;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Builds one netlink request: the 16-byte {@code nlmsghdr}, a fixed family header, then
 * attributes ({@code rtattr}: a 2-byte length, a 2-byte type, the value, zero padding to 4
 * bytes), which may nest. Everything is in the machine's byte order, as the kernel reads it.
 * Not thread-safe; one instance per request.
 */
final class NetlinkRequest {
  static final int HEADER_LENGTH = 16;

  private final int type;
  private final int flags;
  private final Deque<Integer> nests = new ArrayDeque<>();
  private ByteBuffer buf = ByteBuffer.allocate(256).order(ByteOrder.nativeOrder());

  NetlinkRequest(int type, int flags) {
    this.type = type;
    this.flags = flags;
    buf.position(HEADER_LENGTH);
  }

  int type() {
    return type;
  }

  int flags() {
    return flags;
  }

  /** {@code struct ifinfomsg}: family, padding, device type, index, flags and the flags changed. */
  NetlinkRequest ifinfomsg(int family, int index, int ifFlags, int change) {
    room(16);
    buf.put((byte) family).put((byte) 0).putShort((short) 0).putInt(index).putInt(ifFlags).putInt(change);
    return this;
  }

  /** {@code struct ifaddrmsg}: family, prefix length, flags, scope, index. */
  NetlinkRequest ifaddrmsg(int family, int prefixLength, int scope, int index) {
    room(8);
    buf.put((byte) family).put((byte) prefixLength).put((byte) 0).put((byte) scope).putInt(index);
    return this;
  }

  /** {@code struct rtmsg}: family, destination and source length, tos, table, protocol, scope, type, flags. */
  NetlinkRequest rtmsg(int family, int dstLength, int table, int protocol, int scope, int routeType) {
    room(12);
    buf.put((byte) family).put((byte) dstLength).put((byte) 0).put((byte) 0)
        .put((byte) table).put((byte) protocol).put((byte) scope).put((byte) routeType).putInt(0);
    return this;
  }

  NetlinkRequest attr(int attrType, byte[] value) {
    int length = 4 + value.length;
    room(align(length));
    buf.putShort((short) length).putShort((short) attrType).put(value);
    pad();
    return this;
  }

  NetlinkRequest attrInt(int attrType, int value) {
    return attr(attrType, ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(value).array());
  }

  /** A NUL-terminated string, as the kernel wants names and kinds. */
  NetlinkRequest attrString(int attrType, String value) {
    byte[] bytes = value.getBytes(UTF_8);
    byte[] z = new byte[bytes.length + 1];
    System.arraycopy(bytes, 0, z, 0, bytes.length);
    return attr(attrType, z);
  }

  /** Opens a nested attribute; what follows up to {@link #end} is its value. */
  NetlinkRequest begin(int attrType) {
    room(4);
    nests.push(buf.position());
    buf.putShort((short) 0).putShort((short) attrType);
    return this;
  }

  NetlinkRequest end() {
    int start = nests.pop();
    buf.putShort(start, (short) (buf.position() - start));
    return this;
  }

  /** The request as sent, numbered {@code seq}; port id 0 lets the kernel fill in ours. */
  byte[] encode(int seq) {
    if (!nests.isEmpty()) {
      throw new IllegalStateException(nests.size() + " nested attribute(s) not ended");
    }
    int length = buf.position();
    ByteBuffer out = ByteBuffer.allocate(length).order(ByteOrder.nativeOrder());
    out.put(buf.array(), 0, length);
    out.putInt(0, length).putShort(4, (short) type).putShort(6, (short) flags).putInt(8, seq).putInt(12, 0);
    return out.array();
  }

  static int align(int length) {
    return (length + 3) & ~3;
  }

  private void pad() {
    while (buf.position() % 4 != 0) {
      buf.put((byte) 0);
    }
  }

  private void room(int bytes) {
    if (buf.remaining() < bytes) {
      ByteBuffer bigger = ByteBuffer.allocate(Math.max(buf.capacity() * 2, buf.position() + bytes))
          .order(ByteOrder.nativeOrder());
      bigger.put(buf.array(), 0, buf.position());
      buf = bigger;
    }
  }
}
