package dev.berth.scheduler.model;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A set of identical replicas of one container.
 *
 * @param name          unique in the job
 * @param count         how many replicas (ignored for system jobs: one per eligible node)
 * @param image         image reference
 * @param command       the command, or empty for the image's
 * @param env           environment variables
 * @param resources     what each replica needs
 * @param ports         host ports each replica needs
 * @param volumes       host-local named volumes each replica mounts
 * @param constraints   hard requirements (the job's apply too)
 * @param spreads       spread preferences (the job's apply too)
 * @param affinities    soft preferences (the job's apply too)
 * @param distinctHosts at most one replica of this group per node
 * @param stopAfterDisconnect a node that cannot reach the servers for this long stops its
 *                      replicas of this group (they are placed elsewhere meanwhile); null: never
 * @param health        the health check each replica runs; null: none
 * @param restart       how its container is restarted on its node before the node gives up on
 *                      it; null: the job type's default ({@link RestartRules#defaultFor})
 */
public record TaskGroup(String name, int count, String image, List<String> command,
    Map<String, String> env, Resources resources, List<PortRequest> ports,
    List<VolumeMount> volumes, List<Constraint> constraints, List<Spread> spreads,
    List<Affinity> affinities, boolean distinctHosts, Duration stopAfterDisconnect,
    HealthCheck health, RestartRules restart) {

  public TaskGroup {
    Objects.requireNonNull(name, "name");
    if (count < 0) {
      throw new IllegalArgumentException("count " + count + " must not be negative");
    }
    Objects.requireNonNull(image, "image");
    command = List.copyOf(command == null ? List.of() : command);
    env = Map.copyOf(env == null ? Map.of() : env);
    Objects.requireNonNull(resources, "resources");
    ports = List.copyOf(ports == null ? List.of() : ports);
    volumes = List.copyOf(volumes == null ? List.of() : volumes);
    constraints = List.copyOf(constraints == null ? List.of() : constraints);
    spreads = List.copyOf(spreads == null ? List.of() : spreads);
    affinities = List.copyOf(affinities == null ? List.of() : affinities);
    if (stopAfterDisconnect != null
        && (stopAfterDisconnect.isZero() || stopAfterDisconnect.isNegative())) {
      throw new IllegalArgumentException("stop_after_disconnect must be positive");
    }
  }

  /** A group with the job type's restart rules. */
  public TaskGroup(String name, int count, String image, List<String> command,
      Map<String, String> env, Resources resources, List<PortRequest> ports,
      List<VolumeMount> volumes, List<Constraint> constraints, List<Spread> spreads,
      List<Affinity> affinities, boolean distinctHosts, Duration stopAfterDisconnect,
      HealthCheck health) {
    this(name, count, image, command, env, resources, ports, volumes, constraints, spreads,
        affinities, distinctHosts, stopAfterDisconnect, health, null);
  }

  /** A group without stop_after_disconnect and health check. */
  public TaskGroup(String name, int count, String image, List<String> command,
      Map<String, String> env, Resources resources, List<PortRequest> ports,
      List<VolumeMount> volumes, List<Constraint> constraints, List<Spread> spreads,
      List<Affinity> affinities, boolean distinctHosts) {
    this(name, count, image, command, env, resources, ports, volumes, constraints, spreads,
        affinities, distinctHosts, null, null, null);
  }

  /** A group with only what placement needs; the rest empty. */
  public static TaskGroup of(String name, int count, String image, Resources resources) {
    return new TaskGroup(name, count, image, List.of(), Map.of(), resources, List.of(), List.of(),
        List.of(), List.of(), List.of(), false, null, null, null);
  }

  public TaskGroup withCount(int count) {
    return new TaskGroup(name, count, image, command, env, resources, ports, volumes, constraints,
        spreads, affinities, distinctHosts, stopAfterDisconnect, health, restart);
  }

  public TaskGroup withStopAfterDisconnect(Duration d) {
    return new TaskGroup(name, count, image, command, env, resources, ports, volumes, constraints,
        spreads, affinities, distinctHosts, d, health, restart);
  }

  public TaskGroup withHealth(HealthCheck h) {
    return new TaskGroup(name, count, image, command, env, resources, ports, volumes, constraints,
        spreads, affinities, distinctHosts, stopAfterDisconnect, h, restart);
  }

  public TaskGroup withImage(String image) {
    return new TaskGroup(name, count, image, command, env, resources, ports, volumes, constraints,
        spreads, affinities, distinctHosts, stopAfterDisconnect, health, restart);
  }

  public TaskGroup withRestart(RestartRules r) {
    return new TaskGroup(name, count, image, command, env, resources, ports, volumes, constraints,
        spreads, affinities, distinctHosts, stopAfterDisconnect, health, r);
  }
}
