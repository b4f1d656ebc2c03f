package dev.berth.agent.runtime.net;

import dev.berth.agent.BerthException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The kernel settings the firewall's rules rely on:
 * <ul>
 *   <li>{@code net.ipv4.ip_forward=1}: without it the host routes nothing between its
 *       interfaces, so published ports and outbound traffic of containers go nowhere;
 *   <li>{@code net.ipv4.conf.BRIDGE.route_localnet=1}: lets a packet from 127.0.0.1 that the
 *       output chain redirected to a container leave through the bridge instead of being
 *       dropped as a martian, so {@code 127.0.0.1:HOSTPORT} works on the host. The firewall's
 *       input chain then drops new connections that arrive on a bridge for 127.0.0.0/8, which
 *       this setting would otherwise let containers open to the host's loopback services.
 * </ul>
 * Both are per network namespace. Files under /proc/sys/net belong to the network namespace
 * of the thread that opens them, so {@link #apply(Collection)} acts on the namespace of the
 * calling thread; call it after the bridges exist, since their directories appear with them.
 */
public final class FirewallSysctls {
  /** The root of the sysctl files. */
  public static final Path PROC_SYS = Path.of("/proc/sys");

  private FirewallSysctls() {}

  /** The settings for these bridges: path under /proc/sys to value, in the order to write them. */
  public static Map<String, String> settings(Collection<String> bridges) {
    Map<String, String> out = new LinkedHashMap<>();
    out.put("net/ipv4/ip_forward", "1");
    for (String bridge : bridges) {
      FirewallNames.checkInterface(bridge); // it becomes part of a path
      out.put("net/ipv4/conf/" + bridge + "/route_localnet", "1");
    }
    return out;
  }

  /** Writes {@link #settings} under /proc/sys, in the calling thread's network namespace. */
  public static void apply(Collection<String> bridges) {
    apply(PROC_SYS, bridges);
  }

  /**
   * Writes {@link #settings} under {@code procSys}.
   *
   * @throws BerthException FAILED_PRECONDITION naming the file when one cannot be written
   *     (e.g. the bridge does not exist, or /proc/sys is read-only)
   */
  public static void apply(Path procSys, Collection<String> bridges) {
    for (Map.Entry<String, String> e : settings(bridges).entrySet()) {
      Path file = procSys.resolve(e.getKey());
      try {
        Files.writeString(file, e.getValue());
      } catch (IOException ex) {
        throw BerthException.failedPrecondition("cannot set " + file + " to " + e.getValue() + ": " + ex);
      }
    }
  }
}
