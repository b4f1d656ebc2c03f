package dev.berth.agent.image;

import java.util.List;

/**
 * What {@code docker rmi} did.
 *
 * @param untagged the normalized references removed
 * @param deleted the id of the image deleted (if it was), then the diff ids of the layers
 *     whose snapshot went with it because no other image uses them
 */
public record RemoveResult(List<String> untagged, List<String> deleted) {
  public RemoveResult {
    untagged = List.copyOf(untagged);
    deleted = List.copyOf(deleted);
  }
}
