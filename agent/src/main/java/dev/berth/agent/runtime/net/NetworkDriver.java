package dev.berth.agent.runtime.net;

import java.nio.file.Path;

/**
 * The kernel side of bridge networks: bridges, per-container network namespaces and veth
 * pairs. {@link NetworkManager} decides names and addresses and calls this to carry them out;
 * {@link LinuxNetworkDriver} does it through netlink, a recording fake does it in memory for
 * unit tests, and one contract suite keeps the two alike.
 *
 * <p>Every method is idempotent where the name says so, so that an agent that died halfway
 * can finish or undo the work after a restart. Implementations are thread-safe.
 */
public interface NetworkDriver {
  /**
   * Makes sure the bridge {@code name} exists, carries {@code gateway/prefixLength} and is up.
   * A bridge left by an earlier run is reused; an address it has beyond the gateway stays.
   */
  void ensureBridge(String name, String gateway, int prefixLength);

  /** Removes the bridge; nothing to do when it does not exist. */
  void deleteBridge(String name);

  /** Whether an interface of this name exists in the agent's network namespace. */
  boolean linkExists(String name);

  /**
   * Creates a container's network: a new network namespace pinned at {@code netns} (a file
   * that must not exist yet), a veth pair with {@code hostVeth} attached to {@code bridge} and
   * up, and its peer {@code eth0} inside the namespace with {@code ip/prefixLength}, the MAC
   * address {@code mac}, up, and a default route via {@code gateway}; {@code lo} is up too.
   * On failure everything it made is undone before the exception leaves.
   */
  void createSandbox(Path netns, String bridge, String hostVeth, String ip, int prefixLength, String gateway,
      String mac);

  /**
   * Undoes {@link #createSandbox}: deletes the veth pair (which takes the container's end
   * with it) and unpins and removes the namespace file. Each part that is already gone is
   * skipped, so this may be called any number of times.
   */
  void deleteSandbox(Path netns, String hostVeth);
}
