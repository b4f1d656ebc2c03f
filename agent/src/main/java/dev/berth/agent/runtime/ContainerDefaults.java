package dev.berth.agent.runtime;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * What every container gets unless told otherwise: Docker's defaults, so that images behave
 * as their authors expect.
 */
public final class ContainerDefaults {
  private ContainerDefaults() {}

  /** Docker's default capability set: enough for ordinary daemons run as root, nothing that reaches the host. */
  public static final Set<String> CAPABILITIES = Set.of(
      "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
      "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
      "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE");

  /** Used when neither the image nor the user set PATH. */
  public static final String PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

  /** Kernel interfaces that leak host information or allow attacks; hidden as Docker hides them. */
  public static final List<String> MASKED_PATHS = List.of(
      "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
      "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
      "/sys/devices/virtual/powercap");

  /** Kernel interfaces a container may read but never change. */
  public static final List<String> READONLY_PATHS = List.of(
      "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger");

  /** A device node of the minimal /dev. */
  public record Device(String path, char type, int major, int minor, int mode) {}

  public static final List<Device> DEVICES = List.of(
      new Device("/dev/null", 'c', 1, 3, 0666),
      new Device("/dev/zero", 'c', 1, 5, 0666),
      new Device("/dev/full", 'c', 1, 7, 0666),
      new Device("/dev/random", 'c', 1, 8, 0666),
      new Device("/dev/urandom", 'c', 1, 9, 0666),
      new Device("/dev/tty", 'c', 5, 0, 0666));

  /**
   * Device nodes a container may open: those of its minimal /dev, its terminals, and (as with
   * Docker) mknod of any node, which alone gives no access. Everything else — the host's
   * disks above all — is denied by the devices cgroup, even to root with CAP_MKNOD.
   */
  public static final List<String> DEVICE_RULES = List.of(
      "c *:* m", "b *:* m",
      "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
      "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm");

  /** Stop timeout when neither the user nor the image sets one: Docker's 10 seconds. */
  public static final int STOP_TIMEOUT_SECONDS = 10;

  /**
   * The kernel file systems of a container, in mount order: /proc, a read-only /sys, a
   * tmpfs /dev with its own devpts (ptmx from its own instance), shm and mqueue.
   */
  public static void mounts(LauncherConfig c) {
    c.mount("proc", Path.of("/proc"), "proc", "nosuid,nodev,noexec", "");
    c.mount("tmpfs", Path.of("/dev"), "tmpfs", "nosuid,strictatime", "mode=755,size=65536k");
    c.mount("devpts", Path.of("/dev/pts"), "devpts", "nosuid,noexec", "newinstance,ptmxmode=0666,mode=0620,gid=5");
    c.mount("shm", Path.of("/dev/shm"), "tmpfs", "nosuid,nodev,noexec", "mode=1777,size=65536k");
    c.mount("mqueue", Path.of("/dev/mqueue"), "mqueue", "nosuid,nodev,noexec", "");
    c.mount("sysfs", Path.of("/sys"), "sysfs", "ro,nosuid,nodev,noexec", "");
    for (Device d : DEVICES) {
      c.add("device", d.path(), String.valueOf(d.type()), d.major(), d.minor(), Integer.toOctalString(d.mode()), 0, 0);
    }
    c.add("symlink", "/proc/self/fd", "/dev/fd");
    c.add("symlink", "/proc/self/fd/0", "/dev/stdin");
    c.add("symlink", "/proc/self/fd/1", "/dev/stdout");
    c.add("symlink", "/proc/self/fd/2", "/dev/stderr");
    c.add("symlink", "pts/ptmx", "/dev/ptmx");
    c.add("symlink", "/proc/kcore", "/dev/core");
  }
}
