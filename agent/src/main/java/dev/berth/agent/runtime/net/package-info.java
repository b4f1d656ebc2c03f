/**
 * Bridge networks for containers, Docker's {@code bridge} driver: the agent's networks
 * ({@link dev.berth.agent.runtime.net.NetworkStore}), addresses
 * ({@link dev.berth.agent.runtime.net.Ipam}), published ports held from create to remove
 * ({@link dev.berth.agent.runtime.net.PortReservations}), and the kernel work: bridges, veth
 * pairs and per-container network namespaces through rtnetlink
 * ({@link dev.berth.agent.runtime.net.Netlink}, {@link dev.berth.agent.runtime.net.NetNamespaces},
 * behind {@link dev.berth.agent.runtime.net.NetworkDriver}), and NAT and isolation through
 * nftables ({@link dev.berth.agent.runtime.net.Firewall}).
 * {@link dev.berth.agent.runtime.net.NetworkManager} ties them together for the runtime.
 *
 * <pre>
 *   create:  network resolved, ports reserved (a taken one is refused here)
 *   start:   address from the Ipam → netns pinned in the container's dir → veth: host end on the
 *            bridge, eth0 inside with address and default route → nft rules rewritten whole
 *            → the launcher joins the pinned netns
 *   exit:    veth deleted, netns unpinned, address released, rules rewritten
 *   remove:  ports released
 * </pre>
 *
 * <p>Everything made in kernel-wide namespaces is named after the agent's prefix (bridges,
 * the nft table) or a hash of prefix and container id (veths), so agents sharing a kernel
 * never touch each other's. The rules and links outlive the agent: containers stay reachable
 * while it restarts. The package depends on the JDK, Jackson and
 * {@link dev.berth.agent.runtime.Syscalls}; it runs {@code nft} as a process.
 */
package dev.berth.agent.runtime.net;
