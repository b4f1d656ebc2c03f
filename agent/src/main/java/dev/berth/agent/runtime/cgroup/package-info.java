/**
 * Linux control groups for Berth's containers: creating a container's cgroup with its memory,
 * CPU and pids limits and its device rules, reading its usage, freezing and thawing it (commit pauses a
 * container), and killing and removing it, on cgroup v1 (one
 * hierarchy per controller) and v2 (the unified hierarchy) alike.
 *
 * <p>Statistics are read for scrapes of every container every few seconds, so {@link
 * dev.berth.agent.runtime.cgroup.Cgroups#usageFiles} keeps a cgroup's files open between readings
 * and reads each with one positional read ({@link dev.berth.agent.runtime.cgroup.StatFile}), within
 * a process-wide {@link dev.berth.agent.runtime.cgroup.DescriptorBudget} sized by RLIMIT_NOFILE;
 * the files are parsed from bytes, without a String per line or per number.
 *
 * <p>{@link dev.berth.agent.runtime.cgroup.Cgroups#detect} picks the version from the cgroup
 * root. Every class takes that root as a {@link java.nio.file.Path}, so tests point it at a
 * directory of fixture files. The package depends only on the JDK and
 * {@link dev.berth.agent.runtime.Syscalls} (kill, and bpf for v2 device rules); the agent's processes join a cgroup by
 * writing their pid into it themselves (the launcher does that for containers).
 */
package dev.berth.agent.runtime.cgroup;
