package dev.berth.agent.runtime.cgroup;

import java.util.function.Function;

/**
 * The files of one cgroup that {@link Cgroups#usage} reads, kept open between readings (see
 * {@link StatFile}) for a caller that reads the same cgroup again and again: a scrape of every
 * container every few seconds. {@link #read} gives exactly what {@link Cgroups#usage} gives for
 * the cgroup at that moment, for the price of a positional read per file instead of an open, a
 * read and a close.
 *
 * <p>A cgroup that does not exist (yet, or any more) reads as zeros, as with {@link
 * Cgroups#usage}; one removed and created again under the same path is read anew. The
 * descriptors come from the {@link DescriptorBudget} given to {@link Cgroups#usageFiles}; a file
 * that found it spent is read afresh each time. {@link #close} gives them back: the owner closes
 * it when the container is gone or its cgroup is no longer this one.
 *
 * <p>Thread-safe; readings from several threads are serialised file by file.
 */
public final class CgroupUsageFiles implements AutoCloseable {
  private final String relPath;
  private final StatFile[] files;
  private final Function<StatFile[], CgroupStats> parse;

  CgroupUsageFiles(String relPath, StatFile[] files, Function<StatFile[], CgroupStats> parse) {
    this.relPath = relPath;
    this.files = files;
    this.parse = parse;
  }

  /** The cgroup these files are of, as given to {@link Cgroups#usageFiles}. */
  public String relPath() {
    return relPath;
  }

  /** Its usage now; see {@link Cgroups#usage}. */
  public CgroupStats read() {
    return parse.apply(files);
  }

  /** How many of its files are held open now. */
  public int openFiles() {
    int n = 0;
    for (StatFile f : files) {
      if (f.isOpen()) {
        n++;
      }
    }
    return n;
  }

  /**
   * Closes every descriptor held and gives it back. A {@link #read} after this one still reads,
   * with an open, a read and a close of each file, keeping nothing.
   */
  @Override
  public void close() {
    for (StatFile f : files) {
      f.close();
    }
  }

  @Override
  public String toString() {
    return relPath + " (" + openFiles() + " of " + files.length + " files open)";
  }
}
