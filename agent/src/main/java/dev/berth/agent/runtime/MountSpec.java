package dev.berth.agent.runtime;

/**
 * A file system mounted into a container: a named or anonymous volume, a host path, or a
 * tmpfs. {@code source} is the volume's name (empty for an anonymous one until the runtime
 * names it) or the absolute host path; empty for tmpfs.
 *
 * @param createHostPath a bind mount whose missing source directory is created, as
 *     {@code -v} does (and {@code --mount} does not)
 * @param noCopy a volume that is not filled with the image's files at its target when it is
 *     empty ({@code volume-nocopy})
 */
public record MountSpec(Type type, String source, String target, boolean readOnly, long tmpfsSizeBytes, int tmpfsMode,
    boolean createHostPath, boolean noCopy) {
  public enum Type { VOLUME, BIND, TMPFS }

  public MountSpec {
    source = source == null ? "" : source;
  }

  public MountSpec withSource(String name) {
    return new MountSpec(type, name, target, readOnly, tmpfsSizeBytes, tmpfsMode, createHostPath, noCopy);
  }

  public MountSpec withTarget(String path) {
    return new MountSpec(type, source, path, readOnly, tmpfsSizeBytes, tmpfsMode, createHostPath, noCopy);
  }
}
