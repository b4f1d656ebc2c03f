package dev.berth.scheduler.model;

/**
 * One port of a placed allocation: the host port chosen for it and the container port it maps
 * to.
 *
 * @param label   the task group's name for the port ("http")
 * @param host    the host port, 1..65535
 * @param to      the container port, or 0 for "the same as the host port"
 * @param dynamic whether the scheduler chose the host port (true) or the job fixed it
 */
public record PortMapping(String label, int host, int to, boolean dynamic) {
}
