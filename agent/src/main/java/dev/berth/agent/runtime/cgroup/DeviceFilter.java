package dev.berth.agent.runtime.cgroup;

import dev.berth.agent.BerthException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Compiles cgroup v1 device rules into the eBPF program that enforces them on cgroup v2.
 *
 * <p>A rule is a v1 {@code devices.allow} line: {@code "TYPE MAJOR:MINOR ACCESS"} with TYPE
 * {@code a} (any), {@code b} (block) or {@code c} (character), MAJOR and MINOR a decimal
 * number or {@code *}, and ACCESS one to three of {@code r} (read), {@code w} (write) and
 * {@code m} (mknod); the single letter {@code "a"} allows everything.
 *
 * <p>The program is of type BPF_PROG_TYPE_CGROUP_DEVICE. The kernel runs it on every open and
 * mknod of a device node by a process of the cgroup, with a {@code struct bpf_cgroup_dev_ctx
 * { u32 access_type; u32 major; u32 minor; }} whose {@code access_type} is {@code (access << 16)
 * | type}. It returns 1 (allow) when some single rule covers the request — the type matches or
 * the rule's is {@code a}, major and minor are equal or the rule's is {@code *}, and every
 * requested access bit is among the rule's — and 0 (deny) otherwise, as v1 does: two rules
 * that together grant {@code rw} on a device do not allow an open for reading and writing.
 *
 * <p>Pure and thread-safe; no I/O.
 */
public final class DeviceFilter {
  /** bpf_cgroup_dev_ctx.access_type's low half: the device type. */
  public static final int DEV_BLOCK = 1;
  public static final int DEV_CHAR = 2;
  /** bpf_cgroup_dev_ctx.access_type's high half: the access, a bit set. */
  public static final int ACC_MKNOD = 1;
  public static final int ACC_READ = 2;
  public static final int ACC_WRITE = 4;
  static final int ACC_ALL = ACC_MKNOD | ACC_READ | ACC_WRITE;

  /**
   * The license the program is loaded under. It calls no kernel helper at all, GPL-only or
   * not, so the kernel accepts any string here.
   */
  public static final String LICENSE = "GPL";

  /** Size of one eBPF instruction: {@code struct bpf_insn}. */
  public static final int INSN_SIZE = 8;

  // struct bpf_cgroup_dev_ctx field offsets.
  static final int CTX_ACCESS_TYPE = 0;
  static final int CTX_MAJOR = 4;
  static final int CTX_MINOR = 8;

  // Opcode parts, as in linux/bpf_common.h and linux/bpf.h.
  static final int BPF_LDX = 0x01;
  static final int BPF_ALU = 0x04;
  static final int BPF_JMP = 0x05;
  static final int BPF_ALU64 = 0x07;
  static final int BPF_W = 0x00;
  static final int BPF_MEM = 0x60;
  static final int BPF_K = 0x00;
  static final int BPF_X = 0x08;
  static final int BPF_AND = 0x50;
  static final int BPF_RSH = 0x70;
  static final int BPF_MOV = 0xb0;
  static final int BPF_JNE = 0x50;
  static final int BPF_EXIT = 0x90;

  // Registers: r0 return value, r1 the context on entry, r2-r5 what it holds once read.
  private static final int R0 = 0;
  private static final int R1 = 1;
  private static final int TYPE = 2;
  private static final int ACCESS = 3;
  private static final int MAJOR = 4;
  private static final int MINOR = 5;

  /** Major or minor number of a rule that matches any. */
  static final int ANY = -1;

  private static final Pattern RULE = Pattern.compile("([abc]) (\\*|[0-9]+):(\\*|[0-9]+) ([rwm]{1,3})");

  private DeviceFilter() {}

  /**
   * One parsed rule.
   *
   * @param type {@code 'a'}, {@code 'b'} or {@code 'c'}
   * @param major the major number, or {@link #ANY}
   * @param minor the minor number, or {@link #ANY}
   * @param access a non-empty set of {@link #ACC_MKNOD}, {@link #ACC_READ}, {@link #ACC_WRITE}
   */
  record Rule(char type, int major, int minor, int access) {
    boolean allowsEverything() {
      return type == 'a' && major == ANY && minor == ANY && access == ACC_ALL;
    }
  }

  /**
   * Parses one rule.
   *
   * @throws BerthException INVALID_ARGUMENT naming the rule when it is malformed or a number
   *     exceeds 2^31-1 (the kernel's own limits are 2^12 for majors and 2^20 for minors)
   */
  static Rule parse(String rule) {
    if (rule == null) {
      throw BerthException.invalid("invalid device rule: null");
    }
    if (rule.equals("a")) {
      return new Rule('a', ANY, ANY, ACC_ALL);
    }
    Matcher m = RULE.matcher(rule);
    if (!m.matches()) {
      throw BerthException.invalid("invalid device rule '" + rule + "': expected 'TYPE MAJOR:MINOR ACCESS' such as"
          + " 'c 1:3 rwm', with TYPE a, b or c, MAJOR and MINOR a number or *, ACCESS made of r, w and m (or just 'a')");
    }
    int access = 0;
    for (char c : m.group(4).toCharArray()) {
      access |= switch (c) {
        case 'r' -> ACC_READ;
        case 'w' -> ACC_WRITE;
        default -> ACC_MKNOD;
      };
    }
    return new Rule(m.group(1).charAt(0), number(m.group(2), rule), number(m.group(3), rule), access);
  }

  private static int number(String text, String rule) {
    if (text.equals("*")) {
      return ANY;
    }
    // At most 2^31-1, so that the number fits a jump's sign-extended 32-bit immediate.
    if (text.length() > 10 || Long.parseLong(text) > Integer.MAX_VALUE) {
      throw BerthException.invalid("invalid device rule '" + rule + "': device number " + text + " is too large");
    }
    return Integer.parseInt(text);
  }

  /**
   * The program allowing exactly what {@code rules} allow (nothing, for an empty list), as
   * {@code struct bpf_insn}s of {@link #INSN_SIZE} bytes each in little-endian order, the
   * byte order of the x86_64 and aarch64 kernels Berth supports; ready for BPF_PROG_LOAD.
   *
   * @throws BerthException INVALID_ARGUMENT naming the first malformed rule
   */
  public static byte[] compile(List<String> rules) {
    Objects.requireNonNull(rules, "rules");
    List<Rule> parsed = rules.stream().map(DeviceFilter::parse).toList();
    List<Long> prog = new ArrayList<>();
    prog.add(ldxw(TYPE, R1, CTX_ACCESS_TYPE));
    prog.add(insn(BPF_ALU | BPF_AND | BPF_K, TYPE, 0, 0, 0xffff));
    prog.add(ldxw(ACCESS, R1, CTX_ACCESS_TYPE));
    prog.add(insn(BPF_ALU | BPF_RSH | BPF_K, ACCESS, 0, 0, 16));
    prog.add(ldxw(MAJOR, R1, CTX_MAJOR));
    prog.add(ldxw(MINOR, R1, CTX_MINOR));
    boolean allowAll = false;
    for (Rule rule : parsed) {
      prog.addAll(block(rule));
      if (rule.allowsEverything()) {
        // Its block ends in an unconditional exit: anything after it would be unreachable,
        // and the verifier rejects programs with unreachable instructions.
        allowAll = true;
        break;
      }
    }
    if (!allowAll) {
      prog.add(movImm(R0, 0));
      prog.add(exit());
    }
    ByteBuffer out = ByteBuffer.allocate(prog.size() * INSN_SIZE).order(ByteOrder.LITTLE_ENDIAN);
    prog.forEach(out::putLong);
    return out.array();
  }

  /**
   * The instructions of one rule: checks that jump past the block on a mismatch, then
   * {@code return 1}. A check is left out where the rule matches anything.
   */
  private static List<Long> block(Rule rule) {
    List<Long> block = new ArrayList<>();
    List<Integer> jumps = new ArrayList<>(); // indices of the jumps to the block's end, patched below
    if (rule.type() != 'a') {
      jumps.add(block.size());
      block.add(insn(BPF_JMP | BPF_JNE | BPF_K, TYPE, 0, 0, rule.type() == 'b' ? DEV_BLOCK : DEV_CHAR));
    }
    if (rule.access() != ACC_ALL) {
      // The request is covered iff it has no bit outside the rule's: (access & allowed) == access.
      block.add(insn(BPF_ALU64 | BPF_MOV | BPF_X, R1, ACCESS, 0, 0));
      block.add(insn(BPF_ALU | BPF_AND | BPF_K, R1, 0, 0, rule.access()));
      jumps.add(block.size());
      block.add(insn(BPF_JMP | BPF_JNE | BPF_X, R1, ACCESS, 0, 0));
    }
    if (rule.major() != ANY) {
      jumps.add(block.size());
      block.add(insn(BPF_JMP | BPF_JNE | BPF_K, MAJOR, 0, 0, rule.major()));
    }
    if (rule.minor() != ANY) {
      jumps.add(block.size());
      block.add(insn(BPF_JMP | BPF_JNE | BPF_K, MINOR, 0, 0, rule.minor()));
    }
    block.add(movImm(R0, 1));
    block.add(exit());
    for (int i : jumps) {
      // A jump's offset counts from the instruction after it; the target is the next block.
      block.set(i, withOffset(block.get(i), block.size() - (i + 1)));
    }
    return block;
  }

  private static long ldxw(int dst, int src, int off) {
    return insn(BPF_LDX | BPF_W | BPF_MEM, dst, src, off, 0);
  }

  private static long movImm(int dst, int imm) {
    return insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm);
  }

  private static long exit() {
    return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  }

  /**
   * One {@code struct bpf_insn { u8 code; u8 dst_reg:4, src_reg:4; s16 off; s32 imm; }} as the
   * little-endian long that {@link ByteBuffer#putLong} lays out in that order (on a
   * little-endian machine the bit field dst_reg is the low nibble).
   */
  static long insn(int code, int dst, int src, int off, int imm) {
    return withOffset((code & 0xffL) | ((long) ((src << 4) | dst) & 0xffL) << 8 | (imm & 0xffffffffL) << 32, off);
  }

  private static long withOffset(long insn, int off) {
    if (off < Short.MIN_VALUE || off > Short.MAX_VALUE) {
      throw new IllegalStateException("jump offset " + off + " does not fit an eBPF instruction");
    }
    return (insn & ~0xffff0000L) | (off & 0xffffL) << 16;
  }
}
