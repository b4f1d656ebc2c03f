package dev.berth.agent.image;

/**
 * Bounds on one layer, which is hostile input: a layer with more entries, or more bytes
 * (the uncompressed tar stream, or the file content written from it), is refused with
 * RESOURCE_EXHAUSTED naming the limit.
 *
 * @param maxEntries tar entries of all kinds, whiteouts included
 * @param maxBytes bytes of the uncompressed tar stream, and bytes of file content written
 */
public record LayerLimits(long maxEntries, long maxBytes) {
  /** One million entries and 64 GiB: far above real images, well below a full disk. */
  public static final LayerLimits DEFAULT = new LayerLimits(1_000_000, 64L << 30);

  public LayerLimits {
    if (maxEntries <= 0 || maxBytes <= 0) {
      throw new IllegalArgumentException("layer limits must be positive: " + maxEntries + " entries, " + maxBytes + " bytes");
    }
  }
}
