package dev.berth.scheduler.model;

import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * One host as the scheduler sees it: its admin state from the replicated store (labels,
 * eligibility, drain) and its facts from gossip (readiness, attributes, capacity, the images and
 * host-local volumes it holds).
 *
 * @param id         stable identity, unique in the cluster
 * @param name       what people call it (hostname); explanations show it
 * @param labels     admin-set key/values (e.g. {@code zone=a}); constraints say {@code label.KEY}
 * @param attributes facts the agent reports (e.g. {@code kernel.version=6.1.0},
 *                   {@code os=linux}); constraints say {@code attr.KEY}
 * @param capacity   what allocations may use in total (the host's total minus what is reserved
 *                   for the system and berthd)
 * @param ready      the servers hear from it; a node that is not ready takes no new work
 * @param eligible   an admin has not marked it ineligible for scheduling
 * @param draining   being drained: no new work; its allocations are moved by the caller
 * @param images     image references and digests the node holds (from gossip), for locality
 * @param volumes    names of the host-local named volumes on the node
 */
public record Node(String id, String name, Map<String, String> labels,
    Map<String, String> attributes, Resources capacity, boolean ready, boolean eligible,
    boolean draining, Set<String> images, Set<String> volumes) {

  public Node {
    Objects.requireNonNull(id, "id");
    name = name == null ? id : name;
    labels = Map.copyOf(labels == null ? Map.of() : labels);
    attributes = Map.copyOf(attributes == null ? Map.of() : attributes);
    Objects.requireNonNull(capacity, "capacity");
    images = Set.copyOf(images == null ? Set.of() : images);
    volumes = Set.copyOf(volumes == null ? Set.of() : volumes);
  }

  /** A ready, eligible, not draining node: one that may take new allocations. */
  public boolean schedulable() {
    return ready && eligible && !draining;
  }

  /**
   * The value a constraint, affinity or spread names, or null when the node has none:
   * {@code label.KEY}, {@code attr.KEY}, {@code node.id}, {@code node.name}.
   */
  public String property(String target) {
    if (target.startsWith("label.")) {
      return labels.get(target.substring(6));
    }
    if (target.startsWith("attr.")) {
      return attributes.get(target.substring(5));
    }
    return switch (target) {
      case "node.id" -> id;
      case "node.name" -> name;
      default -> null;
    };
  }

  /** Whether a constraint target names something a node can have (see {@link #property}). */
  public static boolean isPropertyTarget(String target) {
    return (target.startsWith("label.") && target.length() > 6)
        || (target.startsWith("attr.") && target.length() > 5)
        || target.equals("node.id") || target.equals("node.name");
  }

  public Node withDraining(boolean draining) {
    return new Node(id, name, labels, attributes, capacity, ready, eligible, draining, images,
        volumes);
  }

  public Node withReady(boolean ready) {
    return new Node(id, name, labels, attributes, capacity, ready, eligible, draining, images,
        volumes);
  }
}
