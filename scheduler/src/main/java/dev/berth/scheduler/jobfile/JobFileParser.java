package dev.berth.scheduler.jobfile;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.berth.scheduler.model.Affinity;
import dev.berth.scheduler.model.Constraint;
import dev.berth.scheduler.model.HealthCheck;
import dev.berth.scheduler.model.Job;
import dev.berth.scheduler.model.JobType;
import dev.berth.scheduler.model.Operator;
import dev.berth.scheduler.model.PlacementStrategy;
import dev.berth.scheduler.model.PortRequest;
import dev.berth.scheduler.model.ReschedulePolicy;
import dev.berth.scheduler.model.Resources;
import dev.berth.scheduler.model.RestartRules;
import dev.berth.scheduler.model.Spread;
import dev.berth.scheduler.model.TaskGroup;
import dev.berth.scheduler.model.UpdatePolicy;
import dev.berth.scheduler.model.VolumeMount;
import java.io.IOException;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads a job file, YAML or JSON (the same keys either way), strictly: an unknown key, a value of
 * the wrong type or a bad value is refused with its line, column and the reason, and no partial
 * job ever comes out. The keys and their defaults are those of {@code scheduler/README.md}.
 *
 * <p>Jackson's streaming parser is used rather than a databind tree, because only the token
 * stream knows each value's line and column. Stateless and thread-safe; reads only the string it
 * is given.
 */
public final class JobFileParser {

  private static final JsonFactory JSON = new JsonFactory();
  private static final YAMLFactory YAML = new YAMLFactory();

  /** Job, group and port names: what a hostname label or a cgroup name can carry. */
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");

  private static final List<String> JOB_KEYS = List.of("name", "type", "priority", "strategy",
      "groups", "constraints", "spreads", "affinities", "update", "reschedule",
      "stop_after_disconnect", "health");
  private static final List<String> GROUP_KEYS = List.of("name", "count", "image", "command",
      "env", "resources", "ports", "volumes", "constraints", "spreads", "affinities",
      "distinct_hosts", "stop_after_disconnect", "health", "restart");
  private static final List<String> RESOURCE_KEYS = List.of("cpu", "memory", "pids");
  private static final List<String> PORT_KEYS = List.of("name", "host", "to");
  private static final List<String> VOLUME_KEYS = List.of("name", "path", "read_only");
  private static final List<String> CONSTRAINT_KEYS = List.of("attribute", "operator", "value");
  private static final List<String> AFFINITY_KEYS =
      List.of("attribute", "operator", "value", "weight");
  private static final List<String> SPREAD_KEYS = List.of("attribute", "weight", "targets");
  private static final List<String> UPDATE_KEYS =
      List.of("max_parallel", "min_healthy_time", "healthy_deadline", "auto_revert", "order");
  private static final List<String> RESTART_KEYS = List.of("attempts", "interval", "delay", "mode");
  private static final List<String> RESCHEDULE_KEYS = List.of("attempts", "interval", "delay",
      "delay_function", "max_delay", "unlimited");
  private static final List<String> HEALTH_KEYS =
      List.of("cmd", "interval", "timeout", "retries", "start_period");

  /**
   * Resources of a group that names none, as Nomad's: 100 millicores and 300 MiB, enough for a
   * small service, small enough to pack; pids 0 reserves none (the runtime's default limit
   * applies).
   */
  public static final Resources DEFAULT_RESOURCES = new Resources(100, 300L << 20, 0);

  /** A spread's weight when the file gives none: the middle of 1..100, as Nomad's. */
  public static final int DEFAULT_SPREAD_WEIGHT = 50;

  private JobFileParser() {
  }

  /**
   * Parses a job file. JSON when {@code source} ends in {@code .json} or the text starts with
   * {@code {}, YAML otherwise.
   *
   * @param source the file's name as the user gave it (errors start with it)
   * @throws JobFileException on anything wrong, with line and column
   */
  public static JobFile parse(String source, String text) {
    boolean json = source.toLowerCase(Locale.ROOT).endsWith(".json")
        || text.stripLeading().startsWith("{");
    Reader r = new Reader(source);
    Value root;
    try (JsonParser p = (json ? JSON : YAML).createParser(text)) {
      JsonToken t = p.nextToken();
      if (t == null) {
        throw new JobFileException(source, 1, 1, "empty job file");
      }
      root = r.read(p);
      if (p.nextToken() != null) {
        throw r.error(loc(p.currentTokenLocation()), "more than one document in the file");
      }
    } catch (JsonProcessingException e) {
      JsonLocation l = e.getLocation();
      throw new JobFileException(source, l == null ? 0 : l.getLineNr(),
          l == null ? 0 : l.getColumnNr(), "syntax error: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw new JobFileException(source, 0, 0, "cannot read: " + e.getMessage());
    }
    Mapper m = new Mapper(source);
    Job job = m.job(root);
    return new JobFile(source, job, m.locations);
  }

  private static Location loc(JsonLocation l) {
    return new Location(l.getLineNr(), l.getColumnNr());
  }

  // ---- a tree that remembers where each value was

  private sealed interface Value permits Obj, Arr, Scalar {
    Location at();

    String kind();
  }

  private record Field(String key, Location keyAt, Value value) {
  }

  private record Obj(Location at, Map<String, Field> fields) implements Value {
    public String kind() {
      return "a mapping";
    }
  }

  private record Arr(Location at, List<Value> items) implements Value {
    public String kind() {
      return "a list";
    }
  }

  /** A scalar: its token (string, number, boolean, null) and its text as written. */
  private record Scalar(Location at, JsonToken token, String text) implements Value {
    public String kind() {
      return switch (token) {
        case VALUE_STRING -> "a string";
        case VALUE_NUMBER_INT -> "an integer";
        case VALUE_NUMBER_FLOAT -> "a number";
        case VALUE_TRUE, VALUE_FALSE -> "a boolean";
        default -> "null";
      };
    }
  }

  private static final class Reader {
    private final String source;

    Reader(String source) {
      this.source = source;
    }

    Value read(JsonParser p) throws IOException {
      Location at = loc(p.currentTokenLocation());
      JsonToken t = p.currentToken();
      if (t == JsonToken.START_OBJECT) {
        Map<String, Field> fields = new LinkedHashMap<>();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
          String key = p.currentName();
          Location keyAt = loc(p.currentTokenLocation());
          p.nextToken();
          Value v = read(p);
          if (fields.put(key, new Field(key, keyAt, v)) != null) {
            throw error(keyAt, "key \"" + key + "\" given twice");
          }
        }
        return new Obj(at, fields);
      }
      if (t == JsonToken.START_ARRAY) {
        List<Value> items = new ArrayList<>();
        while (p.nextToken() != JsonToken.END_ARRAY) {
          items.add(read(p));
        }
        return new Arr(at, items);
      }
      return new Scalar(at, t, t == JsonToken.VALUE_NULL ? null : p.getText());
    }

    JobFileException error(Location at, String reason) {
      return new JobFileException(source, at.line(), at.column(), reason);
    }
  }

  // ---- from the tree to the model, checking as it goes

  private static final class Mapper {
    private final String source;
    final Map<String, Location> locations = new HashMap<>();

    Mapper(String source) {
      this.source = source;
    }

    JobFileException error(Location at, String reason) {
      return new JobFileException(source, at.line(), at.column(), reason);
    }

    Obj object(Value v, String what) {
      if (v instanceof Obj o) {
        return o;
      }
      throw error(v.at(), what + " must be a mapping, not " + v.kind());
    }

    void keys(Obj o, List<String> known, String where) {
      for (Field f : o.fields().values()) {
        if (!known.contains(f.key())) {
          throw error(f.keyAt(), "unknown key \"" + f.key() + "\" in " + where + " (known: "
              + String.join(", ", known) + ")");
        }
      }
    }

    Job job(Value root) {
      Obj o = object(root, "a job file");
      keys(o, JOB_KEYS, "the job");
      String name = name(o, "name", "the job");
      String where = "job \"" + name + "\"";
      JobType type = JobType.SERVICE;
      Field f = o.fields().get("type");
      if (f != null) {
        String t = string(f, where);
        try {
          type = JobType.valueOf(t.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
          throw error(f.value().at(), "unknown job type \"" + t + "\" (known: service, batch, system)");
        }
      }
      int priority = integer(o, "priority", Job.DEFAULT_PRIORITY, 1, 100, where);
      PlacementStrategy strategy = null;
      f = o.fields().get("strategy");
      if (f != null) {
        String s = string(f, where);
        try {
          strategy = PlacementStrategy.valueOf(s.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
          throw error(f.value().at(), "unknown strategy \"" + s + "\" (known: binpack, spread)");
        }
      }
      List<Constraint> constraints = constraints(o.fields().get("constraints"), where);
      List<Spread> spreads = spreads(o.fields().get("spreads"), where);
      List<Affinity> affinities = affinities(o.fields().get("affinities"), where);
      UpdatePolicy update = update(o.fields().get("update"), where);
      ReschedulePolicy reschedule = reschedule(o.fields().get("reschedule"), type, where);
      // Job-wide defaults for the groups that name none of their own.
      Duration stopAfter = positiveDuration(o, "stop_after_disconnect", where);
      if (stopAfter != null && type == JobType.SYSTEM) {
        throw error(o.fields().get("stop_after_disconnect").keyAt(), "\"stop_after_disconnect\""
            + " is not used by system jobs (their replicas are never placed elsewhere) in " + where);
      }
      HealthCheck health = health(o.fields().get("health"), where);
      f = o.fields().get("groups");
      if (f == null) {
        throw error(o.at(), where + " has no \"groups\"");
      }
      Arr groups = list(f, where);
      if (groups.items().isEmpty()) {
        throw error(f.value().at(), where + " has no task groups");
      }
      List<TaskGroup> out = new ArrayList<>();
      Map<String, Location> seen = new HashMap<>();
      for (Value g : groups.items()) {
        TaskGroup group = group(g, type, where, stopAfter, health);
        if (seen.put(group.name(), g.at()) != null) {
          throw error(g.at(), "task group \"" + group.name() + "\" appears twice in " + where);
        }
        out.add(group);
      }
      return new Job(name, type, priority, strategy, out, constraints, spreads, affinities,
          update, reschedule, false);
    }

    TaskGroup group(Value v, JobType type, String jobWhere, Duration jobStopAfter,
        HealthCheck jobHealth) {
      Obj o = object(v, "a task group");
      Field nf = o.fields().get("name");
      String name = nf == null ? null : string(nf, "a task group of " + jobWhere);
      String where = name == null ? "a task group of " + jobWhere : "task group \"" + name + "\"";
      keys(o, GROUP_KEYS, where);
      name = name(o, "name", where);
      String path = "groups." + name;
      locations.put(path, o.at());
      int count;
      if (type == JobType.SYSTEM) {
        Field c = o.fields().get("count");
        if (c != null) {
          throw error(c.keyAt(), "\"count\" is not used by system jobs (one replica runs on "
              + "every eligible node) in " + where);
        }
        count = 1;
      } else {
        count = integer(o, "count", 1, 0, 100_000, where);
      }
      Field img = o.fields().get("image");
      if (img == null) {
        throw error(o.at(), where + " has no \"image\"");
      }
      String image = string(img, where);
      if (image.isBlank() || image.chars().anyMatch(Character::isWhitespace)) {
        throw error(img.value().at(), "bad image reference \"" + image + "\" in " + where);
      }
      List<String> command = new ArrayList<>();
      Field cf = o.fields().get("command");
      if (cf != null) {
        for (Value item : list(cf, where).items()) {
          command.add(scalarText(item, "command", where));
        }
      }
      Map<String, String> env = new LinkedHashMap<>();
      Field ef = o.fields().get("env");
      if (ef != null) {
        Obj eo = object(ef.value(), "\"env\" in " + where);
        for (Field e : eo.fields().values()) {
          if (e.key().isEmpty() || e.key().contains("=")) {
            throw error(e.keyAt(), "bad environment variable name \"" + e.key() + "\" in " + where);
          }
          env.put(e.key(), scalarText(e.value(), "env " + e.key(), where));
        }
      }
      Resources resources = resources(o.fields().get("resources"), path, where);
      List<PortRequest> ports = ports(o.fields().get("ports"), where);
      List<VolumeMount> volumes = volumes(o.fields().get("volumes"), where);
      List<Constraint> constraints = constraints(o.fields().get("constraints"), where);
      List<Spread> spreads = spreads(o.fields().get("spreads"), where);
      List<Affinity> affinities = affinities(o.fields().get("affinities"), where);
      boolean distinct = bool(o, "distinct_hosts", false, where);
      Duration stopAfter = o.fields().containsKey("stop_after_disconnect")
          ? positiveDuration(o, "stop_after_disconnect", where) : jobStopAfter;
      if (stopAfter != null && type == JobType.SYSTEM) {
        throw error(o.fields().get("stop_after_disconnect").keyAt(), "\"stop_after_disconnect\""
            + " is not used by system jobs (their replicas are never placed elsewhere) in " + where);
      }
      HealthCheck health = o.fields().containsKey("health")
          ? health(o.fields().get("health"), where) : jobHealth;
      RestartRules restart = restart(o.fields().get("restart"), type, where);
      return new TaskGroup(name, count, image, command, env, resources, ports, volumes,
          constraints, spreads, affinities, distinct, stopAfter, health, restart);
    }

    Resources resources(Field f, String path, String where) {
      if (f == null) {
        return DEFAULT_RESOURCES;
      }
      Obj o = object(f.value(), "\"resources\" in " + where);
      keys(o, RESOURCE_KEYS, "the resources of " + where);
      locations.put(path + ".resources", f.keyAt());
      long cpu = DEFAULT_RESOURCES.cpuMillis();
      long mem = DEFAULT_RESOURCES.memoryBytes();
      long pids = DEFAULT_RESOURCES.pids();
      Field c = o.fields().get("cpu");
      if (c != null) {
        locations.put(path + ".resources.cpu", c.keyAt());
        cpu = cpu(c.value(), where);
      }
      Field m = o.fields().get("memory");
      if (m != null) {
        locations.put(path + ".resources.memory", m.keyAt());
        mem = size(m.value(), where);
      }
      Field p = o.fields().get("pids");
      if (p != null) {
        locations.put(path + ".resources.pids", p.keyAt());
        pids = integer(o, "pids", 0, 0, Integer.MAX_VALUE, where);
      }
      return new Resources(cpu, mem, pids);
    }

    private static final Pattern SIZE =
        Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([kmgtp]?)(i?b?)", Pattern.CASE_INSENSITIVE);

    /** Bytes from 268435456, "512m", "512Mi", "1g", "1.5GiB": binary units, as Docker's -m. */
    long size(Value v, String where) {
      String text = scalarText(v, "memory", where).trim();
      Matcher mm = SIZE.matcher(text);
      if (!(v instanceof Scalar s) || s.token() == JsonToken.VALUE_TRUE
          || s.token() == JsonToken.VALUE_FALSE || !mm.matches()) {
        throw error(v.at(), "bad memory size \"" + text + "\" in " + where
            + " (expected e.g. 512m, 1g, 268435456)");
      }
      int shift = switch (mm.group(2).toLowerCase(Locale.ROOT)) {
        case "k" -> 10;
        case "m" -> 20;
        case "g" -> 30;
        case "t" -> 40;
        case "p" -> 50;
        default -> 0;
      };
      BigDecimal bytes = new BigDecimal(mm.group(1)).multiply(BigDecimal.valueOf(1L << shift));
      if (bytes.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
        throw error(v.at(), "memory size \"" + text + "\" too large in " + where);
      }
      return bytes.longValue();
    }

    private static final Pattern CPU = Pattern.compile("(\\d+(?:\\.\\d+)?)(m?)");

    /** Millicores from 0.5 or "0.5" (cores), 2 (cores), or "500m" (millicores). */
    long cpu(Value v, String where) {
      String text = scalarText(v, "cpu", where).trim();
      Matcher mm = CPU.matcher(text);
      if (!(v instanceof Scalar s) || s.token() == JsonToken.VALUE_TRUE
          || s.token() == JsonToken.VALUE_FALSE || !mm.matches()) {
        throw error(v.at(), "bad cpu \"" + text + "\" in " + where
            + " (expected cores such as 0.5 or 2, or millicores such as 500m)");
      }
      BigDecimal n = new BigDecimal(mm.group(1));
      BigDecimal millis = mm.group(2).isEmpty() ? n.multiply(BigDecimal.valueOf(1000)) : n;
      if (millis.stripTrailingZeros().scale() > 0) {
        throw error(v.at(), "cpu \"" + text + "\" in " + where
            + " is finer than a millicore");
      }
      if (millis.compareTo(BigDecimal.valueOf(1_000_000_000L)) > 0) {
        throw error(v.at(), "cpu \"" + text + "\" too large in " + where);
      }
      return millis.longValueExact();
    }

    private static final Pattern PORT_SHORT = Pattern.compile("(?:(\\d+):)?(\\d+)");

    List<PortRequest> ports(Field f, String where) {
      if (f == null) {
        return List.of();
      }
      List<PortRequest> out = new ArrayList<>();
      Map<String, Boolean> labels = new HashMap<>();
      int i = 0;
      for (Value item : list(f, where).items()) {
        PortRequest p;
        if (item instanceof Obj o) {
          keys(o, PORT_KEYS, "a port of " + where);
          String label = o.fields().containsKey("name") ? name(o, "name", "a port of " + where)
              : "port" + i;
          int host = integer(o, "host", 0, 1, 65535, where);
          int to = integer(o, "to", 0, 1, 65535, where);
          p = new PortRequest(label, host, to);
        } else {
          String text = scalarText(item, "ports", where);
          Matcher m = PORT_SHORT.matcher(text.trim());
          if (!m.matches()) {
            throw error(item.at(), "bad port \"" + text + "\" in " + where
                + " (expected HOST:CONTAINER for a fixed host port, CONTAINER for a dynamic one,"
                + " or a mapping with name, host, to)");
          }
          int host = m.group(1) == null ? 0 : portNumber(m.group(1), item, where);
          int to = portNumber(m.group(2), item, where);
          p = new PortRequest("port" + i, host, to);
        }
        if (labels.put(p.label(), true) != null) {
          throw error(item.at(), "port name \"" + p.label() + "\" used twice in " + where);
        }
        if (!p.dynamic() && out.stream().anyMatch(q -> q.fixed() == p.fixed())) {
          throw error(item.at(), "host port " + p.fixed() + " asked for twice in " + where);
        }
        out.add(p);
        i++;
      }
      return out;
    }

    int portNumber(String digits, Value at, String where) {
      long n = digits.length() > 6 ? Long.MAX_VALUE : Long.parseLong(digits);
      if (n < 1 || n > 65535) {
        throw error(at.at(), "port " + digits + " out of range (1..65535) in " + where);
      }
      return (int) n;
    }

    List<VolumeMount> volumes(Field f, String where) {
      if (f == null) {
        return List.of();
      }
      List<VolumeMount> out = new ArrayList<>();
      for (Value item : list(f, where).items()) {
        String name;
        String path;
        boolean ro = false;
        if (item instanceof Obj o) {
          keys(o, VOLUME_KEYS, "a volume of " + where);
          name = name(o, "name", "a volume of " + where);
          Field pf = o.fields().get("path");
          if (pf == null) {
            throw error(o.at(), "a volume of " + where + " has no \"path\"");
          }
          path = string(pf, where);
          ro = bool(o, "read_only", false, where);
        } else {
          String text = scalarText(item, "volumes", where);
          String[] parts = text.split(":");
          if (parts.length < 2 || parts.length > 3 || !NAME.matcher(parts[0]).matches()
              || (parts.length == 3 && !parts[2].equals("ro") && !parts[2].equals("rw"))) {
            throw error(item.at(), "bad volume \"" + text + "\" in " + where
                + " (expected NAME:/PATH or NAME:/PATH:ro)");
          }
          name = parts[0];
          path = parts[1];
          ro = parts.length == 3 && parts[2].equals("ro");
        }
        if (!path.startsWith("/")) {
          throw error(item.at(), "volume path \"" + path + "\" in " + where
              + " is not absolute");
        }
        out.add(new VolumeMount(name, path, ro));
      }
      return out;
    }

    List<Constraint> constraints(Field f, String where) {
      if (f == null) {
        return List.of();
      }
      List<Constraint> out = new ArrayList<>();
      for (Value item : list(f, where).items()) {
        Obj o = object(item, "a constraint of " + where);
        keys(o, CONSTRAINT_KEYS, "a constraint of " + where);
        Operator op = operator(o, where);
        String attribute = requiredString(o, "attribute", "a constraint of " + where);
        String value = optionalValue(o, op, where);
        try {
          out.add(new Constraint(attribute, op, value));
        } catch (IllegalArgumentException e) {
          throw error(item.at(), e.getMessage() + " in a constraint of " + where);
        }
      }
      return out;
    }

    List<Affinity> affinities(Field f, String where) {
      if (f == null) {
        return List.of();
      }
      List<Affinity> out = new ArrayList<>();
      for (Value item : list(f, where).items()) {
        Obj o = object(item, "an affinity of " + where);
        keys(o, AFFINITY_KEYS, "an affinity of " + where);
        Operator op = operator(o, where);
        String attribute = requiredString(o, "attribute", "an affinity of " + where);
        String value = optionalValue(o, op, where);
        Field wf = o.fields().get("weight");
        if (wf == null) {
          throw error(o.at(), "an affinity of " + where + " has no \"weight\" (-100..100)");
        }
        int weight = integer(o, "weight", 0, -100, 100, where);
        if (weight == 0) {
          throw error(wf.value().at(), "affinity weight must not be 0 (-100..100) in " + where);
        }
        try {
          out.add(new Affinity(attribute, op, value, weight));
        } catch (IllegalArgumentException e) {
          throw error(item.at(), e.getMessage() + " in an affinity of " + where);
        }
      }
      return out;
    }

    List<Spread> spreads(Field f, String where) {
      if (f == null) {
        return List.of();
      }
      List<Spread> out = new ArrayList<>();
      for (Value item : list(f, where).items()) {
        Obj o = object(item, "a spread of " + where);
        keys(o, SPREAD_KEYS, "a spread of " + where);
        String attribute = requiredString(o, "attribute", "a spread of " + where);
        int weight = integer(o, "weight", DEFAULT_SPREAD_WEIGHT, 1, 100, where);
        List<Spread.SpreadTarget> targets = new ArrayList<>();
        Field tf = o.fields().get("targets");
        if (tf != null) {
          Obj to = object(tf.value(), "\"targets\" of a spread of " + where);
          for (Field t : to.fields().values()) {
            if (!(t.value() instanceof Scalar s) || s.token() != JsonToken.VALUE_NUMBER_INT) {
              throw error(t.value().at(), "target \"" + t.key() + "\" of a spread of " + where
                  + " must be an integer percentage, not " + t.value().kind());
            }
            int pct = intValue(s, 0, 100, "target \"" + t.key() + "\"", where);
            targets.add(new Spread.SpreadTarget(t.key(), pct));
          }
        }
        try {
          out.add(new Spread(attribute, weight, targets));
        } catch (IllegalArgumentException e) {
          throw error(item.at(), e.getMessage() + " in a spread of " + where);
        }
      }
      return out;
    }

    UpdatePolicy update(Field f, String where) {
      if (f == null) {
        return UpdatePolicy.DEFAULT;
      }
      Obj o = object(f.value(), "\"update\" in " + where);
      keys(o, UPDATE_KEYS, "\"update\" of " + where);
      UpdatePolicy d = UpdatePolicy.DEFAULT;
      int maxParallel = integer(o, "max_parallel", d.maxParallel(), 1, 10_000, where);
      Duration minHealthy = duration(o, "min_healthy_time", d.minHealthyTime(), where);
      Duration deadline = duration(o, "healthy_deadline", d.healthyDeadline(), where);
      boolean revert = bool(o, "auto_revert", d.autoRevert(), where);
      UpdatePolicy.Order order = d.order();
      Field of = o.fields().get("order");
      if (of != null) {
        String text = string(of, where);
        order = UpdatePolicy.Order.parse(text);
        if (order == null) {
          throw error(of.value().at(), "unknown update order \"" + text + "\" in " + where
              + " (known: stop-first, start-first)");
        }
      }
      try {
        return new UpdatePolicy(maxParallel, minHealthy, deadline, revert, order);
      } catch (IllegalArgumentException e) {
        throw error(f.value().at(), e.getMessage() + " in \"update\" of " + where);
      }
    }

    /** Absent keys take the job type's defaults (Nomad's), not those of another type. */
    ReschedulePolicy reschedule(Field f, JobType type, String where) {
      ReschedulePolicy d = ReschedulePolicy.defaultFor(type);
      if (f == null) {
        return d;
      }
      Obj o = object(f.value(), "\"reschedule\" in " + where);
      keys(o, RESCHEDULE_KEYS, "\"reschedule\" of " + where);
      int attempts = integer(o, "attempts", d.attempts(), 0, 10_000, where);
      Duration interval = duration(o, "interval", d.interval(), where);
      Duration delay = duration(o, "delay", d.delay(), where);
      ReschedulePolicy.DelayFunction function = d.delayFunction();
      Field ff = o.fields().get("delay_function");
      if (ff != null) {
        String text = string(ff, where);
        try {
          function = ReschedulePolicy.DelayFunction.valueOf(text.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
          throw error(ff.value().at(), "unknown delay_function \"" + text + "\" in " + where
              + " (known: constant, exponential, fibonacci)");
        }
      }
      Duration maxDelay = duration(o, "max_delay", d.maxDelay(), where);
      if (!o.fields().containsKey("max_delay") && maxDelay.compareTo(delay) < 0) {
        maxDelay = delay; // a delay longer than the default cap is the cap
      }
      // Naming attempts means counting them, unless the file says unlimited too.
      boolean unlimited = bool(o, "unlimited",
          d.unlimited() && !o.fields().containsKey("attempts"), where);
      if (!unlimited && attempts > 0 && interval.isZero()) {
        interval = d.interval().isZero() ? Duration.ofHours(1) : d.interval();
      }
      try {
        return new ReschedulePolicy(attempts, interval, delay, function, maxDelay, unlimited);
      } catch (IllegalArgumentException e) {
        throw error(f.value().at(), e.getMessage() + " in \"reschedule\" of " + where);
      }
    }

    /**
     * {@code restart: {attempts, interval, delay, mode: fail|delay}}; absent keys take the job
     * type's defaults; null when the group has no block (the type's defaults apply where it runs).
     */
    RestartRules restart(Field f, JobType type, String where) {
      if (f == null) {
        return null;
      }
      RestartRules d = RestartRules.defaultFor(type);
      Obj o = object(f.value(), "\"restart\" in " + where);
      keys(o, RESTART_KEYS, "\"restart\" of " + where);
      int attempts = integer(o, "attempts", d.attempts(), 0, 10_000, where);
      Duration interval = o.fields().containsKey("interval")
          ? positiveDuration(o, "interval", where) : d.interval();
      Duration delay = o.fields().containsKey("delay") ? positiveDuration(o, "delay", where) : d.delay();
      RestartRules.Mode mode = d.mode();
      Field mf = o.fields().get("mode");
      if (mf != null) {
        String text = string(mf, where);
        try {
          mode = RestartRules.Mode.valueOf(text.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
          throw error(mf.value().at(), "unknown restart mode \"" + text + "\" in " + where
              + " (known: fail, delay)");
        }
      }
      if (delay != null && delay.compareTo(interval) >= 0 && attempts > 0) {
        throw error(f.value().at(), "\"delay\" (" + delay.toMillis() + " ms) must be shorter than"
            + " \"interval\" (" + interval.toMillis() + " ms) in \"restart\" of " + where);
      }
      try {
        return new RestartRules(attempts, interval, delay, mode);
      } catch (IllegalArgumentException e) {
        throw error(f.value().at(), e.getMessage() + " in \"restart\" of " + where);
      }
    }

    /** {@code health: {cmd: [ARGS…] | "SHELL COMMAND", interval, timeout, retries, start_period}}. */
    HealthCheck health(Field f, String where) {
      if (f == null) {
        return null;
      }
      Obj o = object(f.value(), "\"health\" in " + where);
      keys(o, HEALTH_KEYS, "\"health\" of " + where);
      Field cf = o.fields().get("cmd");
      if (cf == null) {
        throw error(o.at(), "\"health\" of " + where + " has no \"cmd\"");
      }
      List<String> command = new ArrayList<>();
      boolean shell;
      if (cf.value() instanceof Arr a) {
        for (Value item : a.items()) {
          command.add(scalarText(item, "cmd", where));
        }
        if (command.isEmpty()) {
          throw error(cf.value().at(), "\"cmd\" of the health check of " + where + " is empty");
        }
        shell = false;
      } else {
        String text = string(cf, where);
        if (text.isBlank()) {
          throw error(cf.value().at(), "\"cmd\" of the health check of " + where + " is empty");
        }
        command.add(text);
        shell = true;
      }
      Duration interval = positiveDuration(o, "interval", where);
      Duration timeout = positiveDuration(o, "timeout", where);
      int retries = integer(o, "retries", HealthCheck.DEFAULT_RETRIES, 1, 100, where);
      Duration start = duration(o, "start_period", Duration.ZERO, where);
      return new HealthCheck(command, shell,
          interval == null ? HealthCheck.DEFAULT_INTERVAL : interval,
          timeout == null ? HealthCheck.DEFAULT_TIMEOUT : timeout, retries, start);
    }

    /** A duration that must be more than zero, or null when the key is absent. */
    Duration positiveDuration(Obj o, String key, String where) {
      Field f = o.fields().get(key);
      if (f == null) {
        return null;
      }
      Duration d = duration(o, key, null, where);
      if (d.isZero()) {
        throw error(f.value().at(), "\"" + key + "\" in " + where + " must be more than 0");
      }
      return d;
    }

    private static final Pattern DURATION = Pattern.compile("(\\d+)(ms|s|m|h)");

    Duration duration(Obj o, String key, Duration dflt, String where) {
      Field f = o.fields().get(key);
      if (f == null) {
        return dflt;
      }
      String text = string(f, where);
      Matcher m = DURATION.matcher(text.trim());
      if (!m.matches()) {
        throw error(f.value().at(), "bad duration \"" + text + "\" for \"" + key + "\" in "
            + where + " (expected e.g. 500ms, 10s, 5m, 1h)");
      }
      long n = Long.parseLong(m.group(1));
      return switch (m.group(2)) {
        case "ms" -> Duration.ofMillis(n);
        case "s" -> Duration.ofSeconds(n);
        case "m" -> Duration.ofMinutes(n);
        default -> Duration.ofHours(n);
      };
    }

    Operator operator(Obj o, String where) {
      Field f = o.fields().get("operator");
      if (f == null) {
        return Operator.EQ;
      }
      String text = string(f, where);
      try {
        return Operator.parse(text);
      } catch (IllegalArgumentException e) {
        throw error(f.value().at(), e.getMessage() + " in " + where);
      }
    }

    String optionalValue(Obj o, Operator op, String where) {
      Field f = o.fields().get("value");
      if (f == null) {
        if (op.needsValue()) {
          throw error(o.at(), "operator " + op.symbol() + " needs a \"value\" in " + where);
        }
        return "";
      }
      return scalarText(f.value(), "value", where);
    }

    // ---- scalars

    String name(Obj o, String key, String where) {
      String s = requiredString(o, key, where);
      if (!NAME.matcher(s).matches()) {
        throw error(o.fields().get(key).value().at(), "bad name \"" + s + "\" for " + where
            + " (letters, digits, '.', '_', '-'; at most 63; starting with a letter or digit)");
      }
      return s;
    }

    String requiredString(Obj o, String key, String where) {
      Field f = o.fields().get(key);
      if (f == null) {
        throw error(o.at(), where + " has no \"" + key + "\"");
      }
      return string(f, where);
    }

    String string(Field f, String where) {
      if (f.value() instanceof Scalar s && s.token() == JsonToken.VALUE_STRING) {
        return s.text();
      }
      throw error(f.value().at(), "\"" + f.key() + "\" in " + where + " must be a string, not "
          + f.value().kind());
    }

    /** Any non-null scalar's text as written: env values, constraint values, command words. */
    String scalarText(Value v, String key, String where) {
      if (v instanceof Scalar s && s.token() != JsonToken.VALUE_NULL) {
        return s.text();
      }
      throw error(v.at(), "\"" + key + "\" in " + where + " must be a single value, not "
          + v.kind());
    }

    Arr list(Field f, String where) {
      if (f.value() instanceof Arr a) {
        return a;
      }
      throw error(f.value().at(), "\"" + f.key() + "\" in " + where + " must be a list, not "
          + f.value().kind());
    }

    int integer(Obj o, String key, int dflt, int min, int max, String where) {
      Field f = o.fields().get(key);
      if (f == null) {
        return dflt;
      }
      if (!(f.value() instanceof Scalar s) || s.token() != JsonToken.VALUE_NUMBER_INT) {
        throw error(f.value().at(), "\"" + key + "\" in " + where + " must be an integer, not "
            + f.value().kind());
      }
      return intValue(s, min, max, "\"" + key + "\"", where);
    }

    int intValue(Scalar s, int min, int max, String what, String where) {
      BigDecimal n = new BigDecimal(s.text().replace("_", ""));
      if (n.compareTo(BigDecimal.valueOf(min)) < 0 || n.compareTo(BigDecimal.valueOf(max)) > 0) {
        throw error(s.at(), what + " in " + where + " is " + s.text() + ", out of range ("
            + min + ".." + max + ")");
      }
      return n.intValue();
    }

    boolean bool(Obj o, String key, boolean dflt, String where) {
      Field f = o.fields().get(key);
      if (f == null) {
        return dflt;
      }
      if (f.value() instanceof Scalar s
          && (s.token() == JsonToken.VALUE_TRUE || s.token() == JsonToken.VALUE_FALSE)) {
        return s.token() == JsonToken.VALUE_TRUE;
      }
      throw error(f.value().at(), "\"" + key + "\" in " + where + " must be true or false, not "
          + f.value().kind());
    }
  }
}
