package dev.berth.ctl;

import dev.berth.proto.v1.Mount;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.ITypeConverter;

/**
 * -v/--volume, --mount and --tmpfs as docker reads them, turned into {@link Mount}s. Errors are
 * {@link IllegalArgumentException}s whose message names the flag, the value and what is accepted.
 */
final class Mounts {
  /** Docker's local volume names (daemon/names): a letter or digit, then letters, digits, _ . -. */
  private static final Pattern VOLUME_NAME = Pattern.compile("[a-zA-Z0-9][a-zA-Z0-9_.-]*");
  /** go-units RAMInBytes: "64m", "1.5g", "1024", "64MiB"; binary multipliers. */
  private static final Pattern SIZE = Pattern.compile("(\\d+(?:\\.\\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?");
  private static final Pattern MODE = Pattern.compile("[0-7]{1,4}");
  /** Stamps the occurrences of all three flags so that they keep their command-line order. */
  private static final AtomicLong SEQUENCE = new AtomicLong();

  private static final String VOLUME_FLAG = "-v/--volume";
  private static final String VOLUME_FORMS = "accepted: [SRC:]DST[:OPTS] with SRC an absolute host path or a volume name, DST an absolute path and OPTS ro or rw";
  private static final String MOUNT_FLAG = "--mount";
  private static final String MOUNT_FORMS = "accepted: type=bind|volume|tmpfs,source=…,target=…,readonly[=true|false],tmpfs-size=SIZE,tmpfs-mode=OCTAL,volume-nocopy";
  private static final String TMPFS_FLAG = "--tmpfs";
  private static final String TMPFS_FORMS = "accepted: PATH[:OPTS] with PATH absolute and OPTS a comma list of size=SIZE, mode=OCTAL, ro, rw";

  private Mounts() {
  }

  enum Kind { VOLUME, MOUNT, TMPFS }

  /** One occurrence of a mount flag, unparsed; {@code seq} orders occurrences across the three flags. */
  record Arg(Kind kind, String value, long seq) {
  }

  static final class VolumeArg implements ITypeConverter<Arg> {
    @Override
    public Arg convert(String value) {
      return new Arg(Kind.VOLUME, value, SEQUENCE.incrementAndGet());
    }
  }

  static final class MountArg implements ITypeConverter<Arg> {
    @Override
    public Arg convert(String value) {
      return new Arg(Kind.MOUNT, value, SEQUENCE.incrementAndGet());
    }
  }

  static final class TmpfsArg implements ITypeConverter<Arg> {
    @Override
    public Arg convert(String value) {
      return new Arg(Kind.TMPFS, value, SEQUENCE.incrementAndGet());
    }
  }

  /** All the flags' mounts in command-line order; a target mounted twice is an error, as in docker. */
  static List<Mount> parse(List<Arg> volumes, List<Arg> mounts, List<Arg> tmpfs) {
    List<Arg> all = new ArrayList<>(volumes);
    all.addAll(mounts);
    all.addAll(tmpfs);
    all.sort((a, b) -> Long.compare(a.seq(), b.seq()));
    List<Mount> out = new ArrayList<>(all.size());
    Set<String> targets = new HashSet<>();
    for (Arg a : all) {
      Mount m = switch (a.kind()) {
        case VOLUME -> volume(a.value());
        case MOUNT -> mount(a.value());
        case TMPFS -> tmpfs(a.value());
      };
      if (!targets.add(clean(m.getTarget()))) {
        throw new IllegalArgumentException("duplicate mount point: " + m.getTarget());
      }
      out.add(m);
    }
    return out;
  }

  /** {@code -v [SRC:]DST[:OPTS]}. */
  static Mount volume(String spec) {
    String[] parts = spec.split(":", -1);
    Mount.Builder m = Mount.newBuilder().setType(Mount.Type.VOLUME);
    String opts = null;
    switch (parts.length) {
      case 1 -> m.setTarget(parts[0]);
      case 2 -> {
        if (isAccessMode(parts[1])) {
          throw invalid(VOLUME_FLAG, spec, "\"" + parts[1] + "\" must follow a source and a target (SRC:DST:" + parts[1] + ")", VOLUME_FORMS);
        }
        m.setSource(parts[0]).setTarget(parts[1]);
      }
      case 3 -> {
        m.setSource(parts[0]).setTarget(parts[1]);
        opts = parts[2];
      }
      default -> throw invalid(VOLUME_FLAG, spec, "too many colons", VOLUME_FORMS);
    }
    if (parts.length > 1 && m.getSource().isEmpty()) {
      throw invalid(VOLUME_FLAG, spec, "the source is empty", VOLUME_FORMS);
    }
    checkTarget(VOLUME_FLAG, spec, m.getTarget(), VOLUME_FORMS);
    if (m.getSource().startsWith("/")) {
      // -v creates a missing host directory, as docker run -v does; --mount refuses one.
      m.setType(Mount.Type.BIND).setCreateHostPath(true);
    } else if (!m.getSource().isEmpty()) {
      checkVolumeName(VOLUME_FLAG, spec, m.getSource());
    }
    if (opts != null) {
      Boolean readOnly = null;
      for (String o : opts.split(",", -1)) {
        if (!isAccessMode(o)) {
          throw invalid(VOLUME_FLAG, spec, "option \"" + o + "\" is not supported", VOLUME_FORMS);
        }
        boolean ro = o.equals("ro");
        if (readOnly != null && readOnly != ro) {
          throw invalid(VOLUME_FLAG, spec, "ro and rw contradict each other", VOLUME_FORMS);
        }
        readOnly = ro;
      }
      m.setReadOnly(readOnly);
    }
    return m.build();
  }

  private static boolean isAccessMode(String s) {
    return s.equals("ro") || s.equals("rw");
  }

  /** {@code --mount type=…,source=…,target=…,…}: docker's CSV fields, keys case-insensitive. */
  static Mount mount(String spec) {
    Mount.Builder m = Mount.newBuilder();
    String type = "volume";
    String source = null;
    String target = null;
    boolean readOnly = false;
    boolean noCopy = false;
    String tmpfsOption = null;
    String size = null;
    String mode = null;
    for (String field : csv(spec)) {
      int eq = field.indexOf('=');
      String key = (eq < 0 ? field : field.substring(0, eq)).trim().toLowerCase(Locale.ROOT);
      String value = eq < 0 ? null : field.substring(eq + 1);
      if (value == null && !key.equals("readonly") && !key.equals("ro") && !key.equals("volume-nocopy")) {
        throw invalid(MOUNT_FLAG, spec, "field \"" + field + "\" must be a key=value pair", MOUNT_FORMS);
      }
      switch (key) {
        case "type" -> type = value.toLowerCase(Locale.ROOT);
        case "source", "src" -> source = value;
        case "target", "dst", "destination" -> target = value;
        case "readonly", "ro" -> {
          if (value == null) {
            readOnly = true;
          } else {
            readOnly = switch (value.toLowerCase(Locale.ROOT)) {
              case "true", "1" -> true;
              case "false", "0" -> false;
              default -> throw invalid(MOUNT_FLAG, spec, "invalid value for " + key + ": \"" + value + "\" (true or false)", MOUNT_FORMS);
            };
          }
        }
        case "volume-nocopy" -> {
          if (value != null && !value.equalsIgnoreCase("true") && !value.equals("1")) {
            throw invalid(MOUNT_FLAG, spec, "invalid value for volume-nocopy: \"" + value + "\" (true)", MOUNT_FORMS);
          }
          noCopy = true;
        }
        case "tmpfs-size" -> {
          size = value;
          tmpfsOption = key;
        }
        case "tmpfs-mode" -> {
          mode = value;
          tmpfsOption = key;
        }
        default -> throw invalid(MOUNT_FLAG, spec, "unknown field \"" + key + "\"", MOUNT_FORMS);
      }
    }
    switch (type) {
      case "volume" -> m.setType(Mount.Type.VOLUME);
      case "bind" -> m.setType(Mount.Type.BIND);
      case "tmpfs" -> m.setType(Mount.Type.TMPFS);
      default -> throw invalid(MOUNT_FLAG, spec, "unknown type \"" + type + "\"", MOUNT_FORMS);
    }
    if (target == null || target.isEmpty()) {
      throw invalid(MOUNT_FLAG, spec, "target is required", MOUNT_FORMS);
    }
    checkTarget(MOUNT_FLAG, spec, target, MOUNT_FORMS);
    m.setTarget(target).setReadOnly(readOnly);
    if (noCopy && !type.equals("volume")) {
      throw invalid(MOUNT_FLAG, spec, "volume-nocopy applies to type=volume only, not type=" + type, MOUNT_FORMS);
    }
    if (tmpfsOption != null && !type.equals("tmpfs")) {
      throw invalid(MOUNT_FLAG, spec, tmpfsOption + " applies to type=tmpfs only, not type=" + type, MOUNT_FORMS);
    }
    switch (m.getType()) {
      case BIND -> {
        if (source == null || source.isEmpty()) {
          throw invalid(MOUNT_FLAG, spec, "type=bind needs a source", MOUNT_FORMS);
        }
        if (!source.startsWith("/")) {
          throw invalid(MOUNT_FLAG, spec, "the bind source \"" + source + "\" must be an absolute host path", MOUNT_FORMS);
        }
        m.setSource(source);
      }
      case VOLUME -> {
        if (source != null && !source.isEmpty()) {
          checkVolumeName(MOUNT_FLAG, spec, source);
          m.setSource(source);
        }
        m.setNoCopy(noCopy);
      }
      case TMPFS -> {
        if (source != null && !source.isEmpty()) {
          throw invalid(MOUNT_FLAG, spec, "type=tmpfs takes no source", MOUNT_FORMS);
        }
        if (size != null) {
          m.setTmpfsSizeBytes(size(MOUNT_FLAG, spec, size, MOUNT_FORMS));
        }
        if (mode != null) {
          m.setTmpfsMode(mode(MOUNT_FLAG, spec, mode, MOUNT_FORMS));
        }
      }
      default -> throw new IllegalStateException();
    }
    return m.build();
  }

  /** {@code --tmpfs PATH[:size=64m,mode=1777,ro|rw]}. */
  static Mount tmpfs(String spec) {
    int colon = spec.indexOf(':');
    String target = colon < 0 ? spec : spec.substring(0, colon);
    checkTarget(TMPFS_FLAG, spec, target, TMPFS_FORMS);
    Mount.Builder m = Mount.newBuilder().setType(Mount.Type.TMPFS).setTarget(target);
    if (colon >= 0) {
      for (String o : spec.substring(colon + 1).split(",", -1)) {
        int eq = o.indexOf('=');
        String key = eq < 0 ? o : o.substring(0, eq);
        String value = eq < 0 ? null : o.substring(eq + 1);
        if (key.equals("size") && value != null) {
          m.setTmpfsSizeBytes(size(TMPFS_FLAG, spec, value, TMPFS_FORMS));
        } else if (key.equals("mode") && value != null) {
          m.setTmpfsMode(mode(TMPFS_FLAG, spec, value, TMPFS_FORMS));
        } else if (isAccessMode(o)) {
          m.setReadOnly(o.equals("ro"));
        } else {
          throw invalid(TMPFS_FLAG, spec, "option \"" + o + "\" is not supported", TMPFS_FORMS);
        }
      }
    }
    return m.build();
  }

  private static void checkTarget(String flag, String spec, String target, String forms) {
    if (target.isEmpty()) {
      throw invalid(flag, spec, "the target path is empty", forms);
    }
    if (!target.startsWith("/")) {
      throw invalid(flag, spec, "the target \"" + target + "\" must be an absolute path in the container", forms);
    }
    if (clean(target).equals("/")) {
      throw invalid(flag, spec, "the target cannot be \"/\"", forms);
    }
  }

  private static void checkVolumeName(String flag, String spec, String name) {
    if (!VOLUME_NAME.matcher(name).matches()) {
      throw invalid(flag, spec, "\"" + name + "\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed."
          + " If you intended to pass a host directory, use absolute path", null);
    }
  }

  /** "/a//b/" → "/a/b", for comparing targets. */
  private static String clean(String path) {
    String p = path.replaceAll("/+", "/");
    return p.length() > 1 && p.endsWith("/") ? p.substring(0, p.length() - 1) : p;
  }

  /** Bytes of a size like go-units' RAMInBytes reads it: k, m, g, t, p are powers of 1024. */
  static long size(String flag, String spec, String value, String forms) {
    Matcher mm = SIZE.matcher(value);
    if (!mm.matches()) {
      throw invalid(flag, spec, "invalid size \"" + value + "\" (a number of bytes, or with a unit: 64m, 1g, 512k)", forms);
    }
    int shift = mm.group(2) == null ? 0 : 10 * ("kmgtp".indexOf(Character.toLowerCase(mm.group(2).charAt(0))) + 1);
    BigDecimal bytes = new BigDecimal(mm.group(1)).multiply(BigDecimal.valueOf(2).pow(shift));
    if (bytes.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
      throw invalid(flag, spec, "size \"" + value + "\" is too large", forms);
    }
    return bytes.longValue();
  }

  /** An octal permission mode such as 1777. */
  static int mode(String flag, String spec, String value, String forms) {
    if (!MODE.matcher(value).matches() || Integer.parseInt(value, 8) == 0) {
      throw invalid(flag, spec, "invalid mode \"" + value + "\" (octal, 1 to 7777, e.g. 1777)", forms);
    }
    return Integer.parseInt(value, 8);
  }

  /** The fields of a CSV record as Go's encoding/csv splits one: commas, double quotes around a field, "" inside. */
  static List<String> csv(String line) {
    List<String> fields = new ArrayList<>();
    StringBuilder f = new StringBuilder();
    boolean quoted = false;
    for (int i = 0; i < line.length(); i++) {
      char c = line.charAt(i);
      if (quoted) {
        if (c == '"' && i + 1 < line.length() && line.charAt(i + 1) == '"') {
          f.append('"');
          i++;
        } else if (c == '"') {
          quoted = false;
        } else {
          f.append(c);
        }
      } else if (c == '"') {
        quoted = true;
      } else if (c == ',') {
        fields.add(f.toString());
        f.setLength(0);
      } else {
        f.append(c);
      }
    }
    if (quoted) {
      throw invalid(MOUNT_FLAG, line, "unterminated quote", MOUNT_FORMS);
    }
    fields.add(f.toString());
    return fields;
  }

  private static IllegalArgumentException invalid(String flag, String spec, String why, String forms) {
    return new IllegalArgumentException("invalid " + flag + " \"" + spec + "\": " + why + (forms == null ? "" : "; " + forms));
  }
}
