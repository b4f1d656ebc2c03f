package dev.berth.agent.runtime.cgroup;

import java.lang.management.ManagementFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * How many statistics files may be kept open at once ({@link StatFile}): one budget for the
 * whole agent, shared by every reader, so that keeping files open never runs the process out of
 * descriptors. A file that finds the budget spent is read as before, opened, read and closed.
 *
 * <p>Thread-safe.
 */
public final class DescriptorBudget {
  /** Keeps nothing open: every reading opens, reads and closes its files. */
  public static final DescriptorBudget NONE = new DescriptorBudget(0);

  /**
   * The share of RLIMIT_NOFILE that statistics files may take: half. The rest is the agent's
   * own: its gRPC and cluster connections, a socket to each container's launcher, log files,
   * layers being unpacked, and the descriptors a burst of {@code berth run} opens at once.
   */
  static final int SHARE_DIVISOR = 2;

  /**
   * At most this many whatever the limit: 8,192 containers' files on cgroup v1. Each file kept
   * open also keeps the kernel's page of rendered text (its seq_file buffer, about 4 KiB of
   * unswappable kernel memory once read), so this bounds that memory too, to some 300 MB; a
   * thousand containers take some 35 MB.
   */
  static final int MAX = 65_536;

  private final int max;
  private final AtomicInteger used = new AtomicInteger();

  /** A budget of {@code max} descriptors (0: nothing is kept open). */
  public DescriptorBudget(int max) {
    if (max < 0) {
      throw new IllegalArgumentException("a descriptor budget cannot be negative: " + max);
    }
    this.max = max;
  }

  /**
   * A budget sized by this process's limit on open files (RLIMIT_NOFILE, the soft limit, which
   * the JVM raises to the hard one as it starts): {@link #SHARE_DIVISOR half} of it, and no more
   * than {@link #MAX}. With LimitNOFILE=1048576 of Berth's systemd unit that is {@link #MAX},
   * the eight files of each of 8,192 containers; with a login shell's 1024 it is 512, some 64
   * containers, and the others are read with a fresh open each time. Nothing is kept open when
   * the limit cannot be read (not a Unix JVM).
   */
  public static DescriptorBudget ofProcessLimit() {
    return new DescriptorBudget((int) Math.min(MAX, processLimit() / SHARE_DIVISOR));
  }

  /** RLIMIT_NOFILE's soft limit of this process; 0 when the JVM cannot tell. */
  public static long processLimit() {
    if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.UnixOperatingSystemMXBean unix) {
      return Math.max(0, unix.getMaxFileDescriptorCount());
    }
    return 0;
  }

  /** Takes one descriptor from the budget; false when it is spent. */
  boolean tryTake() {
    while (true) {
      int u = used.get();
      if (u >= max) {
        return false;
      }
      if (used.compareAndSet(u, u + 1)) {
        return true;
      }
    }
  }

  /** Gives back one descriptor taken with {@link #tryTake}. */
  void giveBack() {
    used.decrementAndGet();
  }

  /** The descriptors kept open now under this budget. */
  public int used() {
    return used.get();
  }

  /** How many may be kept open. */
  public int max() {
    return max;
  }

  @Override
  public String toString() {
    return used.get() + " of " + max + " descriptors";
  }
}
