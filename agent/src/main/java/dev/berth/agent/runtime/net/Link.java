package dev.berth.agent.runtime.net;

/**
 * A network interface of one namespace, as rtnetlink reports it.
 *
 * @param index the kernel's interface index, unique within the namespace
 * @param name at most 15 bytes
 * @param masterIndex the index of the bridge (or other master) it is attached to; 0 when none
 * @param kind the driver kind ("bridge", "veth" …); empty for one without (lo, most hardware)
 * @param up whether it is administratively up (IFF_UP), whatever its carrier
 * @param mtu its MTU in bytes
 * @param mac its hardware address as {@code 02:42:0a:d5:00:02}; empty when it has none
 */
public record Link(int index, String name, int masterIndex, String kind, boolean up, int mtu, String mac) {}
