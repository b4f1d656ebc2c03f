package dev.berth.agent.events;

import dev.berth.agent.BerthException;
import dev.berth.agent.image.ImageRecord;
import dev.berth.agent.image.Reference;
import dev.berth.agent.image.RemoveResult;
import dev.berth.agent.registry.Puller;
import java.util.List;
import java.util.Map;

/**
 * This host's image events, as Docker names them: pull, tag, untag, delete, import, load. The
 * puller tells of pulls ({@link Puller.Pulled}, whoever pulled: a user, a job's allocation); the
 * image API of the rest, after the store did it. References are in their familiar form
 * ({@code busybox:latest}). Thread-safe.
 */
public final class ImageEvents implements Puller.Pulled {
  /** Records nothing. */
  public static final ImageEvents NONE = new ImageEvents("", EventSink.NONE);

  private final String node;
  private final EventSink sink;

  /** @param node this agent's node name, where the events happen */
  public ImageEvents(String node, EventSink sink) {
    this.node = node;
    this.sink = sink;
  }

  @Override
  public void pulled(String reference, ImageRecord image) {
    record("pull", image.id(), reference);
  }

  public void tagged(ImageRecord image, String reference) {
    record("tag", image.id(), familiar(reference));
  }

  public void imported(ImageRecord image, String reference) {
    record("import", image.id(), familiar(reference));
  }

  public void loaded(ImageRecord image) {
    List<String> tags = image.repoTags();
    record("load", image.id(), tags.isEmpty() ? image.id() : familiar(tags.get(0)));
  }

  /** {@code docker rmi}: an untag for each name removed, a delete when the image {@code id} went with them. */
  public void removed(String id, RemoveResult r) {
    for (String ref : r.untagged()) {
      record("untag", id, familiar(ref));
    }
    if (!r.deleted().isEmpty() && r.deleted().get(0).equals(id)) {
      deleted(id);
    }
  }

  public void deleted(String id) {
    record("delete", id, id);
  }

  private void record(String action, String id, String name) {
    sink.record(Event.of(Event.IMAGE, action, id, name, node, Map.of()));
  }

  private static String familiar(String reference) {
    try {
      return Reference.parse(reference).familiar();
    } catch (BerthException e) {
      return reference;
    }
  }
}
