package dev.berth.agent.runtime.cgroup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.berth.agent.BerthException;
import dev.berth.agent.runtime.ContainerDefaults;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The compiled device programs, run by a small eBPF interpreter (below) on the context the
 * kernel would pass, so that the bytecode itself is checked without a kernel. The interpreter
 * knows only the instructions a device filter needs and fails on anything else, as it does on
 * what the kernel's verifier would refuse in these programs: an unreachable instruction, a
 * register read before it is written, a context read that is not an aligned 32-bit field, a
 * jump out of the program, an exit without r0.
 */
class DeviceFilterTest {
  static final List<String> DEFAULTS = ContainerDefaults.DEVICE_RULES;

  /** The verdict of {@code rules} on a request such as {@code "c 1:3 rw"}: true when allowed. */
  static boolean allows(List<String> rules, String request) {
    String[] f = request.split("[ :]");
    int type = switch (f[0]) {
      case "b" -> DeviceFilter.DEV_BLOCK;
      case "c" -> DeviceFilter.DEV_CHAR;
      default -> throw new IllegalArgumentException(request);
    };
    int access = 0;
    for (char c : f[3].toCharArray()) {
      access |= c == 'r' ? DeviceFilter.ACC_READ : c == 'w' ? DeviceFilter.ACC_WRITE : DeviceFilter.ACC_MKNOD;
    }
    long verdict = Interpreter.run(DeviceFilter.compile(rules), access << 16 | type, Integer.parseInt(f[1]), Integer.parseInt(f[2]));
    assertTrue(verdict == 0 || verdict == 1, "returns 0 or 1, not " + verdict);
    return verdict == 1;
  }

  @ParameterizedTest(name = "defaults allow {0}")
  @ValueSource(strings = {
      "c 1:3 r", "c 1:3 w", "c 1:3 m", "c 1:3 rw", "c 1:3 rwm", // /dev/null
      "c 1:5 rw", "c 1:7 rw", "c 1:8 r", "c 1:9 rwm", // zero, full, random, urandom
      "c 5:0 rw", "c 5:1 rw", "c 5:2 rwm", // tty, console, ptmx
      "c 136:0 rw", "c 136:77 rwm", "c 136:1048575 r", // any pts
      "c 4:1 m", "c 10:200 m", "c 0:0 m", "c 4095:1048575 m", "b 8:0 m", "b 254:0 m", // mknod of anything
  })
  void theDockerDefaultsAllow(String request) {
    assertTrue(allows(DEFAULTS, request));
  }

  @ParameterizedTest(name = "defaults deny {0}")
  @ValueSource(strings = {
      "b 8:0 r", "b 8:0 w", "b 8:0 rw", "b 254:0 r", "b 1:3 r", // disks; a block device with /dev/null's numbers
      "c 1:1 r", "c 1:1 w", "c 1:2 r", "c 1:4 r", "c 1:6 r", "c 1:10 r", // /dev/mem, kmem, port, … around the allowed
      "c 10:200 rw", "c 10:200 r", "c 5:3 r", "c 4:0 rw", "c 137:0 r", "c 135:0 r", "c 3:3 r",
      "c 4:1 rm", "b 8:0 rm", // mknod alone is allowed, not with an access
  })
  void theDockerDefaultsDeny(String request) {
    assertEquals(false, allows(DEFAULTS, request));
  }

  @ParameterizedTest(name = "{0} on {1} -> {2}")
  @CsvSource(delimiter = '|', textBlock = """
      c *:* m       | c 4:1 m      | true
      c *:* m       | c 1:3 m      | true
      c *:* m       | c 4:1 r      | false
      c *:* m       | c 4:1 rm     | false
      c *:* m       | b 4:1 m      | false
      a             | b 8:0 rwm    | true
      a             | c 10:200 rw  | true
      a *:* rwm     | b 8:0 rw     | true
      a 1:3 r       | c 1:3 r      | true
      a 1:3 r       | b 1:3 r      | true
      a 1:3 r       | c 1:3 w      | false
      a 1:3 r       | c 1:4 r      | false
      b *:* rwm     | b 8:16 rw    | true
      b *:* rwm     | c 8:16 r     | false
      b 8:* r       | b 8:16 r     | true
      b 8:* r       | b 9:16 r     | false
      c *:3 w       | c 77:3 w     | true
      c *:3 w       | c 77:4 w     | false
      c 1:3 rw      | c 1:3 rw     | true
      c 1:3 rw      | c 1:3 w      | true
      c 1:3 rw      | c 1:3 m      | false
      c 1:3 rw      | c 1:3 rwm    | false
      c 1:3 mr      | c 1:3 rm     | true
      c 1:3 rrw     | c 1:3 rw     | true
      c 2147483647:0 r | c 2147483647:0 r | true
      c 2147483647:0 r | c 2147483646:0 r | false
      """)
  void oneRule(String rule, String request, boolean allowed) {
    assertEquals(allowed, allows(List.of(rule), request));
  }

  @Test
  void aRequestMustBeCoveredByOneRuleAsOnV1() {
    List<String> split = List.of("c 1:3 r", "c 1:3 w");
    assertTrue(allows(split, "c 1:3 r"));
    assertTrue(allows(split, "c 1:3 w"));
    assertEquals(false, allows(split, "c 1:3 rw"));
  }

  @Test
  void noRulesDenyEverything() {
    for (String request : List.of("c 1:3 r", "c 1:3 m", "b 8:0 m", "c 0:0 rwm")) {
      assertEquals(false, allows(List.of(), request), request);
    }
  }

  @Test
  void rulesAfterAnAllowAllAreLeftOutAsTheyAreUnreachable() {
    byte[] everything = DeviceFilter.compile(List.of("a"));
    assertTrue(Arrays.equals(everything, DeviceFilter.compile(List.of("a", "c 1:3 r", "b 8:0 r"))));
    assertTrue(allows(List.of("c 1:3 r", "a", "b 8:0 r"), "b 9:9 rwm"));
  }

  @Test
  void theDefaultsCompileToWholeLittleEndianInstructions() {
    byte[] program = DeviceFilter.compile(DEFAULTS);
    assertEquals(0, program.length % DeviceFilter.INSN_SIZE);
    // The first instruction is r2 = *(u32 *)(r1 + 0): opcode 0x61, dst 2 in the low nibble, src 1 in the high one.
    assertEquals("6112000000000000", hex(Arrays.copyOf(program, 8)));
    // The last is exit, after r0 = 0.
    assertEquals("b700000000000000" + "9500000000000000", hex(Arrays.copyOfRange(program, program.length - 16, program.length)));
  }

  @ParameterizedTest(name = "\"{0}\"")
  @ValueSource(strings = {
      "", " ", "x 1:3 r", "c 1:3", "c 1:3 ", "c 1:3 rwx", "c 1:3 rwmr", "c 1 r", "c a:3 r", "c 1:-3 r",
      "c  1:3 r", " c 1:3 r", "c 1:3 R", "C 1:3 r", "c 1:3:4 r", "c 99999999999:0 r", "c 2147483648:0 r",
      "c 0:4294967295 r", "a b", "aa", "c *:* ",
  })
  void aMalformedRuleIsAnInvalidArgumentNamingIt(String rule) {
    BerthException e = assertThrows(BerthException.class, () -> DeviceFilter.compile(List.of("c 1:3 rwm", rule)));
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, e.kind());
    assertTrue(e.getMessage().contains("'" + rule + "'"), e.getMessage());
  }

  @Test
  void aNullRuleIsAnInvalidArgument() {
    List<String> rules = new ArrayList<>();
    rules.add(null);
    assertEquals(BerthException.Kind.INVALID_ARGUMENT, assertThrows(BerthException.class, () -> DeviceFilter.compile(rules)).kind());
  }

  static String hex(byte[] bytes) {
    StringBuilder s = new StringBuilder();
    for (byte b : bytes) {
      s.append(String.format("%02x", b));
    }
    return s.toString();
  }

  /** Executes a device program on one context. Throws AssertionError on anything the kernel would not run. */
  static final class Interpreter {
    static final long CTX = 0x7f00_0000_0000L; // where r1 points: a value no instruction can forge by accident
    static final int CTX_SIZE = 12;

    static long run(byte[] program, int accessType, int major, int minor) {
      ByteBuffer code = ByteBuffer.wrap(program).order(ByteOrder.LITTLE_ENDIAN);
      assertEquals(0, program.length % 8, "whole instructions");
      int count = program.length / 8;
      checkReachable(code, count);
      int[] ctx = {accessType, major, minor};
      long[] reg = new long[11];
      boolean[] set = new boolean[11];
      reg[1] = CTX;
      set[1] = true;
      for (int pc = 0, steps = 0; ; pc++, steps++) {
        assertTrue(pc >= 0 && pc < count, "pc " + pc + " inside the program");
        assertTrue(steps < 100_000, "terminates");
        int op = code.get(pc * 8) & 0xff;
        int regs = code.get(pc * 8 + 1) & 0xff;
        int dst = regs & 0xf;
        int src = regs >>> 4;
        short off = code.getShort(pc * 8 + 2);
        int imm = code.getInt(pc * 8 + 4);
        assertTrue(dst <= 10 && src <= 10, "registers r0-r10 at " + pc);
        boolean writesDst = op == 0x61 || op == 0x54 || op == 0x74 || op == 0xb7 || op == 0xbf;
        assertTrue(!writesDst || dst != 10, "r10, the frame pointer, is read-only, at " + pc);
        switch (op) {
          case 0x61 -> { // ldxw dst, [src + off]
            assertTrue(set[src] && reg[src] == CTX, "loads only from the context, at " + pc);
            assertTrue(off >= 0 && off + 4 <= CTX_SIZE && off % 4 == 0, "aligned u32 field of the context, at " + pc);
            reg[dst] = ctx[off / 4] & 0xffffffffL;
          }
          case 0x54 -> reg[dst] = alu32(scalar(reg, set, dst, pc) & imm); // and32 dst, imm
          case 0x74 -> reg[dst] = alu32((scalar(reg, set, dst, pc) & 0xffffffffL) >>> (imm & 31)); // rsh32 dst, imm
          case 0xb7 -> reg[dst] = imm; // mov64 dst, imm (sign-extended)
          case 0xbf -> reg[dst] = scalar(reg, set, src, pc); // mov64 dst, src
          case 0x55 -> pc += scalar(reg, set, dst, pc) != (long) imm ? off : 0; // jne dst, imm (64-bit, imm sign-extended)
          case 0x5d -> pc += scalar(reg, set, dst, pc) != scalar(reg, set, src, pc) ? off : 0; // jne dst, src
          case 0x95 -> {
            return scalar(reg, set, 0, pc); // exit with r0
          }
          default -> throw new AssertionError(String.format("unexpected opcode 0x%02x at %d", op, pc));
        }
        if (writesDst) {
          set[dst] = true;
        }
      }
    }

    /** A 32-bit ALU result: the kernel zero-extends it into the 64-bit register. */
    private static long alu32(long value) {
      return value & 0xffffffffL;
    }

    /** A register holding a number: written before, and not the context pointer (no pointer arithmetic or leaks). */
    private static long scalar(long[] reg, boolean[] set, int r, int pc) {
      assertTrue(set[r], "r" + r + " read before it is written, at " + pc);
      assertTrue(reg[r] != CTX, "r" + r + " used as a number while it holds the context pointer, at " + pc);
      return reg[r];
    }

    /** Every instruction can be reached, as the verifier demands; the last one does not fall off the end. */
    private static void checkReachable(ByteBuffer code, int count) {
      boolean[] seen = new boolean[count];
      List<Integer> work = new ArrayList<>(List.of(0));
      while (!work.isEmpty()) {
        int pc = work.remove(work.size() - 1);
        assertTrue(pc >= 0 && pc < count, "jump target " + pc + " inside the program of " + count);
        if (seen[pc]) {
          continue;
        }
        seen[pc] = true;
        int op = code.get(pc * 8) & 0xff;
        if (op == 0x95) {
          continue;
        }
        work.add(pc + 1);
        if (op == 0x55 || op == 0x5d) {
          int off = code.getShort(pc * 8 + 2);
          assertTrue(off >= 0, "forward jumps only: no loops, at " + pc);
          work.add(pc + 1 + off);
        }
      }
      for (int pc = 0; pc < count; pc++) {
        assertTrue(seen[pc], "instruction " + pc + " is unreachable");
      }
    }
  }
}
