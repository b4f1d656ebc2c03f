package dev.berth.agent.registry;

import java.util.ArrayList;
import java.util.List;

/**
 * What a test opened, closed in reverse order at its end: every one is closed even when an
 * earlier close fails, and the first failure is rethrown.
 */
final class Closer implements AutoCloseable {
  private final List<AutoCloseable> opened = new ArrayList<>();

  <T extends AutoCloseable> T open(T closeable) {
    opened.add(closeable);
    return closeable;
  }

  @Override
  public void close() throws Exception {
    Exception first = null;
    for (int i = opened.size() - 1; i >= 0; i--) {
      try {
        opened.get(i).close();
      } catch (Exception e) {
        first = first == null ? e : first;
      }
    }
    opened.clear();
    if (first != null) {
      throw first;
    }
  }
}
