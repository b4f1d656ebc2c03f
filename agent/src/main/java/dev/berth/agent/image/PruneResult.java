package dev.berth.agent.image;

import java.util.List;

/**
 * What {@link ImageStore#prune} did.
 *
 * @param deletedImages the ids of the images deleted
 * @param reclaimedBytes the bytes of the blobs and snapshots deleted
 */
public record PruneResult(List<String> deletedImages, long reclaimedBytes) {
  public PruneResult {
    deletedImages = List.copyOf(deletedImages);
  }
}
