package dev.berth.agent.runtime;

/**
 * A file system mounted into a container: a named or anonymous volume, a host path, or a
 * tmpfs. {@code source} is the volume's name (empty for an anonymous one until the runtime
 * names it) or the absolute host path; empty for tmpfs.
 */
public record MountSpec(Type type, String source, String target, boolean readOnly, long tmpfsSizeBytes, int tmpfsMode) {
  public enum Type { VOLUME, BIND, TMPFS }

  public MountSpec {
    source = source == null ? "" : source;
  }

  public MountSpec withSource(String name) {
    return new MountSpec(type, name, target, readOnly, tmpfsSizeBytes, tmpfsMode);
  }
}
