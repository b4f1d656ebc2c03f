/**
 * What an agent tells Prometheus, and the live views built on the same readings: the
 * per-container statistics under cAdvisor's metric names and labels (read from the cgroups and
 * from each container's network namespace when scraped, with a short cache; a scrape keeps each
 * running container's files open until it exits), the agent's own
 * meters (gRPC requests by method and status, pulls, container starts, containers by state,
 * cluster members by state, the JVM), the {@code /metrics} endpoint that serves them, and the
 * readers behind {@code berth stats}, {@code berth top} and {@code berth system df}.
 *
 * <p>Depends on the runtime's read-only views (container views, its container events, {@link
 * dev.berth.agent.runtime.cgroup.Cgroups#stats}), on gRPC for the interceptor and on
 * Micrometer with its Prometheus registry. It never changes a container, and nothing in the
 * runtime depends on it. {@code /proc} and the cgroup root are {@link java.nio.file.Path}s, so
 * tests point them at fixture trees.
 */
package dev.berth.agent.metrics;
