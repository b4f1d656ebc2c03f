package dev.berth.agent.runtime.net;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One netlink message received: its header fields and its body (what follows the 16-byte
 * header), a read-only buffer in the machine's byte order whose position 0 is the body's start.
 *
 * @param type NLMSG_ERROR, NLMSG_DONE or the rtnetlink type (RTM_NEWLINK …)
 * @param flags NLM_F_MULTI, NLM_F_DUMP_INTR …
 * @param seq the sequence number of the request it answers
 */
record NetlinkMessage(int type, int flags, int seq, ByteBuffer body) {
  static final int NLMSG_ERROR = 2;
  static final int NLMSG_DONE = 3;
  static final int NLM_F_DUMP_INTR = 0x10;
  /** Masks NLA_F_NESTED and NLA_F_NET_BYTEORDER off an attribute's type. */
  private static final int NLA_TYPE_MASK = 0x3fff;

  /**
   * The messages of one datagram, in order. They hold a copy of it: the caller may reuse
   * {@code datagram} at once.
   *
   * @throws IllegalStateException when a message claims more bytes than the datagram holds
   *     (the datagram was cut short by a small receive buffer) or fewer than a header
   */
  static List<NetlinkMessage> parse(byte[] datagram, int length) {
    ByteBuffer in = ByteBuffer.wrap(Arrays.copyOf(datagram, length)).order(ByteOrder.nativeOrder());
    List<NetlinkMessage> messages = new ArrayList<>();
    int at = 0;
    while (length - at >= NetlinkRequest.HEADER_LENGTH) {
      int messageLength = in.getInt(at);
      if (messageLength < NetlinkRequest.HEADER_LENGTH || messageLength > length - at) {
        throw new IllegalStateException("malformed netlink message of " + messageLength + " bytes at offset " + at
            + " of a " + length + "-byte datagram");
      }
      ByteBuffer body = slice(in, at + NetlinkRequest.HEADER_LENGTH, messageLength - NetlinkRequest.HEADER_LENGTH);
      messages.add(new NetlinkMessage(in.getShort(at + 4) & 0xffff, in.getShort(at + 6) & 0xffff, in.getInt(at + 8),
          body));
      at += NetlinkRequest.align(messageLength);
    }
    return messages;
  }

  /** For NLMSG_ERROR: the errno, positive; 0 for an acknowledgement. */
  int error() {
    return body.remaining() >= 4 ? -body.getInt(0) : 0;
  }

  /**
   * The attributes from {@code offset} of {@code buf} (just after a family header, or a nested
   * attribute's value) by type; the last wins when a type repeats. Each value is a buffer of
   * its own, position 0 at its start.
   */
  static Map<Integer, ByteBuffer> attributes(ByteBuffer buf, int offset) {
    Map<Integer, ByteBuffer> attrs = new HashMap<>();
    int at = offset;
    int limit = buf.limit();
    while (limit - at >= 4) {
      int length = buf.getShort(at) & 0xffff;
      if (length < 4 || length > limit - at) {
        break; // a malformed tail: what came before still stands
      }
      attrs.put(buf.getShort(at + 2) & NLA_TYPE_MASK, slice(buf, at + 4, length - 4));
      at += NetlinkRequest.align(length);
    }
    return attrs;
  }

  /** An attribute's value as a string, up to its terminating NUL. */
  static String string(ByteBuffer value) {
    int length = 0;
    while (length < value.limit() && value.get(length) != 0) {
      length++;
    }
    byte[] bytes = new byte[length];
    value.get(0, bytes);
    return new String(bytes, UTF_8);
  }

  static byte[] bytes(ByteBuffer value) {
    byte[] bytes = new byte[value.limit()];
    value.get(0, bytes);
    return bytes;
  }

  private static ByteBuffer slice(ByteBuffer buf, int from, int length) {
    return buf.slice(from, length).order(ByteOrder.nativeOrder()).asReadOnlyBuffer().order(ByteOrder.nativeOrder());
  }
}
