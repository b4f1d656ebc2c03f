/**
 * The container runtime of one host: decides a container's rootfs, cgroups, namespaces,
 * process, user, capabilities and seccomp profile, writes them into a launcher config, and
 * talks to each container's shim (the native {@code berth-launcher}) over its socket.
 *
 * <pre>
 *   create: image config + request → ContainerConfig → containers/&lt;short id&gt;/state.json
 *   start:  overlay mount → cgroups → launch.conf → berth-launcher run → shim → container
 *   exit:   shim writes exit.json → ShimWatcher → exit recorded, mount and cgroup released
 * </pre>
 *
 * <p>Every native call goes through {@link dev.berth.agent.runtime.Syscalls}. Depends on the
 * JDK, Jackson, {@code agent.image} and {@code agent.runtime.cgroup}; never on gRPC.
 */
package dev.berth.agent.runtime;
