package dev.berth.scheduler.score;

import dev.berth.scheduler.GroupContext;
import dev.berth.scheduler.Scorer;
import dev.berth.scheduler.model.NodeTable;

/**
 * Prefers nodes that already hold the group's image (known from gossip): 1 when the node lists
 * the image's reference or its digest, else 0. A warm node starts the replica without a pull.
 * Each node is asked once per snapshot (the snapshot's {@link NodeTable.Holding}), not once per
 * placement.
 */
public final class ImageLocalityScorer implements Scorer {

  private final double weight;

  public ImageLocalityScorer(double weight) {
    this.weight = weight;
  }

  @Override
  public String name() {
    return "image";
  }

  @Override
  public boolean isNodeLocal() {
    return true;
  }

  @Override
  public double weight() {
    return weight;
  }

  @Override
  public NodeScore prepare(GroupContext group) {
    String image = group.group().image();
    int at = image.indexOf('@');
    String digest = at >= 0 ? image.substring(at + 1) : null;
    NodeTable.Holding held = group.table().image(image, digest);
    return node -> held.test(node) ? 1 : 0;
  }
}
